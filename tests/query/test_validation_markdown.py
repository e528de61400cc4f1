"""The validation table as Markdown (`<output>_validate_result.md`): written with the CSV, published with the
query's other outputs, and copied to the path the pipeline gives (`--validation-table-file`)."""

from __future__ import annotations

import csv
from pathlib import Path

from steps.query.validate import Row, rows_markdown

from .faultserver import FaultServer, matrix, names_then
from .test_cli import SERIES, base, invoke


def test_markdown_has_the_csv_rows_in_order():
    rows = [
        Row("stressng", "", "kepler_container_bpf_cpu_time_ms_total", 36480, 20114, 8823311.0),
        Row("", "rapl-sysfs", 'kepler_node_cpu_joules_total{zone="package"}', 4800, 4800, 1722345.9),
        Row("", "acpi", "kepler_node_platform_joules_total", 0, 0, 0),
        Row("b", "", "a|b", 1, 1, 1.0),
    ]
    text = rows_markdown(rows, "Validation table of q")
    lines = text.splitlines()
    assert lines[:4] == [
        "# Validation table of q",
        "",
        "| # | pod | scenarioID | query | count | >0 | total |",
        "|---|---|---|---|---|---|---|",
    ]
    assert lines[4] == "| 0 | stressng | - | kepler_container_bpf_cpu_time_ms_total | 36480 | 20114 | 8823311.0 |"
    assert lines[5] == '| 1 | - | rapl-sysfs | kepler_node_cpu_joules_total{zone="package"} | 4800 | 4800 | 1722345.9 |'
    assert lines[6] == "| 2 | - | acpi | kepler_node_platform_joules_total | 0 | 0 | 0 |"
    assert lines[7] == "| 3 | b | - | a\\|b | 1 | 1 | 1.0 |"  # a '|' in a cell does not split it
    assert text.endswith("\n") and len(lines) == 8


def test_query_writes_the_markdown_beside_the_csv_and_copies_it(tmp_path: Path):
    copy = tmp_path / "kfp" / "validation_table"
    data = tmp_path / "data"
    with FaultServer(names_then(lambda p, q, h: matrix(SERIES))) as server:
        code, out, err = invoke(base(server.url, data) + ["--output", "q", "--validation-table-file", str(copy)])
    assert code == 0, err
    markdown = data / "q_validate_result.md"
    with open(data / "q_validate_result.csv", newline="") as handle:
        csv_rows = list(csv.reader(handle))[1:]
    table = [line for line in markdown.read_text().splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row[3] for row in csv_rows] == [line.split(" | ")[3] for line in table]
    assert markdown.read_text().startswith("# Validation table of q: benchmark b, 2024-01-01T00:00:00Z to ")
    assert copy.read_bytes() == markdown.read_bytes()
    assert str(markdown) in out  # published with the other outputs


def test_without_the_flag_no_copy_and_a_failed_query_writes_neither(tmp_path: Path):
    copy = tmp_path / "copy.md"
    code, _out, _err = invoke(base("http://127.0.0.1:9", tmp_path / "data") + ["--validation-table-file", str(copy)])
    assert code == 1
    assert not copy.exists() and not list((tmp_path / "data").glob("*_validate_result.*"))
