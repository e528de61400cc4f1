"""The validation table of query.md §8 and the printed summary: pure functions over series statistics."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ..common.domain import ENERGY_SOURCES, SOURCE_ORDER
from ..common.kepler_metrics import Generation
from .matrix import Labels, SeriesStats

COLUMNS = ("pod", "scenarioID", "query", "count", ">0", "total")
POD_LABEL = "pod_name"
SOURCE_LABEL = "source"

SeriesSummary = Tuple[Labels, SeriesStats]
Summaries = Mapping[str, Sequence[SeriesSummary]]


@dataclass(frozen=True)
class Row:
    """One row of the validation table (query.md §8)."""

    pod: str
    scenario: str
    query: str
    count: int
    positive: int
    total: float | int


def _total(series: Sequence[SeriesSummary]) -> Tuple[int, int, float | int]:
    stats = SeriesStats()
    for _, item in series:
        stats.add(item)
    return stats.count, stats.positive, (float(stats.maximum) if stats.count and stats.maximum is not None else 0)


def benchmark_series(series: Sequence[SeriesSummary], benchmark: str) -> Tuple[Sequence[SeriesSummary], bool]:
    """Only the series whose pod_name contains the benchmark name, when there are any."""
    chosen = [item for item in series if benchmark and benchmark in (item[0].get(POD_LABEL) or "")]
    return (chosen, True) if chosen else (series, False)


def validation_rows(
    summaries: Summaries, benchmark: str, generation: Generation, vm: bool = False
) -> Tuple[List[Row], bool]:
    """Rows in the order of query.md §8, and whether any container metric was filtered by pod name."""
    rows: List[Row] = []
    filtered_any = False
    for metric in sorted(name for name in summaries if "container" in name):
        series, filtered = benchmark_series(summaries[metric], benchmark)
        filtered_any |= filtered
        rows.append(Row(benchmark, "", metric, *_total(series)))
    rows += zone_rows(summaries, generation, vm) if generation.zone_energy is not None else []
    for source in SOURCE_ORDER if generation.zone_energy is None else ():
        for component in ENERGY_SOURCES[source].components:
            metric = generation.energy_metric(component, vm=vm)
            series = [
                item
                for item in summaries.get(metric, ())
                if vm or generation.source_of(item[0].get(SOURCE_LABEL)) == source
            ]
            rows.append(Row("", source, metric, *_total(series)))
    for metric in sorted(name for name in summaries if "container" not in name and "_joules" not in name):
        rows.append(Row(benchmark, "", metric, *_total(summaries[metric])))
    return rows, filtered_any


def zone_rows(summaries: Summaries, generation: Generation, vm: bool = False) -> List[Row]:
    """Kepler 0.10 energy rows (kepler-010.md §2.1): each zone's total counter, `<metric>{zone="<zone>"}`,
    under its source, every zone of the table in component order (a zone without series: zeros)."""
    zones = generation.zone_energy
    if zones is None:
        return []
    metric = generation.energy_metric(zones.components[0], vm=vm)
    rows = []
    for zone, _ in zones.zones:
        series = [item for item in summaries.get(metric, ()) if item[0].get(zones.zone_label) == zone]
        rows.append(Row("", zones.source, f'{metric}{{{zones.zone_label}="{zone}"}}', *_total(series)))
    return rows


def rows_csv(rows: Sequence[Row]) -> str:
    """The CSV text as pandas writes it: unnamed index column, ints plain, floats in repr, missing total 0."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("",) + COLUMNS)
    for index, row in enumerate(rows):
        writer.writerow((index, row.pod, row.scenario, row.query, row.count, row.positive, repr(row.total)))
    return buffer.getvalue()


def rows_markdown(rows: Sequence[Row], title: str) -> str:
    """The same table as Markdown (the run page's view of it): a title line, then one row per CSV row.

    Cells as in the CSV; an empty `pod`/`scenarioID` is shown as `-`, and `|` in a query is escaped."""
    lines = [f"# {title}", "", "| # | " + " | ".join(COLUMNS) + " |", "|" + "---|" * (len(COLUMNS) + 1)]
    for index, row in enumerate(rows):
        cells = (row.pod or "-", row.scenario or "-", row.query, row.count, row.positive, repr(row.total))
        lines.append(f"| {index} | " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def usage_pods(summaries: Summaries, metric: Optional[str], pods: Sequence[str]) -> Tuple[int, int, int]:
    """For one CPU-usage metric: pods with no data, with only zeros, with valid (non-zero) data."""
    per_pod: Dict[str, SeriesStats] = {}
    for labels, stats in summaries.get(metric, ()) if metric else ():
        per_pod.setdefault(labels.get(POD_LABEL) or "", SeriesStats()).add(stats)
    none = zeros = valid = 0
    for pod in pods:
        stats = per_pod.get(pod)
        if stats is None or stats.count == 0:
            none += 1
        elif stats.positive == 0:
            zeros += 1
        else:
            valid += 1
    return none, zeros, valid


def summary_lines(
    summaries: Summaries, rows: Sequence[Row], filtered: bool, benchmark: str, generation: Generation
) -> List[str]:
    """Human-readable summary (not a stable interface)."""
    series_count = sum(len(items) for items in summaries.values())
    points = sum(stats.count for items in summaries.values() for _, stats in items)
    lines = [
        f"metrics: {len(summaries)}, series: {series_count}, points: {points}",
        (
            f"pods filtered by the benchmark name {benchmark!r}"
            if filtered
            else f"no pod_name contains {benchmark!r}: counting all pods"
        ),
    ]
    lines.append(f"{'scenarioID':<20} {'query':<55} {'count':>10} {'>0':>10}")
    for row in rows:
        lines.append(f"{row.scenario or '-':<20} {row.query:<55} {row.count:>10} {row.positive:>10}")
    pods = sorted(
        {
            labels.get(POD_LABEL) or ""
            for metric, items in summaries.items()
            if "container" in metric
            for labels, _ in benchmark_series(items, benchmark)[0]
        }
        - {""}
    )
    usage = (
        ("cgroup", generation.cgroup_cpu),
        ("hwc", generation.feature_metric("cpu_instructions")),
        ("bpf", generation.cpu_time_metric),
    )
    for kind, metric in usage:
        none, zeros, valid = usage_pods(summaries, metric, pods)
        lines.append(
            f"{kind} CPU usage ({metric or 'not in this generation'}): {len(pods)} pods: "
            f"{none} no data, {zeros} only zeros, {valid} valid"
        )
    for source in SOURCE_ORDER:
        nonzero = sum(row.positive for row in rows if row.scenario == source)
        if any(row.count for row in rows if row.scenario == source):
            lines.append(f"power from {source}: {nonzero} non-zero samples")
    return lines
