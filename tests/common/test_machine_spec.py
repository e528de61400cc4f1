"""Processor names normalise as query.md §5.4's table says, idempotently."""

import pytest

from steps.common.machine_spec import index_attrs, normalize_processor, spec_document


@pytest.mark.parametrize(
    "brand,expected",
    [
        ("Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", "intel_xeon_platinum_8259cl"),
        ("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "intel_xeon_e5_2686v4"),
        ("AMD EPYC 7R13 Processor", "amd_epyc_7r13"),
        ("-", ""),
        ("AMD Ryzen 7 5800X 8-Core Processor", "amd_ryzen_7_5800x_8_core"),
        ("Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", "intel_core"),
    ],
)
def test_brand_strings_normalise(brand, expected):
    assert normalize_processor(brand) == expected
    assert normalize_processor(expected) == expected


def test_unknown_attributes_are_null_in_the_spec_file_and_placeholders_in_the_index():
    spec = {"processor": None, "cores": 8, "chips": None, "memory": 31, "frequency": None}
    assert spec_document(spec) == {
        "attrs": {"processor": None, "cores": 8, "chips": None, "memory": 31, "frequency": None},
        "members": [],
    }
    assert index_attrs(spec) == {"processor": "", "cores": 8, "chips": 0, "memory": 31, "frequency": 0}
