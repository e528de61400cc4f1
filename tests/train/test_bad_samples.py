"""Bad samples (issue 9 item 6): non-numeric or non-finite values are counted and reported wherever they
are dropped, energy series included, by both query readers; bad `kepler_node_info` values never stop
train when a machine spec decides the node type."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import pytest

from steps.cli import main
from steps.common.errors import StepError
from steps.common.workspace import SampleColumns
from steps.synth import SynthConfig, generate
from steps.train.inputs import extract_input
from steps.train.node_types import NodeInfoConflict, NodeTypeIndex, resolve_node_types
from steps.train.power import power_layout, power_table
from steps.train.query_columns import parse_query_response
from steps.train.series import flatten_metric

ENERGY = "kepler_node_package_joules_total"
CPU_TIME = "kepler_container_bpf_cpu_time_ms_total"
NODE_INFO = "kepler_node_info"
SPEC = {"processor": "intel_xeon_platinum_8259cl", "cores": 96, "chips": 2, "memory": 377, "frequency": 3500}
READERS: Dict[str, Callable[[bytes], Any]] = {"columnar": parse_query_response, "json": json.loads}


def _inline(energy: List[list], cpu_time: Optional[List[list]] = None, node_info: Optional[List[list]] = None) -> bytes:
    """A small Kepler 0.7 query response: one package energy series, one container's CPU time, node info."""
    scrape = {"instance": "node-1", "job": "kepler-exporter"}
    container = dict(scrape, container_id="c1", pod_name="p1", container_name="w", container_namespace="ns")
    cpu_time = cpu_time or [[15 * i, str(100 * i)] for i in range(6)]
    document: Dict[str, Any] = {
        ENERGY: [{"metric": dict(scrape, package="0", mode="dynamic", source="rapl-sysfs"), "values": energy}],
        CPU_TIME: [{"metric": container, "values": cpu_time}],
    }
    if node_info is not None:
        document[NODE_INFO] = [{"metric": scrape, "values": node_info}]
    return json.dumps(document).encode()


def _extract(data: bytes, reader: str) -> Tuple[Any, List[str]]:
    warnings: List[str] = []
    return extract_input("q", READERS[reader](data), ["rapl-sysfs"], warn=warnings.append), warnings


# -- energy series: counted and reported like every other bad sample ------------------------------------


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("bad", [["abc"], ["NaN", "+Inf"], ["abc", "-Inf"], [""]])
def test_bad_energy_samples_are_counted_by_both_readers(reader: str, bad: List[str]):
    good = [[0, "100"], [15, "250"], [30, "400"], [45, "700"]]
    energy = good[:2] + [[20 + k, text] for k, text in enumerate(bad)] + good[2:]
    data, warnings = _extract(_inline(energy), reader)
    assert f"input q {ENERGY}: dropped {len(bad)} non-numeric or non-finite sample(s)" in warnings
    assert len(data.energy["rapl-sysfs"]["package"]) == len(good)  # only the good samples are left
    table = power_table(data, power_layout("rapl-sysfs", [data]))
    assert table.t.tolist() == [15, 30, 45] and table.columns["package_power"].tolist() == [10.0, 10.0, 20.0]


def test_energy_and_feature_series_are_reported_alike():
    energy = [[0, "100"], [15, "abc"], [30, "400"], [45, "700"]]
    cpu_time = [[0, "0"], [15, "abc"], [30, "200"], [45, "300"]]
    _, warnings = _extract(_inline(energy, cpu_time), "columnar")
    assert [w for w in warnings if "non-finite" in w] == [
        f"input q {ENERGY}: dropped 1 non-numeric or non-finite sample(s)",
        f"input q {CPU_TIME}: dropped 1 non-numeric or non-finite sample(s)",
    ]


def test_clean_input_reports_nothing():
    _, warnings = _extract(_inline([[0, "100"], [15, "250"]], node_info=[[0, "1"], [15, "1"]]), "columnar")
    assert not [w for w in warnings if "dropped" in w]


# -- the columnar reader never reads a bad value as other numbers ----------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        '[[1, "1,5"], [2, "3"]]',  # a comma inside a value (was read as 15)
        '[[1, "1 2"], [2, ""]]',  # a blank inside a value, an empty one (was read as 1 and 2)
        '[[1, "2 3"], [4, " "]]',
        '[[1,5, "3"], [2, "4"]]',  # a triple without blanks (was read as t=15)
        '[[1, "3"], 2, ["4"]]',  # not a list of pairs
        '[[1, " 5 "], [2, "\\u0035"], [3, "1_0"]]',  # texts float reads but the fast path does not
    ],
)
def test_columnar_reader_falls_back_to_json_for_every_irregular_value(values: str):
    data = f'{{"m": [{{"metric": {{}}, "values": {values}}}]}}'.encode()
    fast, plain = parse_query_response(data), json.loads(data)
    assert not isinstance(fast["m"][0]["values"], SampleColumns)
    assert fast == plain


def test_columnar_reader_rejects_what_json_rejects():
    data = b'{"m": [{"metric": {}, "values": [[1 5, "3"], [2, "4"]]}]}'  # a blank inside a time: not JSON
    with pytest.raises(ValueError):
        json.loads(data)
    with pytest.raises(ValueError):
        parse_query_response(data)


def test_fallback_list_values_are_never_joined():
    raw = flatten_metric([{"metric": {}, "values": [[1, "1 2"], [2, ""], [3, "4"]]}])
    assert np.array_equal(raw.v, [np.nan, np.nan, 4.0], equal_nan=True)


# -- kepler_node_info --------------------------------------------------------------------------------

ENERGY_OK = [[0, "100"], [15, "250"], [30, "400"]]


@pytest.mark.parametrize("reader", READERS)
def test_non_finite_node_info_values_are_ignored_and_counted(reader: str):
    data, warnings = _extract(_inline(ENERGY_OK, node_info=[[0, "1"], [15, "NaN"], [30, "+Inf"], [45, "1"]]), reader)
    assert data.node_info == 1
    # counted once although the metric is read twice (node type and the node_info feature)
    assert [w for w in warnings if NODE_INFO in w] == [
        f"input q {NODE_INFO}: dropped 2 non-numeric or non-finite sample(s)"
    ]


def test_only_non_finite_node_info_counts_as_absent():
    data, _ = _extract(_inline(ENERGY_OK, node_info=[[0, "NaN"], [15, "-Inf"], [30, "abc"]]), "columnar")
    assert data.node_info is None


@pytest.mark.parametrize(
    "values, found", [([[0, "1"], [15, "2"]], (1.0, 2.0)), ([[0, "-1"]], (-1.0,)), ([[0, "1.5"], [15, "NaN"]], (1.5,))]
)
def test_disagreeing_node_info_is_a_conflict_not_an_error_at_extraction(values: List[list], found: tuple):
    data, _ = _extract(_inline(ENERGY_OK, node_info=values), "json")
    assert data.node_info == NodeInfoConflict("q", found)


def test_a_spec_wins_over_conflicting_node_info():
    warnings: List[str] = []
    index = NodeTypeIndex()
    resolved = resolve_node_types(
        index,
        {"q": NodeInfoConflict("q", (1.0, 2.0)), "r": 3},
        "p",
        spec=dict(SPEC),
        machine_id="m5",
        warn=warnings.append,
    )
    assert resolved == {"q": 0, "r": 0} and index.entries[0].members == ["m5"]
    assert warnings == [
        "input q: node-info values are not one non-negative integer (found 1, 2); ignored: the "
        "node type comes from the machine spec"
    ]


def test_without_a_spec_conflicting_node_info_still_stops_train():
    with pytest.raises(StepError, match=r"input q: node-info values must be one non-negative integer, found 1, 2"):
        resolve_node_types(NodeTypeIndex(), {"q": NodeInfoConflict("q", (1.0, 2.0))}, "p")
    # a spec without any known attribute is no spec (train.md §5.1)
    with pytest.raises(StepError, match="node-info values"):
        resolve_node_types(
            NodeTypeIndex(), {"q": NodeInfoConflict("q", (1.0, 2.0))}, "p", spec={"processor": None, "cores": None}
        )


# -- end to end: `kepler-model train` ----------------------------------------------------------------------

FAST = ["--abs-trainers", "LinearRegressionTrainer", "--dyn-trainers", "none", "--jobs", "1"]


@pytest.fixture(scope="module")
def synth_document() -> Dict[str, Any]:
    return generate(SynthConfig(containers=3, duration_s=900, step_s=15, seed=4)).query_response()


def _workspace(
    tmp_path: Path,
    document: Dict[str, Any],
    energy: Optional[Dict[int, str]] = None,
    node_info: Optional[Dict[int, str]] = None,
) -> Path:
    """The synthetic document with some samples replaced: {sample position: text}."""
    document = json.loads(json.dumps(document))
    for position, text in (energy or {}).items():
        document[ENERGY][0]["values"][position][1] = text
    for position, text in (node_info or {}).items():
        document[NODE_INFO][0]["values"][position][1] = text
    data = tmp_path / "data"
    data.mkdir()
    (data / "kepler_query.json").write_text(json.dumps(document))
    return data


def _train(data: Path, *args: str) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    environ = {"DATAPATH": str(data), "MODEL_PATH": str(data), "CONFIG_PATH": str(data / "no-config")}
    code = main(["train", "--input", "kepler_query", *FAST, *args], environ=environ, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _node_types(data: Path) -> Dict[str, Any]:
    return json.loads((data / "std_v0.7.11" / "node_type_index.json").read_text())


def test_train_reports_a_non_numeric_energy_sample_and_trains(tmp_path: Path, synth_document: Dict[str, Any]):
    data = _workspace(tmp_path, synth_document, energy={10: "abc", 20: "NaN"})
    code, out, err = _train(data)
    assert code == 0, err
    assert f"warning: input kepler_query {ENERGY}: dropped 2 non-numeric or non-finite sample(s)" in err
    assert "trained 5 models" in out.splitlines()[-1]


@pytest.mark.parametrize("how", ["--machine-spec", "--id"])
@pytest.mark.parametrize("node_info", [{3: "NaN"}, {3: "+Inf", 4: "-Inf"}, {3: "2"}, {3: "NaN", 4: "+Inf", 5: "2"}])
def test_a_machine_spec_wins_over_bad_node_info(
    tmp_path: Path, synth_document: Dict[str, Any], how: str, node_info: Dict[int, str]
):
    data = _workspace(tmp_path, synth_document, node_info=node_info)
    (data / "machine_spec").mkdir()
    (data / "machine_spec" / "m5.json").write_text(json.dumps({"attrs": SPEC, "members": []}))
    flags = ["--machine-spec", str(data / "machine_spec" / "m5.json")] if how == "--machine-spec" else ["--id", "m5"]
    code, out, err = _train(data, *flags)
    assert code == 0, err
    index = _node_types(data)
    assert list(index) == ["0"] and index["0"]["attrs"] == SPEC  # the spec's node type, not the data's 1 or 2
    assert (data / "std_v0.7.11" / "rapl-sysfs" / "AbsPower" / "BPFOnly" / "LinearRegressionTrainer_0.zip").exists()
    conflict = "2" in node_info.values()
    assert ("node-info values are not one non-negative integer (found 1, 2); ignored" in err) == conflict
    bad = sum(1 for text in node_info.values() if text != "2")
    assert (f"{NODE_INFO}: dropped {bad} non-numeric or non-finite sample(s)" in err) == bool(bad)


def test_without_a_spec_non_finite_node_info_is_ignored(tmp_path: Path, synth_document: Dict[str, Any]):
    data = _workspace(tmp_path, synth_document, node_info={3: "NaN", 4: "+Inf"})
    code, _, err = _train(data)
    assert code == 0, err
    assert list(_node_types(data)) == ["1"]  # the data's node info, its non-finite samples ignored


def test_without_a_spec_conflicting_node_info_stops_train(tmp_path: Path, synth_document: Dict[str, Any]):
    data = _workspace(tmp_path, synth_document, node_info={3: "2"})
    code, _, err = _train(data)
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        "kepler-model train: error: input kepler_query: node-info values must be one non-negative integer, found 1, 2"
    )
    assert not (data / "std_v0.7.11").exists()
