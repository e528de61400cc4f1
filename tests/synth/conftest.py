"""Module-scoped Kepler 0.10 data sets (tests/synth/cases010.py) and their query JSON documents."""

from __future__ import annotations

import pytest

from steps.synth import generate_010

from .cases010 import NODE, VM


@pytest.fixture(scope="module")
def node():
    return generate_010(NODE)


@pytest.fixture(scope="module")
def node_doc(node):
    return node.query_response()


@pytest.fixture(scope="module")
def vm():
    return generate_010(VM)


@pytest.fixture(scope="module")
def vm_doc(vm):
    return vm.query_response()
