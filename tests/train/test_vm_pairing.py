"""VM pairing and alignment (kepler-010.md §4) on small inline tables with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from steps.common.errors import StepError
from steps.train.vm_map import VmMap
from steps.train.vm_pairing import VmInput, align, align_times, median_step, pair_vms, summary_lines

GRID = np.arange(0.0, 75.0, 15.0)  # 0, 15, 30, 45, 60: step 15, half a step 7.5


def taken(target_t, guest_t, **masks):
    """(target row, guest row) pairs and the two drop counts."""
    found = align_times(np.asarray(target_t, float), np.asarray(guest_t, float), **masks)
    return (
        list(zip(found.target_rows.tolist(), found.guest_rows.tolist())),
        found.dropped_targets,
        found.unused_guest_rows,
    )


def test_same_times_pair_row_for_row():
    assert taken(GRID, GRID) == ([(i, i) for i in range(5)], 0, 0)


def test_an_offset_below_half_a_step_pairs_each_row_with_its_own():
    assert taken(GRID, GRID + 7.0) == ([(i, i) for i in range(5)], 0, 0)
    assert taken(GRID, GRID - 7.0) == ([(i, i) for i in range(5)], 0, 0)


def test_an_offset_above_half_a_step_pairs_with_the_nearer_neighbour():
    # guest rows at 8, 23, 38, 53, 68: target t takes the row at t - 7 (the previous one), target 0 none
    pairs, dropped, unused = taken(GRID, GRID + 8.0)
    assert pairs == [(1, 0), (2, 1), (3, 2), (4, 3)]
    assert (dropped, unused) == (1, 1)  # target 0; the guest row at 68


def test_exactly_half_a_step_away_pairs_with_neither_neighbour():
    assert taken(GRID, GRID + 7.5) == ([], 5, 5)


def test_a_tie_goes_to_the_earlier_guest_row():
    target = np.array([0.0, 20.0, 40.0, 60.0])  # step 20, half 10
    guest = np.arange(5.0, 60.0, 10.0)  # 5, 15, 25, 35, 45, 55: every target but 0 and 60 sits between two
    pairs, dropped, unused = taken(target, guest)
    assert pairs == [(0, 0), (1, 1), (2, 3), (3, 5)]  # 0->5, 20->15 (not 25), 40->35, 60->55
    assert (dropped, unused) == (0, 2)  # 25 and 45 unused


def test_missing_guest_samples_drop_their_target_rows():
    guest = np.delete(GRID, [2, 3])  # no guest rows at 30 and 45
    pairs, dropped, unused = taken(GRID, guest)
    assert pairs == [(0, 0), (1, 1), (4, 2)]
    assert (dropped, unused) == (2, 0)


def test_extra_guest_rows_are_unused_and_counted():
    guest = np.arange(0.0, 75.0, 5.0)  # three guest rows per target step
    pairs, dropped, unused = taken(GRID, guest)
    assert pairs == [(i, 3 * i) for i in range(5)]
    assert (dropped, unused) == (0, 10)


def test_step_is_the_median_gap_of_the_target():
    target = np.array([0.0, 10.0, 20.0, 60.0])  # gaps 10, 10, 40: step 10, half 5
    assert median_step(target) == 10.0
    pairs, dropped, unused = taken(target, target + 6.0)  # 6 >= 5: only nearer neighbours
    assert pairs == [(1, 0), (2, 1)] and (dropped, unused) == (2, 2)
    assert median_step(np.array([5.0])) == 0.0


def test_one_target_row_pairs_only_with_a_guest_row_at_its_time():
    assert taken([30.0], [29.0, 31.0]) == ([], 1, 2)
    assert taken([30.0], [29.0, 30.0]) == ([(0, 1)], 0, 1)


def test_target_rows_closer_than_a_step_may_share_a_guest_row():
    target = np.array([0.0, 30.0, 40.0, 70.0, 100.0])  # gaps 30, 10, 30, 30: step 30, half 15
    pairs, dropped, unused = taken(target, [35.0])
    assert pairs == [(1, 0), (2, 0)] and (dropped, unused) == (3, 0)


def test_unusable_rows_are_no_candidates():
    guest_ok = np.array([True, True, False, True, True])
    target_ok = np.array([True, False, True, True, True])
    pairs, dropped, unused = taken(GRID, GRID, guest_ok=guest_ok, target_ok=target_ok)
    assert pairs == [(0, 0), (3, 3), (4, 4)]
    assert (dropped, unused) == (2, 2)  # targets 15 (unusable) and 30 (its guest row unusable)


def test_empty_streams():
    assert taken(GRID, []) == ([], 5, 0)
    assert taken([], GRID) == ([], 0, 5)


def test_timestamps_must_ascend():
    with pytest.raises(ValueError, match="target timestamps"):
        align_times(np.array([0.0, 15.0, 15.0]), GRID)


def target_table(t, zones=("package", "core"), scale=1.0):
    """Power per zone with a known law: package = 10 + t / 15 (x scale), core = half of it."""
    t = np.asarray(t, float)
    package = (10.0 + t / 15.0) * scale
    columns = {"package": package, "core": package / 2}
    return pd.DataFrame({"timestamp": t, **{f"{z}_power": columns[z] for z in zones}})


def guest_table(t, offset=0.0):
    """Features at guest time t + offset that name the target time they belong to (busy = t)."""
    t = np.asarray(t, float)
    return pd.DataFrame({"timestamp": t + offset, "os_cpu_busy_ms": t, "os_load1": t / 100})


def test_align_joins_features_and_power_in_column_order_from_unsorted_tables():
    target = target_table(GRID).iloc[::-1]
    guest = guest_table(np.delete(GRID, 2), offset=3.0).iloc[[2, 0, 3, 1]]
    table, found = align(target, guest)
    assert list(table.columns) == ["timestamp", "os_cpu_busy_ms", "os_load1", "package_power", "core_power"]
    assert table["timestamp"].tolist() == [0.0, 15.0, 45.0, 60.0]
    assert (table["os_cpu_busy_ms"] == table["timestamp"]).all()  # each row carries its own time's features
    assert np.allclose(table["package_power"], 10 + table["timestamp"] / 15)
    assert (found.dropped_targets, found.unused_guest_rows) == (1, 0)


def test_align_treats_a_row_with_a_non_finite_value_as_missing():
    guest = guest_table(GRID)
    guest.loc[1, "os_load1"] = np.nan
    target = target_table(GRID)
    target.loc[4, "core_power"] = np.inf
    table, found = align(target, guest)
    assert table["timestamp"].tolist() == [0.0, 30.0, 45.0]
    assert (found.dropped_targets, found.unused_guest_rows) == (2, 2)


def test_align_refuses_tables_it_cannot_join():
    with pytest.raises(ValueError, match="no 'timestamp'"):
        align(target_table(GRID).drop(columns="timestamp"), guest_table(GRID))
    with pytest.raises(ValueError, match="share names"):
        align(target_table(GRID), guest_table(GRID).rename(columns={"os_load1": "core_power"}))


# -- pairing: two hosts (inputs), two VMs each, plus series the map does not name
MAP = VmMap(
    "/ws/vms.json",
    (("g-a1:9100", "vm-a1"), ("g-a2:9100", "vm-a2"), ("g-b1:9100", "vm-b1"), ("g-b2:9100", "vm-b2")),
)


def two_hosts():
    host_a = VmInput(
        "host-a",
        targets={"vm-a1": target_table(GRID), "vm-a2": target_table(GRID, scale=2), "vm-x": target_table(GRID)},
        guests={
            "g-a1:9100": guest_table(GRID, offset=2.0),
            "g-a2:9100": guest_table(np.delete(GRID, 1), offset=-4.0),  # one missing sample
            "host-a:9100": guest_table(GRID),  # the host's own node_exporter: not in the map
        },
    )
    host_b = VmInput(
        "host-b",
        targets={"vm-b1": target_table(GRID + 1000, scale=3), "vm-b2": target_table(GRID + 1000, scale=4)},
        guests={"g-b1:9100": guest_table(GRID + 1000, offset=9.0), "g-b2:9100": guest_table(GRID + 1000)},
    )
    return [host_a, host_b]


def test_several_hosts_and_vms_pair_within_each_input_with_known_values():
    found = pair_vms(MAP, two_hosts())
    summary = {(p.input, p.guest, p.vm_id): p for p in found.pairs}
    assert list(summary) == [
        ("host-a", "g-a1:9100", "vm-a1"),
        ("host-a", "g-a2:9100", "vm-a2"),
        ("host-b", "g-b1:9100", "vm-b1"),
        ("host-b", "g-b2:9100", "vm-b2"),
    ]
    scale = {"vm-a1": 1, "vm-a2": 2, "vm-b1": 3, "vm-b2": 4}
    for (_, _, vm_id), pair in summary.items():
        assert pair.powers == ("package_power", "core_power")
        assert pair.features == ("os_cpu_busy_ms", "os_load1")
        assert pair.step == 15.0
        table = pair.table
        if vm_id != "vm-b1":  # vm-b1's guest is 9 s late: each target takes the previous row
            assert (table["os_cpu_busy_ms"] == table["timestamp"]).all()
        assert np.allclose(table["package_power"], (10 + table["timestamp"] / 15) * scale[vm_id])
    assert len(summary["host-a", "g-a2:9100", "vm-a2"].table) == 4  # target 15 dropped
    shifted = summary["host-b", "g-b1:9100", "vm-b1"].table
    assert (shifted["os_cpu_busy_ms"] == shifted["timestamp"] - 15).all() and len(shifted) == 4
    assert (found.dropped_targets, found.unused_guest_rows) == (2, 1)
    assert found.ignored_guests == (("host-a", "host-a:9100"),)
    assert found.unmapped_vms == (("host-a", "vm-x"),)


def test_a_guest_whose_vm_is_on_another_host_counts_its_rows_as_unused():
    inputs = two_hosts()
    inputs[0].guests["g-b1:9100"] = guest_table(GRID)  # host-a's query picked up host-b's guest too
    inputs[1].targets["vm-a1"] = target_table(GRID + 1000)  # and host-b reports a VM of host-a's map
    found = pair_vms(MAP, inputs)
    assert [(u.input, u.vm_id, u.missing, u.target_rows, u.guest_rows) for u in found.unpaired] == [
        ("host-a", "vm-b1", "host", 0, 5),
        ("host-b", "vm-a1", "guest", 5, 0),
    ]
    assert (found.dropped_targets, found.unused_guest_rows) == (2 + 5, 1 + 5)
    assert len(found.pairs) == 4


def test_a_map_key_without_guest_series_is_an_error_naming_it():
    inputs = two_hosts()
    del inputs[1].guests["g-b2:9100"]
    with pytest.raises(StepError) as caught:
        pair_vms(MAP, inputs)
    message = str(caught.value)
    assert "'g-b2:9100'" in message and "no series" in message and "/ws/vms.json" in message
    assert "g-b1" not in message and "\n" not in message


def test_a_guest_with_an_empty_table_has_no_series():
    inputs = two_hosts()
    inputs[1].guests["g-b2:9100"] = guest_table([])
    with pytest.raises(StepError, match="'g-b2:9100'"):
        pair_vms(MAP, inputs)


def test_a_vm_id_absent_from_the_host_data_is_an_error_naming_it():
    inputs = two_hosts()
    del inputs[0].targets["vm-a2"]
    with pytest.raises(StepError) as caught:
        pair_vms(MAP, inputs)
    message = str(caught.value)
    assert "vm_id(s) 'vm-a2' (guest 'g-a2:9100') absent from the host data of input(s) host-a, host-b" in message


def test_vms_with_different_zones_are_an_error():
    inputs = two_hosts()
    inputs[1].targets["vm-b2"] = target_table(GRID + 1000, zones=("package",))
    with pytest.raises(StepError, match="different zones.*vm-b2.*: package_power"):
        pair_vms(MAP, inputs)


def test_summary_lines_give_each_pair_and_the_counts():
    inputs = two_hosts()
    inputs[0].guests["g-b1:9100"] = guest_table(GRID)
    lines = summary_lines(pair_vms(MAP, inputs))
    assert lines[0] == (
        "VM 'vm-a1' <- guest 'g-a1:9100' (input host-a): 5 rows, step 15 s, 0 target rows and 0 guest rows dropped"
    )
    assert "VM 'vm-b1' <- guest 'g-b1:9100' (input host-a): no host series in this input, " in lines[4]
    assert lines[5] == (
        "VM alignment: 2 target rows without a guest row within half a step and 6 unused guest rows dropped"
    )
    assert lines[6] == "guest series not in the vm map, ignored (1): host-a: 'host-a:9100'"
    assert lines[7] == "host VMs not in the vm map, ignored (1): host-a: 'vm-x'"
