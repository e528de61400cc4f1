"""The Markdown files of an export, as pure text builders (export.md §7).

No file access: callers pass what the texts show and write the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .. import MODEL_FORMAT_VERSION
from ..common.domain import OUTPUT_TYPES
from ..common.machine_spec import ATTRIBUTES

VERSION_TABLE_COLUMNS = "pipeline|collect time|last update time|publisher|models"
VERSION_TABLE_SEPARATOR = "---|---|---|---|---|"
SELECTED_NOTE = "MAE and MAPE: {}, by which models were selected; Split MAE and MAPE: the held-out test split's."
REPORT_SOURCES = ("acpi", "hmc", "rapl-msr", "rapl-sysfs", "redfish", "trained_power_model")  # §7.4: alphabetical


def shortest(number: float) -> str:
    """`10`, `7.5`: a threshold as a person would write it."""
    number = float(number)
    return str(int(number)) if number.is_integer() else repr(number)


def cell(value: Any) -> str:
    """A node attribute as stored in node_type_index.json; unknown values (None, "", 0) print empty."""
    if value is None or value == "" or (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0):
        return ""
    return str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A `| a | b |` table with a `| --- |` separator (no trailing newline)."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------ §7.1 version table


def version_row(
    pipeline: str, collect_time: str, last_update_time: str, publisher: str, note: Optional[str] = None
) -> str:
    """The pipeline's row of the version table (export.md §7.1); `note` (the errors models were selected
    by, when not the split's) follows the link in the last cell, so the row keeps its five cells."""
    return (
        f"[{pipeline}](./.doc/{pipeline}.md)|{collect_time}|{last_update_time}|"
        f"[{publisher}](https://github.com/{publisher})|[link](./{pipeline})" + (f" ({note})" if note else "")
    )


def version_readme_header(version: str) -> str:
    """The head of a new version README: title and table header."""
    return f"# {version} Build\n\n{VERSION_TABLE_COLUMNS}\n{VERSION_TABLE_SEPARATOR}\n"


def _first_cell(line: str) -> Optional[str]:
    return line.split("|", 1)[0].strip() if "|" in line else None


def _is_table_header(line: str) -> bool:
    wanted = VERSION_TABLE_COLUMNS.replace(" ", "").lower()
    return line.strip().strip("|").replace(" ", "").lower() == wanted


def upsert_version_row(existing: Optional[str], version: str, pipeline: str, row: str) -> str:
    """The version README with the pipeline's row replaced in place or appended after the table's last row.

    Every other line is kept byte for byte; a missing file starts from the header, a file without
    the table gets the table header appended.
    """
    if existing is None:
        return version_readme_header(version) + row + "\n"
    lines = existing.splitlines(keepends=True)
    marker = f"[{pipeline}]("
    for position, line in enumerate(lines):
        first = _first_cell(line)
        if first is not None and first.startswith(marker):
            ending = line[len(line.rstrip("\r\n")) :]
            lines[position] = row + (ending or "")
            return "".join(lines)
    header_at = next((i for i, line in enumerate(lines) if _is_table_header(line)), None)
    if header_at is None:
        text = existing
        if text and not text.endswith("\n"):
            text += "\n"
        if text and not text.endswith("\n\n"):
            text += "\n"
        return text + f"{VERSION_TABLE_COLUMNS}\n{VERSION_TABLE_SEPARATOR}\n{row}\n"
    last = header_at + 1 if header_at + 1 < len(lines) else header_at
    for position in range(header_at + 2, len(lines)):
        if lines[position].strip() == "" or "|" not in lines[position]:
            break
        last = position
    if not lines[last].endswith("\n"):
        lines[last] += "\n"
    lines.insert(last + 1, row + "\n")
    return "".join(lines)


# ------------------------------------------------------------------ §7.2 pipeline page


def workload_name(item: str) -> str:
    """`stressng_kepler_query` and `stressng.json` both name the workload `stressng`."""
    name = item.rsplit("/", 1)[-1]
    if "." in name:
        name = name.rsplit(".", 1)[0]
    if name.endswith("_kepler_query"):
        name = name[: -len("_kepler_query")]
    return name


def _bullets(names: Sequence[str]) -> List[str]:
    return [f"  - {name}" for name in names] if names else ["  (none)"]


def pipeline_page(
    pipeline: str,
    extractor: str,
    isolator: str,
    abs_trainers: Sequence[str],
    dyn_trainers: Sequence[str],
    workloads: Sequence[Tuple[str, Optional[str]]],
    selected_by: Optional[str] = None,
) -> str:
    """The hand-editable page `.doc/<pipeline>.md`; `workloads` = (name, window file text or None);
    `selected_by` (families.Selection.sentence) becomes a Components bullet."""
    lines = [
        f"# Pipeline {pipeline}",
        "",
        "## Description",
        "",
        "<-- put pipeline description here -->",
        "",
        "## Components",
        "",
        f"- **Extractor:** {extractor}",
        f"- **Isolator:** {isolator}",
        *([f"- **Selected by:** {selected_by}"] if selected_by else []),
        "- **AbsPower Trainers:**",
        "",
    ]
    lines += _bullets(abs_trainers)
    lines += ["", "- **DynPower Trainers:**", ""]
    if list(dyn_trainers) == list(abs_trainers) and dyn_trainers:
        lines.append("  (same as AbsPower Trainers)")
    else:
        lines += _bullets(dyn_trainers)
    lines += ["", "## Workload information"]
    for name, window_text in workloads:
        lines += ["", f"### {name}", "", "<-- put workload description here -->"]
        if window_text is not None:
            lines += ["", "<details>", "", window_text.strip(), "", "</details>"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ §7.3 pipeline README


@dataclass(frozen=True)
class NodeTypeLine:
    """One node type of the pipeline README: its number, machine attributes and member count."""

    node_type: int
    attrs: Mapping[str, Any]
    members: int


def pipeline_readme(
    pipeline: str,
    mae_threshold: float,
    mape_threshold: float,
    node_types: Sequence[NodeTypeLine],
    metadata_plots: Sequence[str],
    power_curves: Sequence[Tuple[str, str, str]],
    build: str = f"v{MODEL_FORMAT_VERSION}",
    generation: Optional[str] = None,
    selected_by: Optional[str] = None,
    sections: Sequence[str] = (),
) -> str:
    """`<pipeline>/README.md`; `metadata_plots` are file names in display order, `power_curves`
    (source, output type, file name) likewise. `build` ends the title; `generation` (0.10 on: the
    Kepler generation and zones) follows it; `selected_by` follows the thresholds; `sections`
    (negligible components, fit plots) end the file."""
    rows = [
        [str(n.node_type)]
        + [cell(n.attrs.get(a)) for a in ATTRIBUTES]
        + [str(n.members), f"[link](./error_report/node_type_{n.node_type}.md)"]
        for n in node_types
    ]
    blocks = [
        f"# {pipeline} on {build} Build",
        *([generation] if generation else []),
        f"MAE Threshold = {shortest(mae_threshold)}, MAPE Threshold = {shortest(mape_threshold)}%",
        *([selected_by] if selected_by else []),
        f"Available Node Type: {len(node_types)}",
    ]
    if metadata_plots:
        blocks.append("\n".join(f"![]({name})" for name in metadata_plots))
    blocks.append(
        table(["node type", "processor", "cores", "chips", "memory", "frequency", "member size", "error report"], rows)
    )
    if power_curves:
        blocks.append("\n".join(f"## {source} ({ot})\n![]({name})" for source, ot, name in power_curves))
    blocks += [section for section in sections if section]
    return "\n\n".join(blocks) + "\n"


def negligible_section(found: Mapping[Tuple[str, str], Mapping[str, Sequence[str]]]) -> str:
    """README section naming, per (source, feature group), the components an exported model found
    negligible (families.negligible_components); empty text when there are none."""
    if not found:
        return ""
    lines = [
        "## Negligible components",
        "",
        "Their measured power never reaches the MAPE floor: their MAPE is -1 and they are judged by MAE alone.",
        "",
    ]
    for (source, group), components in found.items():
        said = "; ".join(
            f"{component}: {' and '.join(types)} negligible, judged by MAE alone"
            for component, types in components.items()
        )
        lines.append(f"- {source} {group}: {said}")
    return "\n".join(lines)


def fit_section(entries: Sequence[Any], none_because: Optional[str] = None) -> str:
    """README section of the fit plots (fit_report.FitEntry, in report order): an image per best model,
    or why it has none; with `none_because` (no model has out-of-fold predictions) that one line."""
    if not entries:
        return ""
    lines = ["## Fit of the best models", ""]
    if none_because:
        return "\n".join(lines + [f"No fit plots: {none_because}."])
    lines += [
        "Out-of-fold predictions of cross-validation for the best model (by the selected error) of each feature "
        "group and node type: predicted and measured power over time (left), predicted - measured against "
        "load (right), one row per component.",
    ]
    current = None
    for entry in entries:
        if (entry.source, entry.output_type) != current:
            current = (entry.source, entry.output_type)
            lines += ["", f"### {entry.source} ({entry.output_type})"]
        label = f"{entry.feature_group}, node type {entry.node_type} ({entry.model_name})"
        if entry.plot is not None:
            lines += ["", f"{label}:", "", f"![]({entry.plot})"]
        else:
            lines += ["", f"{label}: no plot, {entry.reason}."]
    return "\n".join(lines)


def onnx_section(paths: Sequence[str]) -> str:
    """README section listing the exported models' ONNX files (paths relative to the pipeline folder);
    empty text when there are none."""
    if not paths:
        return ""
    lines = [
        "## ONNX models",
        "",
        "Each model below is also one ONNX graph: input `features` (float64, [N, F], the model's feature order, "
        "in its metadata `features`), one float64 [N, 1] output per component, in watts. See the repository "
        'README, "Serving the models with ONNX".',
        "",
    ]
    return "\n".join(lines + [f"- [{path}](./{path})" for path in paths])


# ------------------------------------------------------------------ §7.4 error report


@dataclass(frozen=True)
class ReportLine:
    """One best model of an error report: group, model, errors (the family models were selected by,
    `--select-by`) and link; `split_*` are the held-out split's errors, shown beside other families."""

    feature_group: str
    model_name: str
    mae: float
    mape: float
    url: str
    split_mae: Optional[float] = None
    split_mape: Optional[float] = None


def _number(value: Optional[float], digits: int) -> str:
    return "" if value is None or value != value else f"{value:.{digits}f}"


def _report_section(
    title: str, lines: Mapping[Tuple[str, str], Sequence[ReportLine]], split_columns: bool = False
) -> List[str]:
    blocks = [f"## {title}"]
    for source in REPORT_SOURCES:
        for output_type in OUTPUT_TYPES:
            blocks.append(f"### {source} {output_type} model")
            found = sorted(lines.get((source, output_type), ()), key=lambda line: line.feature_group)
            if not found:
                blocks.append("No model available")
                continue
            # Split columns go after the URL: readers of the five kepler-model-db columns find them in place.
            extra = ["Split MAE", "Split MAPE (%)"] if split_columns else []
            blocks.append(
                table(
                    ["Feature group", "Model name", "MAE", "MAPE (%)", "URL"] + extra,
                    [
                        [line.feature_group, line.model_name, f"{line.mae:.2f}", f"{line.mape:.1f}", line.url]
                        + ([_number(line.split_mae, 2), _number(line.split_mape, 1)] if split_columns else [])
                        for line in found
                    ],
                )
            )
    return blocks


def error_report(
    node_type: int,
    attrs: Mapping[str, Any],
    local: Mapping[Tuple[str, str], Sequence[ReportLine]],
    sidecar: Mapping[Tuple[str, str], Sequence[ReportLine]],
    generation: Optional[str] = None,
    selected_by: Optional[str] = None,
) -> str:
    """`error_report/node_type_<n>.md`: the node's attributes, then local-best and sidecar-best tables;
    `generation` (0.10 on: the Kepler generation and zones) follows the title. `selected_by` (errors
    other than the split's) is said under it, and the tables add the split errors after the URL."""
    blocks = [
        f"# Validation results on node type {node_type}",
        *([generation] if generation else []),
        *([SELECTED_NOTE.format(selected_by)] if selected_by else []),
        table(list(ATTRIBUTES), [[cell(attrs.get(a)) for a in ATTRIBUTES]]),
        "[With local estimator](#with-local-estimator)",
        "[With sidecar estimator](#with-sidecar-estimator)",
    ]
    blocks += _report_section("With local estimator", local, selected_by is not None)
    blocks += _report_section("With sidecar estimator", sidecar, selected_by is not None)
    return "\n\n".join(blocks) + "\n"


def model_url(
    base_url: str,
    version: str,
    pipeline: str,
    source: str,
    output_type: str,
    group: str,
    model_name: str,
    extension: str,
) -> str:
    """The published address of a model file in kepler-model-db."""
    return f"{base_url}/{version}/{pipeline}/{source}/{output_type}/{group}/{model_name}.{extension}"


def unique(names: Sequence[str]) -> List[str]:
    """Each name once, in order of first appearance (kepler-model-server repeated them)."""
    seen: Dict[str, None] = {}
    for name in names:
        seen.setdefault(str(name), None)
    return list(seen)
