"""The node-type index of a pipeline (workspace.md §3.10) and node-type resolution (train.md §5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from ..common.errors import StepError
from ..common.machine_spec import ATTRIBUTES, NUMERIC_ATTRIBUTES, Spec, index_attrs, known_attributes

Warn = Callable[[str], None]
PLACEHOLDER_ATTRS: Dict[str, Any] = {"processor": "", "cores": 0, "chips": 0, "memory": 0, "frequency": 0}


@dataclass(frozen=True)
class NodeInfoConflict:
    """Finite node-info values of one input that are not one non-negative integer (train.md §5.1).

    Kept instead of raised at extraction: only resolution knows whether a machine spec decides
    the node type (then this is a warning) or the data must (then it stops train).
    """

    input: str
    values: Tuple[float, ...]

    def shown(self) -> str:
        return ", ".join(f"{v:g}" for v in self.values[:5]) + (", ..." if len(self.values) > 5 else "")

    def error(self) -> StepError:
        return StepError(f"input {self.input}: node-info values must be one non-negative integer, found {self.shown()}")

    def overridden(self, by: str = "the machine spec") -> str:
        return (
            f"input {self.input}: node-info values are not one non-negative integer (found {self.shown()}); "
            f"ignored: the node type comes from {by}"
        )


# An input's node-info value: absent, one integer, a conflict, or (Kepler 0.10) the machine spec its
# kepler_node_cpu_info gives (kepler-010.md §1), which is matched in the index like a spec file.
NodeInfo = Union[int, None, NodeInfoConflict, Spec]


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """All five attributes equal: numbers numerically (96 == 96.0), processor as text."""
    if str(a.get("processor") or "") != str(b.get("processor") or ""):
        return False
    for name in NUMERIC_ATTRIBUTES:
        try:
            if float(a.get(name) or 0) != float(b.get(name) or 0):
                return False
        except (TypeError, ValueError):
            return False
    return True


def is_placeholder(attrs: Mapping[str, Any]) -> bool:
    """An entry without a real spec: empty processor and every number 0."""
    return _same(attrs, PLACEHOLDER_ATTRS)


@dataclass
class NodeTypeEntry:
    """One node type of node_type_index.json: its spec attributes and member machine ids."""

    attrs: Dict[str, Any]
    members: List[str] = field(default_factory=list)

    def add_member(self, machine_id: Optional[str]) -> None:
        if machine_id and machine_id not in self.members:
            self.members.append(machine_id)


@dataclass
class NodeTypeIndex:
    """Node type -> spec and member machine ids."""

    entries: Dict[int, NodeTypeEntry] = field(default_factory=dict)

    @classmethod
    def load(cls, document: Optional[Mapping[str, Any]]) -> "NodeTypeIndex":
        """Read the JSON shape (keys are decimal strings); missing attributes become placeholders."""
        index = cls()
        for key, value in (document or {}).items():
            value = value if isinstance(value, Mapping) else {}
            attrs_in = value.get("attrs", {}) if isinstance(value.get("attrs", {}), Mapping) else {}
            index.entries[int(key)] = NodeTypeEntry(
                index_attrs(_plain_keys(attrs_in)), [str(m) for m in value.get("members") or []]
            )
        return index

    def to_dict(self) -> Dict[str, Any]:
        """The JSON shape, keys sorted numerically, attributes in the fixed order."""
        return {
            str(n): {
                "attrs": {a: self.entries[n].attrs.get(a, PLACEHOLDER_ATTRS[a]) for a in ATTRIBUTES},
                "members": list(self.entries[n].members),
            }
            for n in sorted(self.entries)
        }

    def match(self, spec: Mapping[str, Any]) -> Optional[int]:
        """The node type whose attributes equal the (normalised) spec exactly (train.md §5.2)."""
        wanted = index_attrs(spec)
        for node_type in sorted(self.entries):
            if _same(self.entries[node_type].attrs, wanted):
                return node_type
        return None

    def next_type(self) -> int:
        return max(self.entries) + 1 if self.entries else 0

    def resolve_spec(self, spec: Spec, machine_id: Optional[str] = None, warn: Optional[Warn] = None) -> int:
        """Node type of a machine spec: the matching entry, else a new one (max + 1); adds the member."""
        unknown = [a for a in ATTRIBUTES if a not in known_attributes(spec)]
        if unknown and warn:
            warn(f"machine spec lacks {', '.join(unknown)}; indexed with placeholders ('' / 0) for them")
        node_type = self.match(spec)
        if node_type is None:
            node_type = self.next_type()
            self.entries[node_type] = NodeTypeEntry(index_attrs(spec))
        self.entries[node_type].add_member(machine_id)
        return node_type

    def resolve_data(self, node_type: int, pipeline: str, machine_id: Optional[str] = None) -> int:
        """A node type taken from the data (or 0): placeholder entry, unless another machine owns it (§5.3)."""
        entry = self.entries.get(node_type)
        if entry is None:
            self.entries[node_type] = NodeTypeEntry(dict(PLACEHOLDER_ATTRS), [machine_id] if machine_id else [])
            return node_type
        if not is_placeholder(entry.attrs):
            owners = ", ".join(entry.members) or _describe(entry.attrs)
            raise StepError(
                f"node type {node_type} of pipeline {pipeline} belongs to machine(s) {owners}; "
                "give --id or --machine-spec, or train into another pipeline"
            )
        entry.add_member(machine_id)
        return node_type


def _plain_keys(attrs: Mapping[str, Any]) -> Dict[str, Any]:
    """Accept `NodeAttribute.PROCESSOR` style keys as well as plain ones."""
    plain = {}
    for key, value in attrs.items():
        name = str(key).split(".", 1)[1] if str(key).startswith("NodeAttribute.") else str(key)
        plain[name.lower()] = value
    return plain


def _describe(attrs: Mapping[str, Any]) -> str:
    return " ".join(f"{a}={attrs.get(a)}" for a in ATTRIBUTES)


def resolve_node_types(
    index: NodeTypeIndex,
    node_info: Mapping[str, NodeInfo],
    pipeline: str,
    spec: Optional[Spec] = None,
    machine_id: Optional[str] = None,
    warn: Optional[Warn] = None,
) -> Dict[str, int]:
    """Node type per input (train.md §5.1); updates `index` in place.

    With a spec (with at least one known attribute) every input gets the spec's node type, whatever
    the data's node-info values (a conflict is only reported); otherwise each input gets its
    node-info value from the data, else 0, and a conflict stops train. A spec taken from the data
    (0.10's CPU info) is resolved like a spec file: matched, else a new entry (train.md §5.2).
    """
    conflicts = [value for value in node_info.values() if isinstance(value, NodeInfoConflict)]
    if spec is not None and known_attributes(spec):
        for conflict in conflicts:
            if warn:
                warn(conflict.overridden())
        node_type = index.resolve_spec(spec, machine_id, warn)
        return {name: node_type for name in node_info}
    if conflicts:
        raise conflicts[0].error()
    resolved = {}
    for name, value in node_info.items():
        if isinstance(value, Mapping):
            resolved[name] = index.resolve_spec(value, machine_id, warn)
        else:
            resolved[name] = index.resolve_data(int(value) if value is not None else 0, pipeline, machine_id)
    return resolved
