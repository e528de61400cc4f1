"""The step command lines of a local run: the same flags and values the pipeline passes (pipeline.py).

Pure: parameters in, (step, argv) pairs out. Unset values are passed as "" exactly as the
orchestrators pass them, so a local run exercises the same command lines as a cluster run. The
pipeline's optional `--token-file`/`--ca-file` (files of a Secret/ConfigMap) have no flag here:
PROM_TOKEN_FILE, PROM_TOKEN and PROM_CA_FILE in the environment reach the query step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

# Name of the query JSON handed from query to train (pipeline.py uses the same).
QUERY_OUTPUT = "kepler_query"


@dataclass(frozen=True)
class RunParameters:
    """The pipeline parameters, named as in pipeline.py; "" means not set."""

    benchmark: str = ""
    prom_url: str = ""
    collect_id: str = ""
    pipeline_name: str = ""
    collect_date: str = ""
    start_time: str = ""
    end_time: str = ""
    interval: str = ""
    step: str = ""
    publisher: str = ""
    model_db: str = ""  # the kepler-model-db `models` folder (export -o)


def step_commands(p: RunParameters) -> List[Tuple[str, List[str]]]:
    """(step, arguments after `kepler-model <step>`) for query, train and export, in order."""
    return [
        (
            "query",
            [
                "--benchmark",
                p.benchmark,
                "--server",
                p.prom_url,
                "--output",
                QUERY_OUTPUT,
                "--start-time",
                p.start_time,
                "--end-time",
                p.end_time,
                "--interval",
                p.interval,
                "--step",
                p.step,
                "--id",
                p.collect_id,
            ],
        ),
        ("train", ["--pipeline-name", p.pipeline_name, "--input", QUERY_OUTPUT, "--id", p.collect_id]),
        (
            "export",
            [
                "--benchmark",
                p.benchmark,
                "--collect-date",
                p.collect_date,
                "--pipeline-name",
                p.pipeline_name,
                "-o",
                p.model_db,
                "--publisher",
                p.publisher,
                "--zip=true",
            ],
        ),
    ]
