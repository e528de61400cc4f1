"""Machine specs: the five attributes, processor-name normalisation, and every accepted file shape."""

from __future__ import annotations

import re
from typing import Any, Dict, Mapping, Optional

ATTRIBUTES = ("processor", "cores", "chips", "memory", "frequency")
NUMERIC_ATTRIBUTES = ATTRIBUTES[1:]

Spec = Dict[str, Any]  # attribute -> value, None when unknown

_FREQUENCY_TOKEN = re.compile(r"\d+(\.\d+)?\s?[gm]hz", re.IGNORECASE)
_BITS_TOKEN = re.compile(r"\d+-Bit Multi-Core")
_PARENTHESISED = re.compile(r"\([^)]*\)")


def normalize_processor(brand: Optional[str]) -> str:
    """The normalised processor name of query.md §5.4 (idempotent)."""
    if brand is None or len(brand.strip()) < 2:
        return ""
    name = brand
    for token in ("(R)", "(r)", "CPU", "Processor", "processor"):
        name = name.replace(token, "")
    name = _BITS_TOKEN.sub("", name)
    name = name.split("(", 1)[0].strip()
    name = name.split("[", 1)[0].strip()
    for token in ("@", "®", ","):
        name = name.replace(token, "")
    name = _FREQUENCY_TOKEN.sub("", name).strip()
    name = _PARENTHESISED.sub("", name)
    name = "_".join(name.split()).replace("-", "_").lower()
    return name.replace("_v", "v")


def empty_spec() -> Spec:
    """A spec with every attribute unknown (None)."""
    return {name: None for name in ATTRIBUTES}


def _attribute_key(key: str) -> Optional[str]:
    """Plain names, and kepler-model-server's `NodeAttribute.PROCESSOR` style keys."""
    plain = key.split(".", 1)[1] if key.startswith("NodeAttribute.") else key
    plain = plain.lower()
    return plain if plain in ATTRIBUTES else None


def _number(value: Any) -> Optional[float]:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number == int(number) else number


def spec_from_document(document: Any) -> Spec:
    """Read `{"attrs": {...}, "members": [...]}` or the flat form; ValueError when neither."""
    if not isinstance(document, Mapping):
        raise ValueError("expected a JSON object")
    source = document.get("attrs", document)
    if not isinstance(source, Mapping):
        raise ValueError("'attrs' is not an object")
    spec = empty_spec()
    found = False
    for key, value in source.items():
        name = _attribute_key(str(key))
        if name is None:
            continue
        found = True
        if name == "processor":
            spec[name] = normalize_processor(str(value)) if value not in (None, "") else None
        else:
            spec[name] = _number(value)
    if not found:
        raise ValueError(f"none of the attributes {', '.join(ATTRIBUTES)} is present")
    return spec


def spec_document(spec: Mapping[str, Any]) -> Dict[str, Any]:
    """The `machine_spec/<id>.json` shape: plain keys in order, unknown as null, no members."""
    return {"attrs": {name: spec.get(name) for name in ATTRIBUTES}, "members": []}


def known_attributes(spec: Mapping[str, Any]) -> list:
    """The attributes of `spec` that have a value, in attribute order."""
    return [name for name in ATTRIBUTES if spec.get(name) not in (None, "")]


def index_attrs(spec: Mapping[str, Any]) -> Dict[str, Any]:
    """Attributes as node_type_index.json stores them: unknown processor "", unknown numbers 0."""
    attrs: Dict[str, Any] = {"processor": spec.get("processor") or ""}
    for name in NUMERIC_ATTRIBUTES:
        value = _number(spec.get(name))
        attrs[name] = 0 if value is None else value
    return attrs
