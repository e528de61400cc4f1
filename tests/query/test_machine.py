"""Machine spec sources of query.md §5 with injected Node reader and host facts.

The Kubernetes API server cannot run here, so the Node lookup is a stub function returning the
Node object (or raising the lookup failure); everything else is real parsing.
"""

from collections import namedtuple

import pytest

from steps.common.config import Environment
from steps.common.errors import StepError
from steps.query.machine import (
    HostProbe,
    NodeLookupFailed,
    chips_from_cpuinfo,
    frequency_mhz,
    in_cluster,
    memory_gib,
    resolve_machine_spec,
    spec_from_node,
)

Freq = namedtuple("Freq", "current min max")
CPUINFO = (
    "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz\nphysical id\t: 0\n\n"
    "processor\t: 1\nphysical id\t: 1\n\nprocessor\t: 2\nphysical id\t: 1\n"
)


DEFAULT_FREQ = Freq(2300.0, 1200.0, 3049.0)


def host(tmp_path, freq=DEFAULT_FREQ, brand=None):
    (tmp_path / "cpuinfo").write_text(CPUINFO)
    return HostProbe(
        proc=tmp_path,
        brand=brand,
        logical_cpus=lambda: 96,
        total_memory=lambda: 377 * 2**30 + 5,
        frequency=lambda: freq,
    )


def test_local_host(tmp_path):
    warnings = []
    spec = resolve_machine_spec("m1", True, None, Environment({}), warnings.append, host=host(tmp_path), cluster=False)
    assert spec == {"processor": "intel_xeon_e5_2686v4", "cores": 96, "chips": 2, "memory": 377, "frequency": 3000}
    assert warnings == []


def test_unknown_frequency_is_null_with_one_warning(tmp_path):
    warnings = []
    spec = resolve_machine_spec(
        "m1", True, None, Environment({}), warnings.append, host=host(tmp_path, freq=None), cluster=False
    )
    assert spec["frequency"] is None and len(warnings) == 1 and "frequency" in warnings[0]


def test_file_first_then_host(tmp_path):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text('{"processor": "AMD EPYC 7R13 Processor", "cores": 8}')
    spec = resolve_machine_spec(
        "m1", True, spec_file, Environment({}), lambda m: None, host=host(tmp_path), cluster=False
    )
    assert spec["processor"] == "amd_epyc_7r13" and spec["cores"] == 8 and spec["chips"] == 2


def test_missing_spec_file_is_an_error(tmp_path):
    with pytest.raises(StepError, match="missing.json"):
        resolve_machine_spec(
            "m1", True, tmp_path / "missing.json", Environment({}), lambda m: None, host=host(tmp_path), cluster=False
        )


NODE = {
    "metadata": {
        "labels": {
            "kepler-model.sustainable-computing.io/processor": "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz",
            "kepler-model.sustainable-computing.io/chips": "2",
        }
    },
    "status": {"capacity": {"cpu": "96", "memory": "395936700Ki"}},
}


def test_node_in_cluster_and_host_only_when_it_is_the_measured_machine(tmp_path):
    warnings = []
    spec = resolve_machine_spec(
        "worker-1",
        True,
        None,
        Environment({"NODE_NAME": "other"}),
        warnings.append,
        read_node=lambda name: NODE,
        host=host(tmp_path),
        cluster=True,
        hostname=lambda: "query-pod",
    )
    assert spec == {
        "processor": "intel_xeon_platinum_8259cl",
        "cores": 96,
        "chips": 2,
        "memory": 377,
        "frequency": None,
    }
    # same, but this pod runs on the measured node: the host fills the frequency
    spec = resolve_machine_spec(
        "worker-1",
        True,
        None,
        Environment({"NODE_NAME": "worker-1"}),
        warnings.append,
        read_node=lambda name: NODE,
        host=host(tmp_path),
        cluster=True,
    )
    assert spec["frequency"] == 3000 and spec["cores"] == 96


def test_node_lookup_failure_is_a_warning(tmp_path):
    def forbidden(name):
        raise NodeLookupFailed(f"Node {name}: forbidden")

    warnings = []
    spec = resolve_machine_spec(
        "worker-1",
        True,
        None,
        Environment({}),
        warnings.append,
        read_node=forbidden,
        host=host(tmp_path),
        cluster=True,
        hostname=lambda: "elsewhere",
    )
    assert spec == {"processor": None, "cores": None, "chips": None, "memory": None, "frequency": None}
    assert "forbidden" in warnings[0] and "unknown processor, cores, chips, memory, frequency" in warnings[1]


def test_in_cluster_needs_host_variable_and_token(tmp_path):
    token = tmp_path / "token"
    assert not in_cluster(Environment({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}), token)
    token.write_text("t")
    assert in_cluster(Environment({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}), token)
    assert not in_cluster(Environment({}), token)


@pytest.mark.parametrize(
    "quantity, gib",
    [
        ("16303460Ki", 15),
        ("64Gi", 64),
        ("1Ti", 1024),
        ("1000M", 0),
        ("137438953472", 128),
        ("2G", 1),
        ("bad", None),
        (None, None),
    ],
)
def test_memory_quantities(quantity, gib):
    assert memory_gib(quantity) == gib


def test_node_without_labels():
    spec = spec_from_node({"status": {"capacity": {"cpu": "4", "memory": "8Gi"}}})
    assert spec == {"processor": None, "cores": 4, "chips": None, "memory": 8, "frequency": None}


def test_host_helpers(tmp_path):
    assert chips_from_cpuinfo(tmp_path / "absent") == 1
    assert frequency_mhz(Freq(2449.9, 0, 0)) == 2400 and frequency_mhz(Freq(0.0, 0.0, 0.0)) is None
