"""The step command lines of a local run: the contract's steps (steps/contract/) rendered with local values.

Pure: parameter values and local folders in, (step, argv) pairs out, in the contract's order. Unset
values are passed as "" exactly as the orchestrators pass them, so a local run exercises the same
command lines as a cluster run; only a claim folder (export's `-o`) becomes a local folder. The
pipeline's optional `--token-file`/`--ca-file` (files of a Secret/ConfigMap) have no flag here:
PROM_TOKEN_FILE, PROM_TOKEN and PROM_CA_FILE in the environment reach the query step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Mapping, Tuple

from ..contract import PARAMETERS, STEPS, ClaimPath, Parameter


def run_parameters() -> List[Parameter]:
    """The parameters `kepler-model run` takes as flags (each with its contract flag), in contract order."""
    return [p for p in PARAMETERS if p.flag is not None]


@dataclass(frozen=True)
class RunParameters:
    """A local run's pipeline parameters by name ("" or missing: not set), and the local folder standing in
    for each claim folder the steps are given."""

    values: Mapping[str, str] = field(default_factory=dict)
    folders: Mapping[ClaimPath, str] = field(default_factory=dict)

    def value(self, name: str) -> str:
        """The parameter's value, "" when not set."""
        return self.values.get(name, "")

    def folder(self, folder: ClaimPath) -> str:
        """The local folder of a claim folder; a local run must give one for each the steps use."""
        if folder not in self.folders:
            raise KeyError(f"a local run has no folder for {folder.claim.volume}/{folder.path}")
        return self.folders[folder]


def step_commands(p: RunParameters) -> List[Tuple[str, List[str]]]:
    """(step, arguments after `kepler-model <step>`) for every step of the contract, in order."""
    return [(step.name, step.render_args(p.value, p.folder)) for step in STEPS]
