"""The --vm-map document (kepler-010.md §4): guest identity -> vm_id, one to one; every problem names file and key."""

from __future__ import annotations

import json

import pytest

from steps.common.errors import StepError, UsageError
from steps.train.vm_map import (
    PROCESS_TARGET,
    VM_TARGET,
    VmMap,
    check_vm_map,
    parse_vm_map,
    read_vm_map,
    target_metric,
)

SOURCE = "/ws/vms.json"


def parse(text: str) -> VmMap:
    return parse_vm_map(text.encode(), SOURCE)


def refused(text: str) -> str:
    with pytest.raises(StepError) as caught:
        parse(text)
    assert not isinstance(caught.value, UsageError)  # a file problem: exit 1
    message = str(caught.value)
    assert "\n" not in message and SOURCE in message
    return message


def test_a_map_keeps_file_order_and_answers_both_ways():
    found = parse('{"guest-b:9100": "vm-2", "guest-a:9100": "vm-1"}')
    assert found.pairs == (("guest-b:9100", "vm-2"), ("guest-a:9100", "vm-1"))
    assert found.guests == ("guest-b:9100", "guest-a:9100") and found.vm_ids == ("vm-2", "vm-1")
    assert found.vm_of("guest-a:9100") == "vm-1" and found.vm_of("host:9100") is None
    assert found.guest_of("vm-2") == "guest-b:9100" and found.guest_of("vm-9") is None
    assert found.source == SOURCE


def test_identities_are_not_paths_slashes_and_spaces_are_fine():
    found = parse('{"10.0.0.5:9100": "a/b c", "guest 2": "../x"}')
    assert found.vm_of("guest 2") == "../x"


def test_two_guests_on_one_vm_id_is_an_error_naming_both_and_the_vm():
    message = refused('{"g1": "vm-1", "g2": "vm-2", "g3": "vm-1"}')
    assert "'g1'" in message and "'g3'" in message and "'vm-1'" in message and "one to one" in message


@pytest.mark.parametrize(
    ("value", "kind"),
    [("1", "a number"), ("null", "null"), ('{"a": "b"}', "an object"), ('["v"]', "an array"), ("true", "true/false")],
)
def test_a_vm_id_that_is_not_text_names_the_guest(value, kind):
    message = refused(f'{{"good": "vm-1", "bad-guest": {value}}}')
    assert "'bad-guest'" in message and f"not {kind}" in message


@pytest.mark.parametrize("text", ["{}", " { } "])
def test_an_empty_map_is_an_error(text):
    assert "is empty" in refused(text)


@pytest.mark.parametrize(("text", "kind"), [('["g", "v"]', "an array"), ('"g"', "a string"), ("3", "a number")])
def test_a_document_that_is_not_an_object_is_an_error(text, kind):
    assert f"expected a JSON object from guest identity to vm_id, not {kind}" in refused(text)


def test_a_guest_given_twice_is_an_error():
    assert "'g1' is given twice" in refused('{"g1": "vm-1", "g1": "vm-2"}')


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ('{"g\\n1": "vm-1"}', "guest identity 'g\\n1' contains a control character"),
        ('{"g1": "vm\\u001b1"}', "guest 'g1': vm_id contains a control character"),
        ('{"g1": "vm\\u20281"}', "guest 'g1': vm_id contains a control character"),
        ('{"": "vm-1"}', "guest identity '' is empty"),
        ('{"g1": ""}', "guest 'g1': vm_id is empty"),
    ],
)
def test_control_characters_and_empty_names_are_refused(text, what):
    assert what in refused(text)


def test_not_json_is_an_error_naming_the_file():
    assert "is not valid JSON" in refused('{"g1": "vm-1",')


def test_check_takes_a_parsed_dict_too():
    assert check_vm_map({"g": "v"}, "x").pairs == (("g", "v"),)
    with pytest.raises(StepError, match="g2"):
        check_vm_map({"g1": "v", "g2": "v"}, "x")


def test_read_names_the_file_when_it_is_missing_or_bad(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(StepError, match=f"vm map {missing} does not exist"):
        read_vm_map(missing)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"g1": "v", "g2": "v"}))
    with pytest.raises(StepError, match=f"vm map {bad}: guests 'g1' and 'g2' both map to vm_id 'v'"):
        read_vm_map(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"g1": "v1"}))
    assert read_vm_map(good) == VmMap(str(good), (("g1", "v1"),))


def test_target_metric_is_the_generations_name_for_the_choice():
    assert target_metric(VM_TARGET, "vm_j", "proc_j") == "vm_j"
    assert target_metric(PROCESS_TARGET, "vm_j", "proc_j") == "proc_j"
    with pytest.raises(StepError, match="--vm-target process"):
        target_metric(PROCESS_TARGET, "vm_j", None)
