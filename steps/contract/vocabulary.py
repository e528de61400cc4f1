"""What the step contract is made of: parameters, claims, mounted files, outputs, commands and steps.

Plain frozen dataclasses, standard library only: the CLI, the local runner and the step images
import them; the compiler (pipeline.py with pipeline_lib/) renders them into KFP and Argo documents.
A step declares its interface (command, arguments built from parameters, mounts, outputs, what it
runs after), never its implementation, which is the module named by `CliCommand.module`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple, Union

from ..common.flags import Flag

# The console command every step runs as (pyproject's [project.scripts]).
CONSOLE_COMMAND = "kepler-model"


class ContractError(ValueError):
    """The step table references something that is not declared."""


@dataclass(frozen=True)
class Parameter:
    """A pipeline parameter: always a string, "" means "not set" for the step CLIs.

    `kfp_optional`: in KFP an optional input without a default, so that leaving it out means
    "none" (a parameter naming a Secret or ConfigMap; see `MountedFile`).
    `flag`: the flag `kepler-model run` takes the value with, which is also the flag the steps
    receive it with; None when a local run has no such value (claims, Secret and ConfigMap names).
    """

    name: str
    default: str
    description: str
    kfp_optional: bool = False
    flag: Optional[Flag] = None


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
        """Where the step reads the file."""
        return f"{self.mount_path}/{self.key}"

    @property
    def args(self) -> List[str]:
        """`flag path`, appended to the step's arguments when the file is mounted."""
        return [self.flag, self.path]


@dataclass(frozen=True)
class Ref:
    """An argument taken from a pipeline parameter."""

    parameter: str


@dataclass(frozen=True)
class Output:
    """A workspace file one step writes and a later step reads, passed to both by its name."""

    name: str
    description: str


@dataclass(frozen=True)
class ClaimPath:
    """An argument that is a folder inside a claim: `<mount path>/<path>` in a pod, a local folder in a local run."""

    claim: Claim
    path: str

    @property
    def container_path(self) -> str:
        """The folder as a step container sees it: under the claim's mount path."""
        return f"{self.claim.mount_path}/{self.path}"


Arg = Union[str, Ref, Output, ClaimPath]

# Kinds of `RunOutput`: what the orchestrators make of the file.
MARKDOWN = "markdown"  # KFP: a system.Markdown artifact, rendered on the run page
METRICS = "metrics"  # KFP: a system.Metrics artifact; the file is {"metrics": [{"name", "numberValue", "format"}]}
COUNT = "count"  # KFP: an integer output parameter; the file holds the number as text
RUN_OUTPUT_KINDS = {MARKDOWN: "md", METRICS: "json", COUNT: "txt"}  # kind -> file extension
# A step with a METRICS output also takes this flag in KFP, set to the task's executor output file
# (`{{$.outputs.output_file}}`): the metrics written there as the artifact's metadata are what the run
# page's metrics table and run comparison read (the artifact's file alone is only downloadable).
KFP_EXECUTOR_OUTPUT_FLAG = "--kfp-executor-output"
# KFP output names are Python identifiers; Argo parameter names are the same with '-' for '_'.
RUN_OUTPUT_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class RunOutput:
    """A result a step also hands to the orchestrator, so that it shows where pipeline users look.

    The step always writes the result into the workspace; given `flag <path>`, it also copies it
    to `<path>` after a successful run. KFP sets the path to an output artifact's (or output
    parameter's) path, Argo to a file in the scratch folder it reads as an output parameter
    (`valueFrom.path`); a local run passes no flag. One name for both: `name` in KFP, `argo_name`
    in Argo.
    """

    name: str
    kind: str  # MARKDOWN, METRICS or COUNT
    description: str

    @property
    def flag(self) -> str:
        """The step flag taking the path to copy to: `--<name with dashes>-file`."""
        return f"--{self.argo_name}-file"

    @property
    def argo_name(self) -> str:
        """The Argo output parameter name."""
        return self.name.replace("_", "-")

    @property
    def file_name(self) -> str:
        """The file name in a folder of such files (Argo's outputs folder)."""
        return f"{self.argo_name}.{RUN_OUTPUT_KINDS[self.kind]}"


@dataclass(frozen=True)
class Resources:
    """CPU and memory a step's container requests and may use."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


@dataclass(frozen=True)
class CliCommand:
    """A `kepler-model <name>` command: the module implementing it and its line in `kepler-model --help`.

    The module provides `build_parser()` and `run(args, env, console) -> int`.
    """

    name: str
    module: str
    summary: str


@dataclass(frozen=True)
class Step(CliCommand):
    """A command that is also a pipeline step: one container, its interface apart from its implementation.

    Each step has its own image (`image`), holding only its requirements (`requirements`) and
    providing only this step.
    """

    args: Tuple[Arg, ...]
    claims: Tuple[str, ...]  # volume names of the claims to mount
    resources: Resources
    after: Tuple[str, ...] = ()
    files: Tuple[MountedFile, ...] = ()  # optional Secret/ConfigMap files
    outputs: Tuple[Output, ...] = ()  # workspace files later steps read
    run_outputs: Tuple[RunOutput, ...] = ()  # results also handed to the orchestrator (see RunOutput)

    @property
    def command(self) -> List[str]:
        """The container command: the console command and the step."""
        return [CONSOLE_COMMAND, self.name]

    @property
    def image(self) -> str:
        """The image repository name, without registry and tag."""
        return f"{CONSOLE_COMMAND}-{self.name}"

    @property
    def requirements(self) -> str:
        """The image's pinned requirements, relative to the repository root."""
        return f"images/{self.name}/requirements.txt"

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

    def render_args(self, value: Callable[[str], str], path: Optional[Callable[[ClaimPath], str]] = None) -> List[str]:
        """The arguments, parameters by `value`, claim folders by `path` (default: as the container sees them);
        without the optional files' flags (those depend on which files are set)."""
        rendered = []
        for arg in self.args:
            if isinstance(arg, Ref):
                rendered.append(value(arg.parameter))
            elif isinstance(arg, ClaimPath):
                rendered.append(arg.container_path if path is None else path(arg))
            elif isinstance(arg, Output):
                rendered.append(arg.name)
            else:
                rendered.append(arg)
        return rendered

    def run_output_args(self, path: Callable[[RunOutput], str]) -> List[str]:
        """`flag <path>` of every run output, the paths by `path` (the orchestrator's)."""
        return [item for output in self.run_outputs for item in (output.flag, path(output))]

    def variants(self) -> List[Tuple[Tuple[MountedFile, ...], Tuple[bool, ...]]]:
        """Every combination of the optional files: (files mounted, set/unset per file), none first."""
        return [
            (tuple(f for f, on in zip(self.files, mask) if on), mask)
            for mask in itertools.product((False, True), repeat=len(self.files))
        ]


def _check_args(step: Step, parameters: Sequence[Parameter], available: Sequence[Output]) -> None:
    """A parameter is passed with its own flag; an output read is written by the step or an earlier one."""
    by_name = {p.name: p for p in parameters}
    for before, arg in zip((None,) + step.args, step.args):
        if isinstance(arg, Ref) and arg.parameter in by_name:
            flag = by_name[arg.parameter].flag
            if flag is not None and before not in flag.names:
                raise ContractError(
                    f"step {step.name!r} passes {arg.parameter} with {before!r}, not its flag {flag.long}"
                )
        if isinstance(arg, Output) and arg not in step.outputs and arg not in available:
            raise ContractError(f"step {step.name!r} reads {arg.name!r}, which no step before it writes")


def _check_run_outputs(step: Step) -> None:
    """Run outputs: known kinds, names legal in KFP and Argo, no name or flag twice or taken by an argument."""
    names = [o.name for o in step.run_outputs]
    if len(set(names)) != len(names):
        raise ContractError(f"step {step.name!r} has duplicate run output names in {names}")
    taken = {a for a in step.args if isinstance(a, str)} | {f.flag for f in step.files}
    for output in step.run_outputs:
        if output.kind not in RUN_OUTPUT_KINDS:
            raise ContractError(f"step {step.name!r}: run output {output.name!r} has unknown kind {output.kind!r}")
        if not RUN_OUTPUT_NAME.fullmatch(output.name):
            raise ContractError(f"step {step.name!r}: run output name {output.name!r} is not [a-z][a-z0-9_]*")
        if output.flag in taken:
            raise ContractError(f"step {step.name!r}: run output flag {output.flag} is already an argument")


def check_contract(parameters: Sequence[Parameter], steps: Sequence[Step], claims: Sequence[Claim]) -> None:
    """Fail on an unknown parameter, claim, dependency or output, or a duplicate name."""
    names = [p.name for p in parameters]
    if len(set(names)) != len(names):
        raise ContractError(f"duplicate parameter names in {names}")
    volumes = {c.volume for c in claims}
    for claim in claims:
        if claim.parameter not in names:
            raise ContractError(f"claim {claim.volume!r} uses unknown parameter {claim.parameter!r}")
    written = {}
    for step in steps:
        for ref in step.input_names():
            if ref not in names:
                raise ContractError(
                    f"step {step.name!r} references unknown parameter {ref!r}; declared: {', '.join(names)}"
                )
        for volume in step.claims:
            if volume not in volumes:
                raise ContractError(f"step {step.name!r} mounts unknown claim {volume!r}")
        for folder in (a for a in step.args if isinstance(a, ClaimPath)):
            if folder.claim.volume not in step.claims:
                raise ContractError(
                    f"step {step.name!r} passes a folder of claim {folder.claim.volume!r} it does not mount"
                )
        for mounted in step.files:
            if mounted.kind not in (SECRET, CONFIG_MAP):
                raise ContractError(f"step {step.name!r}: {mounted.volume!r} is neither a secret nor a configMap")
            parameter: Optional[Parameter] = next((p for p in parameters if p.name == mounted.parameter), None)
            if parameter is not None and parameter.default != "":
                raise ContractError(
                    f"parameter {parameter.name!r} names an optional {mounted.kind}: its default must be empty (none)"
                )
        for before in step.after:
            if before not in written:
                raise ContractError(f"step {step.name!r} runs after unknown or later step {before!r}")
        available = [o for before in step.after for o in written[before]]
        _check_args(step, parameters, available)
        _check_run_outputs(step)
        written[step.name] = tuple(available) + step.outputs
