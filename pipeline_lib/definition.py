"""What the emitters render: the step contract (steps/contract/) plus the facts of one deployment.

The contract says what the steps are (parameters, arguments, claims, files, resources); pipeline.py
adds where and how they run (names, namespace, service account, pod security, images) and hands the
emitters one `Definition`, so the KFP spec and the Argo manifests are two renderings of one value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

from steps.contract import Claim, Parameter, Step


@dataclass(frozen=True)
class Definition:
    """The whole pipeline: the step table and the names around it, with the images chosen."""

    name: str
    description: str
    namespace: str
    service_account: str
    run_as_user: int  # the step images' non-root user (images/Dockerfile USER)
    parameters: Tuple[Parameter, ...]
    claims: Tuple[Claim, ...]
    steps: Tuple[Step, ...]
    env: Tuple[Tuple[str, str], ...]  # constant environment of every step
    scratch_volume: str  # emptyDir for the temporary folder (read-only root filesystem)
    scratch_mount: str
    registry: str
    tag: str

    def image(self, step: Step) -> str:
        """The step's image reference in the chosen registry, with the chosen tag."""
        return image_name(step, self.registry, self.tag)

    def claim(self, volume: str) -> Claim:
        """The claim mounted as `volume`."""
        return next(c for c in self.claims if c.volume == volume)

    def defaults(self) -> Dict[str, str]:
        """Each parameter's default value."""
        return {p.name: p.default for p in self.parameters}


def image_name(step: Step, registry: str, tag: str) -> str:
    """`<registry>/<step image>:<tag>`."""
    return f"{registry.rstrip('/')}/{step.image}:{tag}"
