"""Write an export's run summary (run_summary.py) into the workspace, right after the model database commit."""

from __future__ import annotations

from pathlib import Path
from typing import Tuple

from ..common.atomic import atomic_path, dumps_json
from ..common.errors import StepError, WriteFailure
from .run_summary import RunSummary, metrics_document, report_markdown, summary_files


def write_run_summary(data_path: Path, summary: RunSummary) -> Tuple[Path, ...]:
    """The report and the metrics JSON into the workspace, each by rename (steps/common/atomic.py).

    Both are written in full before the first rename, and the two renames follow each other, so a reader
    never sees a partial file and practically never a report from one export beside metrics from another.
    Not a publish.Staging unit: that is the model database's, on another claim, and its commit
    checkpoints must stay the commit's. Written after that commit, so they describe a finished export;
    a failure here is a StepError saying the models were published."""
    report, metrics = summary_files(data_path, summary.pipeline)
    texts = (report_markdown(summary), dumps_json(metrics_document(summary)))
    try:
        with atomic_path(report) as staged_report, atomic_path(metrics) as staged_metrics:
            staged_report.write_text(texts[0], encoding="utf-8")
            staged_metrics.write_text(texts[1], encoding="utf-8")
    except WriteFailure as failure:
        raise StepError(f"the models were published, but the run summary was not: {failure}") from None
    return (report, metrics)
