"""Resolve a setting: flag, then environment variable, then CONFIG_PATH file, then default.

An empty value at any level means "not set" (workspace.md §1.3). The environment is injected
(a mapping), never read at import time, so tests pass their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

DEFAULT_CONFIG_PATH = "/etc/kepler/kepler.config"
# The workspace folder when neither --data-path nor DATAPATH is set.
DEFAULT_DATA_PATH = "/data"


@dataclass(frozen=True)
class Environment:
    """Environment variables plus the one-file-per-key configuration folder."""

    variables: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def config_path(self) -> Path:
        return Path(self.variables.get("CONFIG_PATH") or DEFAULT_CONFIG_PATH)

    def get(self, name: str) -> Optional[str]:
        """The value of `name` from the environment, else its config file; None when unset."""
        value = self.variables.get(name)
        if value is not None and value.strip() != "":
            return value
        path = self.config_path / name
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return text or None

    def first(self, *names: str) -> Optional[str]:
        """The first of several variables that is set (e.g. PROM_URL before PROM_SERVER)."""
        for name in names:
            value = self.get(name)
            if value is not None:
                return value
        return None


def is_set(value: Optional[str]) -> bool:
    """Orchestrators pass "" for "not set"; treat it like None."""
    return value is not None and str(value).strip() != ""


def resolve(flag_value: Optional[str], env: Environment, *names: str, default: Optional[str] = None) -> Optional[str]:
    """Flag, then the first set variable among `names`, then `default`."""
    if is_set(flag_value):
        return flag_value
    found = env.first(*names) if names else None
    return found if found is not None else default
