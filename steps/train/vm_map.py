"""The `--vm-map` document of VM mode (kepler-010.md §4): guest identity -> vm_id, one to one, never guessed.

A JSON object whose keys are the guests' identities (the `instance` of the guest's node_exporter,
or the `node_name` of a Kepler running in the guest) and whose values are the `vm_id` label values
of the host Kepler's VM (or QEMU process) series. Neither side becomes a path, so any text goes but
the empty string and control characters (which would break a one-line message). Every problem is a
StepError (exit 1) naming the file and the key. No NumPy or pandas: train's flag checks and its main
process import this module before the workers start.

`read_vm_map` is the IO edge; `parse_vm_map` and `check_vm_map` are pure; `vm_flags` resolves the
flags of VM mode (--vm-train, --vm-map, --vm-target), usage errors only; `dyn_only` keeps VM
models DynPower only.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..common import flags
from ..common.config import Environment, is_set
from ..common.domain import ACTIVE_ISOLATOR, DYN_POWER
from ..common.errors import StepError, UsageError
from ..common.flags import parse_bool
from ..common.kepler_metrics import GENERATIONS
from ..common.names import UNPRINTABLE, check_flag_name, resolve_name, shown
from ..common.workspace import Workspace, plain_name, read_json
from .tables import Skip, TrainingSet

# --vm-target: which host series a VM's energy is read from (kepler-010.md §4). The metric names
# themselves are the generation's (`Generation.vm_energy`, `Generation.process_energy`).
VM_TARGET, PROCESS_TARGET = "vm", "process"
VM_TARGETS = (VM_TARGET, PROCESS_TARGET)
DEFAULT_VM_TARGET = VM_TARGET
# The environment variable --vm-map falls back to (the pipeline parameter's name).
VM_MAP_VARIABLE = "VM_MAP"


@dataclass(frozen=True)
class VmMap:
    """A checked map: (guest identity, vm_id) pairs in file order, one to one; `source` names the file."""

    source: str
    pairs: Tuple[Tuple[str, str], ...]

    @property
    def guests(self) -> Tuple[str, ...]:
        """The guest identities, in file order."""
        return tuple(guest for guest, _ in self.pairs)

    @property
    def vm_ids(self) -> Tuple[str, ...]:
        """The vm_ids, in file order."""
        return tuple(vm_id for _, vm_id in self.pairs)

    def vm_of(self, guest: str) -> Optional[str]:
        """The vm_id of a guest, None for a guest the map does not name."""
        return dict(self.pairs).get(guest)

    def guest_of(self, vm_id: str) -> Optional[str]:
        """The guest of a vm_id, None for a VM the map does not name."""
        return {v: g for g, v in self.pairs}.get(vm_id)


@dataclass(frozen=True)
class VmMode:
    """VM models of Kepler >= 0.10: the checked map and the --vm-target choice."""

    map: VmMap
    target: str = DEFAULT_VM_TARGET


def target_metric(target: str, vm_energy: Optional[str], process_energy: Optional[str]) -> str:
    """The host metric of a --vm-target choice, from the generation's names; StepError when it has none."""
    metric = {VM_TARGET: vm_energy, PROCESS_TARGET: process_energy}.get(target)
    if not metric:
        raise StepError(f"--vm-target {target}: these inputs' Kepler metrics have no such energy series")
    return metric


class _JsonObject(list):
    """A JSON object's (key, value) pairs in file order, as `parse_vm_map` reads them (duplicates refused)."""


def _json_kind(value: Any) -> str:
    """How a message names a parsed JSON value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (dict, _JsonObject)):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else type(value).__name__


def _text_problem(value: Any) -> Optional[str]:
    """Why `value` cannot be a guest identity or vm_id, None when it can."""
    if not isinstance(value, str):
        return f"must be text, not {_json_kind(value)}"
    if value == "":
        return "is empty"
    if any(unicodedata.category(ch) in UNPRINTABLE for ch in value):
        return "contains a control character or line break"
    return None


def _no_duplicate_keys(pairs: Sequence[Tuple[str, Any]], source: str) -> _JsonObject:
    """object_pairs_hook: a key given twice is refused (json would keep the last one silently)."""
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise StepError(f"vm map {source}: guest {shown(key)} is given twice; map each guest once")
        seen.add(key)
    return _JsonObject(pairs)


def parse_vm_map(data: bytes, source: str) -> VmMap:
    """The map of a file's bytes (a JSON object); StepError naming `source` when it is not one."""
    try:
        document = json.loads(data, object_pairs_hook=lambda pairs: _no_duplicate_keys(pairs, source))
    except (json.JSONDecodeError, UnicodeDecodeError) as failure:
        raise StepError(f"vm map {source} is not valid JSON: {failure}") from None
    return check_vm_map(document, source)


def check_vm_map(document: Any, source: str) -> VmMap:
    """A parsed document as a VmMap: an object (a dict, or the pairs `parse_vm_map` keeps), text on both
    sides, at least one guest, no two guests on one vm_id. StepError naming `source` and the key otherwise."""
    if isinstance(document, dict):
        items = list(document.items())
    elif isinstance(document, _JsonObject):
        items = list(document)
    else:
        raise StepError(
            f"vm map {source}: expected a JSON object from guest identity to vm_id, not {_json_kind(document)}"
        )
    if not items:
        raise StepError(
            f"vm map {source} is empty: map each guest (its node_exporter instance or its Kepler node_name) "
            "to its vm_id"
        )
    owner: Dict[str, str] = {}
    for guest, vm_id in items:
        problem = _text_problem(guest)
        if problem:
            raise StepError(f"vm map {source}: guest identity {shown(guest)} {problem}")
        problem = _text_problem(vm_id)
        if problem:
            raise StepError(f"vm map {source}: guest {shown(guest)}: vm_id {problem}")
        if vm_id in owner:
            raise StepError(
                f"vm map {source}: guests {shown(owner[vm_id])} and {shown(guest)} both map to vm_id {shown(vm_id)}; "
                "the map is one to one (one guest per VM)"
            )
        owner[vm_id] = guest
    return VmMap(source, tuple((guest, vm_id) for guest, vm_id in items))


def read_vm_map(path: Path) -> VmMap:
    """Read and check the map file (the IO edge); StepError naming the file."""
    return read_json(path, "vm map", parse=lambda data: parse_vm_map(data, str(path)))


def read_vm_mode(map_name: Optional[str], target: Optional[str], workspace: Workspace) -> Optional[VmMode]:
    """The --vm-map file of the workspace read and checked, with the target; None without a map."""
    if not map_name:
        return None
    return VmMode(read_vm_map(workspace.vm_map(map_name)), target or DEFAULT_VM_TARGET)


def check_vm_generation(vm: bool, map_name: Optional[str], generation: str) -> None:
    """A map needs Kepler >= 0.10 inputs, and VM models of those need a map (kepler-010.md §4): else exit 1."""
    mapped = _mapped(generation)
    if map_name and not mapped:
        raise StepError(
            f"--vm-map pairs guests with the VMs of Kepler >= 0.10, but the inputs hold Kepler {generation} "
            "metrics (for those use --vm-train without a map)"
        )
    if vm and mapped and not map_name:
        raise StepError(
            f"--vm-train with Kepler {generation} inputs needs --vm-map FILE: a JSON object from each guest "
            "(node_exporter instance or Kepler node_name) to its vm_id (kepler-010.md §4)"
        )


def _mapped(generation: str) -> bool:
    """Whether VM mode of this generation pairs guests with VMs through a map: Kepler >= 0.10 (zones);
    before it --vm-train alone reads train.md §6.7's VM series."""
    found = GENERATIONS.get(generation)
    return found is not None and found.zone_energy is not None


def _vm_mode(vm_train: Optional[str], map_name: Optional[str]) -> bool:
    """--vm-map selects VM mode by itself; --vm-train=false beside it is a contradiction."""
    asked = parse_bool(vm_train, "--vm-train") if vm_train is not None else None
    if map_name is not None and asked is False:
        raise UsageError("--vm-map selects VM mode (VM models); drop --vm-train=false or --vm-map")
    return bool(asked) or map_name is not None


def vm_flags(
    args: Any, env: Environment, isolator: Optional[str], generation: str, dyn_trainers: Sequence[str]
) -> Dict[str, Any]:
    """TrainOptions' `vm`, `vm_map` (the map's workspace name, .json optional) and `vm_target` from the flags.

    Usage errors (exit 2): a map name that is not a plain name, an unknown target, a target without
    the map, --vm-train with 0.10 metrics but no map, a map with an older --metric-generation or an
    isolator other than `active`, no DynPower trainer (VM models are DynPower only).
    """
    raw = resolve_name(args.vm_map, env, flags.VM_MAP.long, VM_MAP_VARIABLE)
    map_name = check_flag_name(plain_name(raw), flags.VM_MAP.long) if raw is not None else None
    vm = _vm_mode(args.vm_train, map_name)
    target = args.vm_target.strip() if is_set(args.vm_target) else None
    if target is not None and target not in VM_TARGETS:
        raise UsageError(f"--vm-target: unknown value {target!r}; choose one of {', '.join(VM_TARGETS)}")
    if map_name is None:
        if target is not None:
            raise UsageError("--vm-target needs --vm-map FILE (VM models of Kepler >= 0.10)")
        if vm and _mapped(generation):
            raise UsageError(f"--vm-train with Kepler {generation} metrics needs --vm-map FILE (guest -> vm_id)")
        return {"vm": vm, "vm_map": None, "vm_target": None}
    if generation != "auto" and not _mapped(generation):
        raise UsageError(f"--vm-map pairs Kepler >= 0.10 guests with their VMs, not --metric-generation {generation}")
    if isolator not in (None, ACTIVE_ISOLATOR):
        raise UsageError(
            "VM models are DynPower from the host's active energy (kepler-010.md §4): with --vm-map, "
            f"--isolator is {ACTIVE_ISOLATOR} (or left out), not {isolator}"
        )
    if not dyn_trainers:
        raise UsageError("VM models are DynPower only: with --vm-map, --dyn-trainers none leaves nothing to train")
    return {"vm": vm, "vm_map": map_name, "vm_target": target or DEFAULT_VM_TARGET}


def dyn_only(
    sets: Sequence[TrainingSet], skips: Sequence[Skip], vm_map: Optional[str]
) -> Tuple[List[TrainingSet], List[Skip]]:
    """VM models are DynPower only (kepler-010.md §4): with a map, the AbsPower sets become skips."""
    if not vm_map:
        return list(sets), list(skips)
    dropped = [
        Skip(f"{s.source}/{s.output_type}/{s.group.name}", "VM models are DynPower only (the VMs' active energy)")
        for s in sets
        if s.output_type != DYN_POWER
    ]
    return [s for s in sets if s.output_type == DYN_POWER], list(skips) + dropped
