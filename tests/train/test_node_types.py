"""node_type_index.json model and node-type resolution (train.md §5, workspace.md §3.10)."""

from __future__ import annotations

import json

import pytest

from steps.common.errors import StepError
from steps.common.machine_spec import spec_from_document
from steps.train.node_types import PLACEHOLDER_ATTRS, NodeTypeIndex, resolve_node_types

M5 = {"processor": "intel_xeon_platinum_8259cl", "cores": 96, "chips": 2, "memory": 377, "frequency": 3500}
I3 = {"processor": "intel_xeon_e5_2686v4", "cores": 72, "chips": 2, "memory": 503, "frequency": 3000}


def _index():
    return NodeTypeIndex.load(
        {"0": {"attrs": M5, "members": ["m5.metal"]}, "1": {"attrs": I3, "members": ["i3.metal"]}}
    )


def test_round_trip_sorted_numerically_and_plain_keys():
    document = {
        "10": {"attrs": M5, "members": []},
        "2": {"attrs": I3, "members": ["x"]},
        "3": {
            "attrs": {
                "NodeAttribute.PROCESSOR": "intel_xeon_e5_2686v4",
                "NodeAttribute.CORES": 4,
                "NodeAttribute.CHIPS": None,
            },
            "members": [],
        },
    }
    saved = NodeTypeIndex.load(document).to_dict()
    assert list(saved) == ["2", "3", "10"]
    assert list(saved["3"]["attrs"]) == ["processor", "cores", "chips", "memory", "frequency"]
    assert saved["3"]["attrs"] == {
        "processor": "intel_xeon_e5_2686v4",
        "cores": 4,
        "chips": 0,
        "memory": 0,
        "frequency": 0,
    }
    assert json.loads(json.dumps(saved)) == saved


def test_exact_match_numbers_numerically():
    index = _index()
    assert index.match(dict(M5, cores=96.0)) == 0
    assert index.match(I3) == 1
    assert index.match(dict(I3, memory=502)) is None


def test_spec_resolution_new_entry_and_members_once():
    index = _index()
    assert index.resolve_spec(dict(M5), "m5.metal-2") == 0
    assert index.resolve_spec(dict(M5), "m5.metal-2") == 0
    assert index.entries[0].members == ["m5.metal", "m5.metal-2"]
    new = dict(M5, memory=750)
    assert index.resolve_spec(new, "m5.big") == 2
    assert index.to_dict()["2"] == {"attrs": new, "members": ["m5.big"]}
    assert NodeTypeIndex().resolve_spec(dict(M5)) == 0  # empty index starts at 0


def test_incomplete_spec_gets_real_node_type_with_warning():
    warnings = []
    spec = spec_from_document(
        {
            "processor": "Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz",
            "cores": 4,
            "chips": 1,
            "memory": 15,
            "frequency": None,
        }
    )
    index = _index()
    node_type = index.resolve_spec(spec, "vm-1", warnings.append)
    assert node_type == 2 and index.entries[2].attrs["frequency"] == 0
    assert warnings and "frequency" in warnings[0]
    assert index.resolve_spec(spec, "vm-2") == 2  # the same incomplete spec matches its placeholder entry


def test_data_derived_placeholder_and_ownership_error():
    index = _index()
    resolved = resolve_node_types(index, {"a": 5, "b": 5}, "pipe", machine_id="host-1")
    assert resolved == {"a": 5, "b": 5}
    assert index.entries[5].attrs == PLACEHOLDER_ATTRS and index.entries[5].members == ["host-1"]
    fresh = NodeTypeIndex()
    assert resolve_node_types(fresh, {"a": None}, "pipe") == {"a": 0}
    assert fresh.to_dict() == {"0": {"attrs": PLACEHOLDER_ATTRS, "members": []}}
    owned = _index()
    with pytest.raises(
        StepError,
        match=r"node type 1 of pipeline P belongs to machine\(s\) i3.metal; give --id "
        r"or --machine-spec, or train into another pipeline",
    ):
        resolve_node_types(owned, {"in": 1}, "P")


def test_spec_applies_to_every_input():
    index = _index()
    assert resolve_node_types(index, {"a": 7, "b": None}, "p", spec=dict(I3), machine_id="i3-b") == {"a": 1, "b": 1}
    assert index.entries[1].members == ["i3.metal", "i3-b"]
    # A spec without any known attribute falls back to the data.
    assert resolve_node_types(index, {"a": 7}, "p", spec={"processor": None, "cores": None}) == {"a": 7}
