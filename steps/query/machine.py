"""The machine spec of the measured machine (query.md §5): explicit file, then the Kubernetes Node, then this host.

Every outside source is injected (Node reader, CPU info, /proc path, psutil-like calls) so each
source is tested on its own; normalisation lives in steps/common/machine_spec.py.
"""

from __future__ import annotations

import math
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..common.config import Environment
from ..common.machine_spec import ATTRIBUTES, Spec, empty_spec, normalize_processor
from ..common.workspace import read_machine_spec

SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
LABEL_PREFIX = "kepler-model.sustainable-computing.io/"

_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|Pi|K|k|M|G|T|P)?\s*$")
_FACTORS = {
    None: 1,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "K": 10**3,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
}


class NodeLookupFailed(Exception):
    """The Node could not be read (not found, forbidden, unreachable): a warning, not an error."""


def memory_gib(quantity: Any) -> Optional[int]:
    """A Kubernetes memory quantity (`16303460Ki`, `64Gi`, `1000M`, bytes) in GiB, truncated."""
    match = _QUANTITY.match(str(quantity)) if quantity is not None else None
    if not match:
        return None
    return int(float(match.group(1)) * _FACTORS[match.group(2)] // 2**30)


def spec_from_node(node: Mapping[str, Any]) -> Spec:
    """The attributes a Node object gives: capacity and the optional kepler-model labels."""
    spec = empty_spec()
    capacity = (node.get("status") or {}).get("capacity") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    cpu = capacity.get("cpu")
    if cpu is not None and str(cpu).isdigit():
        spec["cores"] = int(cpu)
    spec["memory"] = memory_gib(capacity.get("memory"))
    if labels.get(LABEL_PREFIX + "processor"):
        spec["processor"] = normalize_processor(labels[LABEL_PREFIX + "processor"]) or None
    for name in ("chips", "frequency"):
        value = labels.get(LABEL_PREFIX + name)
        if value is not None and str(value).strip().isdigit():
            spec[name] = int(str(value).strip())
    return spec


def in_cluster(env: Environment, token_path: Path = SERVICE_ACCOUNT_TOKEN) -> bool:
    """KUBERNETES_SERVICE_HOST set and the service-account token readable (query.md §5.2)."""
    if not env.variables.get("KUBERNETES_SERVICE_HOST"):
        return False
    try:
        with open(token_path, "rb") as handle:
            handle.read(1)
        return True
    except OSError:
        return False


def read_node_incluster(name: str) -> Dict[str, Any]:
    """GET /api/v1/nodes/<name> with the pod's service account, as a plain dict."""
    try:
        from kubernetes import client, config
        from kubernetes.client.rest import ApiException
    except ImportError as failure:  # pragma: no cover - kubernetes is a dependency
        raise NodeLookupFailed(f"the kubernetes client is not installed ({failure})") from None
    try:
        config.load_incluster_config()
        api = client.CoreV1Api()
        node = api.read_node(name, _request_timeout=10)
        return api.api_client.sanitize_for_serialization(node)
    except ApiException as failure:
        reason = {404: "not found", 403: "forbidden"}.get(failure.status, f"HTTP {failure.status}")
        raise NodeLookupFailed(f"Node {name}: {reason}") from None
    except Exception as failure:  # noqa: BLE001 - any transport or config failure is "unreachable"
        raise NodeLookupFailed(f"Node {name}: API server unreachable ({type(failure).__name__}: {failure})") from None


@dataclass
class HostProbe:
    """Where the local host's facts come from; defaults read this machine."""

    proc: Path = Path("/proc")
    brand: Optional[Callable[[], Optional[str]]] = None  # default: /proc/cpuinfo, else py-cpuinfo
    logical_cpus: Callable[[], Optional[int]] = field(default=lambda: _psutil().cpu_count(logical=True))
    total_memory: Callable[[], Optional[int]] = field(default=lambda: _psutil().virtual_memory().total)
    frequency: Callable[[], Optional[Any]] = field(default=lambda: _safe_cpu_freq())

    def spec(self) -> Spec:
        spec = empty_spec()
        brand = self.brand() if self.brand else (model_name_from_cpuinfo(self.proc / "cpuinfo") or _cpuinfo_brand())
        spec["processor"] = normalize_processor(brand) or None if brand else None
        spec["cores"] = self.logical_cpus() or None
        spec["chips"] = chips_from_cpuinfo(self.proc / "cpuinfo")
        total = self.total_memory()
        spec["memory"] = int(total // 2**30) if total else None
        spec["frequency"] = frequency_mhz(self.frequency())
        return spec


def _psutil():
    import psutil

    return psutil


def _safe_cpu_freq() -> Optional[Any]:
    try:
        return _psutil().cpu_freq()
    except (OSError, NotImplementedError, AttributeError):
        return None


def _cpuinfo_brand() -> Optional[str]:
    try:
        import cpuinfo

        return cpuinfo.get_cpu_info().get("brand_raw")
    except Exception:  # noqa: BLE001 - py-cpuinfo probes many OS facilities; no brand is a fact
        return None


def model_name_from_cpuinfo(path: Path) -> Optional[str]:
    """The kernel's `model name` line: the same CPUID brand string py-cpuinfo reports as brand_raw,
    without its 1-2 s of probing; py-cpuinfo remains the fallback (ARM and others lack the line)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("model name") and ":" in line:
            return line.split(":", 1)[1].strip() or None
    return None


def chips_from_cpuinfo(path: Path) -> int:
    """Distinct `physical id` values in /proc/cpuinfo, at least 1."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 1
    ids = {
        line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("physical id") and ":" in line
    }
    return max(1, len(ids))


def frequency_mhz(freq: Any) -> Optional[int]:
    """round(max(max, current) / 100) * 100 MHz; None when the OS reports none."""
    if freq is None:
        return None
    values = [getattr(freq, "max", 0) or 0, getattr(freq, "current", 0) or 0]
    best = max(v for v in values if not math.isnan(v))
    if best <= 0:
        return None
    return int(round(best / 100) * 100)


def merge_specs(specs: List[Spec]) -> Spec:
    """Each attribute from the first source that provides it."""
    merged = empty_spec()
    for spec in specs:
        for name in ATTRIBUTES:
            if merged[name] in (None, "") and spec.get(name) not in (None, ""):
                merged[name] = spec[name]
    return merged


FILE, NODE, CPU_INFO, HOST = "file", "node", "kepler_node_cpu_info", "host"  # sources, in order (query.md §5.1)
SpecSources = List[Tuple[str, Spec]]


def machine_spec_sources(
    machine_id: str,
    id_given: bool,
    spec_file: Optional[Path],
    env: Environment,
    warn: Callable[[str], None],
    read_node: Callable[[str], Mapping[str, Any]] = read_node_incluster,
    host: Optional[HostProbe] = None,
    cluster: Optional[bool] = None,
    hostname: Callable[[], str] = socket.gethostname,
) -> SpecSources:
    """The sources of query.md §5.1 that give something, in order, as (name, spec).

    Kepler 0.10's CPU info comes from the collected data, after this; `with_cpu_info` puts it in
    its place, between the Node and the host (kepler-010.md §1).
    """
    sources: SpecSources = []
    if spec_file is not None:
        sources.append((FILE, read_machine_spec(spec_file)))
    running_in_cluster = in_cluster(env) if cluster is None else cluster
    if running_in_cluster and id_given:
        try:
            sources.append((NODE, spec_from_node(read_node(machine_id))))
        except NodeLookupFailed as failure:
            warn(f"machine spec from the Kubernetes Node skipped: {failure}")
    on_measured_machine = (
        (not running_in_cluster) or env.variables.get("NODE_NAME") == machine_id or hostname() == machine_id
    )
    needed = merge_specs([spec for _, spec in sources])
    if on_measured_machine and any(needed[name] is None for name in ATTRIBUTES):
        sources.append((HOST, (host or HostProbe()).spec()))
    return sources


def with_cpu_info(sources: SpecSources, cpu_info: Spec) -> SpecSources:
    """The sources with the CPU info's spec before the host's."""
    before = [item for item in sources if item[0] != HOST]
    return before + [(CPU_INFO, cpu_info)] + [item for item in sources if item[0] == HOST]


def unknown_attributes(spec: Spec) -> List[str]:
    """The attributes no source gave."""
    return [name for name in ATTRIBUTES if spec[name] is None]


def resolve_machine_spec(
    machine_id: str,
    id_given: bool,
    spec_file: Optional[Path],
    env: Environment,
    warn: Callable[[str], None],
    read_node: Callable[[str], Mapping[str, Any]] = read_node_incluster,
    host: Optional[HostProbe] = None,
    cluster: Optional[bool] = None,
    hostname: Callable[[], str] = socket.gethostname,
) -> Spec:
    """The merged spec of query.md §5.1; unknown attributes stay None (one warning names them)."""
    sources = machine_spec_sources(machine_id, id_given, spec_file, env, warn, read_node, host, cluster, hostname)
    spec = merge_specs([spec for _, spec in sources])
    unknown = unknown_attributes(spec)
    if unknown:
        warn(f"machine spec of {machine_id}: unknown {', '.join(unknown)} (written as null)")
    return spec
