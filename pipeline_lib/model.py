"""The vocabulary of the step table: what a pipeline parameter, a claim, a mounted file and a step are.

A `Definition` is the whole table plus the names around it; the emitters take one and return
documents, so the KFP spec and the Argo manifests are two renderings of the same value.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple, Union


class PipelineDefinitionError(ValueError):
    """The step table references something that is not declared."""


@dataclass(frozen=True)
class Parameter:
    """A pipeline parameter: always a string, "" means "not set" for the step CLIs.

    `kfp_optional`: in KFP an optional input without a default, so that leaving it out means
    "none" (a parameter naming a Secret or ConfigMap; see `MountedFile`).
    """

    name: str
    default: str
    description: str
    kfp_optional: bool = False


@dataclass(frozen=True)
class Claim:
    """A PersistentVolumeClaim the pipeline mounts, named by a parameter (an existing claim)."""

    parameter: str  # parameter holding the claim name
    volume: str  # volume name inside the pod
    mount_path: str
    size: str  # size of the claim in the shipped PVC manifest
    description: str


SECRET = "secret"
CONFIG_MAP = "configMap"


@dataclass(frozen=True)
class MountedFile:
    """One key of a Secret or ConfigMap named by a parameter, handed to the step as a file.

    Mounted, and `flag <path>` passed to the step, only when the parameter is set: Kubernetes
    refuses a volume with an empty name, so "" (or, in KFP, no value) means no volume and no flag.
    The volume is `optional`, so a wrong name fails the step with one line naming the missing
    file instead of a pod stuck in ContainerCreating.
    """

    parameter: str  # parameter holding the object's name
    kind: str  # SECRET or CONFIG_MAP
    volume: str  # volume name (Argo) and suffix of the Argo template variant
    mount_path: str  # folder the object's keys appear in
    key: str  # the key (file name) the step reads
    flag: str  # the step flag that takes the file's path

    @property
    def path(self) -> str:
        return f"{self.mount_path}/{self.key}"

    @property
    def args(self) -> List[str]:
        return [self.flag, self.path]


@dataclass(frozen=True)
class Ref:
    """An argument taken from a pipeline parameter."""

    parameter: str


Arg = Union[str, Ref]


@dataclass(frozen=True)
class Resources:
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


@dataclass(frozen=True)
class Step:
    """One container of the pipeline: its interface, declared apart from its implementation."""

    name: str
    args: Tuple[Arg, ...]
    claims: Tuple[str, ...]  # volume names of the claims to mount
    resources: Resources
    after: Tuple[str, ...] = ()
    files: Tuple[MountedFile, ...] = ()  # optional Secret/ConfigMap files

    @property
    def command(self) -> List[str]:
        return ["kepler-model", self.name]

    def parameter_names(self) -> List[str]:
        """The parameters this step's arguments reference, in first-use order."""
        seen: List[str] = []
        for arg in self.args:
            if isinstance(arg, Ref) and arg.parameter not in seen:
                seen.append(arg.parameter)
        return seen

    def input_names(self) -> List[str]:
        """Every parameter the step's container needs: its arguments', then its mounted files'."""
        return self.parameter_names() + [f.parameter for f in self.files if f.parameter not in self.parameter_names()]

    def render_args(self, value: Callable[[str], str]) -> List[str]:
        """The arguments without the optional files' flags (those depend on which files are set)."""
        return [value(a.parameter) if isinstance(a, Ref) else a for a in self.args]

    def variants(self) -> List[Tuple[Tuple[MountedFile, ...], Tuple[bool, ...]]]:
        """Every combination of the optional files: (files mounted, set/unset per file), none first."""
        return [
            (tuple(f for f, on in zip(self.files, mask) if on), mask)
            for mask in itertools.product((False, True), repeat=len(self.files))
        ]


@dataclass(frozen=True)
class Definition:
    """The whole pipeline: the step table and the names around it, with the images chosen."""

    name: str
    description: str
    namespace: str
    service_account: str
    run_as_user: int  # the step images' non-root user (images/*/Dockerfile USER)
    parameters: Tuple[Parameter, ...]
    claims: Tuple[Claim, ...]
    steps: Tuple[Step, ...]
    env: Tuple[Tuple[str, str], ...]  # constant environment of every step
    scratch_volume: str  # emptyDir for the temporary folder (read-only root filesystem)
    scratch_mount: str
    registry: str
    tag: str

    def image(self, step: str) -> str:
        return image_name(step, self.registry, self.tag)

    def claim(self, volume: str) -> Claim:
        return next(c for c in self.claims if c.volume == volume)

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.parameters}


def image_name(step: str, registry: str, tag: str) -> str:
    return f"{registry.rstrip('/')}/kepler-model-{step}:{tag}"


def check_definition(parameters: Sequence[Parameter], steps: Sequence[Step], claims: Sequence[Claim]) -> None:
    """Fail at compile time on an unknown parameter, claim or dependency, or a duplicate name."""
    names = [p.name for p in parameters]
    if len(set(names)) != len(names):
        raise PipelineDefinitionError(f"duplicate parameter names in {names}")
    volumes = {c.volume for c in claims}
    for claim in claims:
        if claim.parameter not in names:
            raise PipelineDefinitionError(f"claim {claim.volume!r} uses unknown parameter {claim.parameter!r}")
    step_names: List[str] = []
    for step in steps:
        for ref in step.input_names():
            if ref not in names:
                raise PipelineDefinitionError(
                    f"step {step.name!r} references unknown parameter {ref!r}; declared: {', '.join(names)}"
                )
        for volume in step.claims:
            if volume not in volumes:
                raise PipelineDefinitionError(f"step {step.name!r} mounts unknown claim {volume!r}")
        for mounted in step.files:
            if mounted.kind not in (SECRET, CONFIG_MAP):
                raise PipelineDefinitionError(
                    f"step {step.name!r}: {mounted.volume!r} is neither a secret nor a configMap"
                )
            parameter: Optional[Parameter] = next((p for p in parameters if p.name == mounted.parameter), None)
            if parameter is not None and parameter.default != "":
                raise PipelineDefinitionError(
                    f"parameter {parameter.name!r} names an optional {mounted.kind}: its default must be empty (none)"
                )
        for before in step.after:
            if before not in step_names:
                raise PipelineDefinitionError(f"step {step.name!r} runs after unknown or later step {before!r}")
        step_names.append(step.name)
