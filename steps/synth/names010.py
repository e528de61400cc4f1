"""The names the Kepler 0.10 generator emits, looked up in the one metric table (kepler_metrics.py) and the
domain table (domain.py): what query and train read is, by construction, what the generator writes."""

from __future__ import annotations

from ..common import domain
from ..common.kepler_metrics import (
    GENERATIONS,
    OS_BUSY_MODES,
    OS_COUNTERS,
    OS_CPU_LABEL,
    OS_INSTANCE_LABEL,
    OS_MODE_LABEL,
)

_G = GENERATIONS["0.10"]
_ENERGY = _G.zone_energy

# Kepler >= 0.10 (kepler-010.md §1)
NODE_ENERGY, NODE_ACTIVE_ENERGY, NODE_IDLE_ENERGY = _ENERGY.total, _ENERGY.active, _ENERGY.idle
ZONE_LABEL, PATH_LABEL = _ENERGY.zone_label, _ENERGY.path_label
ZONES = tuple(zone for zone, _ in _ENERGY.zones)
USAGE_RATIO = _G.feature_metric(domain.USAGE_RATIO_FEATURE)
PROCESS_CPU_TIME = _G.feature_metric(domain.CPU_TIME_FEATURE)
PROCESS_ENERGY = _G.process_energy
CONTAINER_CPU_TIME = _G.cpu_time_fallback.metric
VM_ENERGY = _G.vm_energy
CPU_INFO = _G.cpu_info.metric
BUILD_INFO, VERSION_LABEL = _G.build_info, _G.build_version_label
NODE_NAME_LABEL = _G.node_labels[0]
MODEL_LABEL, PROCESSOR_LABEL, CHIP_LABEL = _G.cpu_info.model_label, _G.cpu_info.cpu_label, _G.cpu_info.chip_label
(PID_LABEL,) = _G.process_id_labels

# node_exporter in a guest (kepler-010.md §3)
OS_FEATURES = domain.OS_FEATURES
_OS = {counter.feature: counter.metrics for counter in OS_COUNTERS}
(OS_CPU_SECONDS,) = _OS["os_cpu_busy_ms"]
(OS_CONTEXT_SWITCHES,) = _OS["os_context_switches"]
(OS_INTERRUPTS,) = _OS["os_interrupts"]
(OS_PAGE_FAULTS,) = _OS["os_page_faults"]
(OS_MAJOR_PAGE_FAULTS,) = _OS["os_major_page_faults"]
OS_MEM_TOTAL, OS_MEM_AVAILABLE = _OS["os_memory_used_ratio"]
(OS_LOAD1,) = _OS["os_load1"]
(OS_PROCS_RUNNING,) = _OS["os_procs_running"]
CPU_LABEL, MODE_LABEL, INSTANCE_LABEL = OS_CPU_LABEL, OS_MODE_LABEL, OS_INSTANCE_LABEL
BUSY_MODES = OS_BUSY_MODES
# every `mode` node_exporter reports per CPU: busy ones and the rest (idle, iowait, steal), sorted
CPU_MODES = tuple(sorted(OS_BUSY_MODES + ("idle", "iowait", "steal")))
