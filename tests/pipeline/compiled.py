"""Read the committed KFP spec back into concrete step invocations (used by the local and container runs).

The point is to run exactly what a cluster would run: the command, arguments and environment
come from manifests/kfp/, with each parameter placeholder replaced by its value ("" when unset).
An optional input without a default (a Secret or ConfigMap name) is absent unless given: its
`IfPresent` arguments are dropped, as the KFP driver drops its volume. A run output's path (an
output artifact's or output parameter's placeholder) becomes `<outputs_dir>/<name>` when an
outputs folder is given; without one, the flag and its path are dropped, as in a local run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

import yaml

PLACEHOLDER = re.compile(r"\{\{\$\.inputs\.parameters\['([A-Za-z0-9_]+)'\]\}\}")
OUTPUT_PLACEHOLDER = re.compile(
    r"\{\{\$\.outputs\.(?:artifacts\['([a-z0-9_]+)'\]\.path|parameters\['([a-z0-9_]+)'\]\.output_file|(output_file))\}\}"
)
EXECUTOR_OUTPUT = "executor_output"  # the task's executor output file ({{$.outputs.output_file}})


@dataclass(frozen=True)
class Invocation:
    step: str
    image: str
    command: List[str]
    args: List[str]
    env: Dict[str, str]
    mounts: List[Tuple[str, str]]  # (claim parameter, mount path)
    # (Secret or ConfigMap name, mount path) of the object volumes the driver would add (named inputs only)
    objects: List[Tuple[str, str]] = field(default_factory=list)
    scratch: List[str] = field(default_factory=list)  # emptyDir mount paths (/tmp)
    security: Dict[str, object] = field(default_factory=dict)
    outputs: Dict[str, str] = field(default_factory=dict)  # run output name -> the path the step copies it to


def _defaults(definitions: Mapping[str, dict]) -> Dict[str, Optional[str]]:
    """Default of each root parameter: its defaultValue; None (absent) for an optional one without."""
    return {k: v.get("defaultValue", None if v.get("isOptional") else "") for k, v in definitions.items()}


def _render(arg: str, inputs: Mapping[str, Optional[str]]) -> List[str]:
    """One compiled argument: placeholders substituted; an IfPresent block expanded or dropped."""
    if arg.startswith('{"IfPresent"'):
        block = json.loads(arg)["IfPresent"]
        if inputs.get(block["InputName"]) is None:
            return []
        return [rendered for item in block["Then"] for rendered in _render(item, inputs)]
    return [PLACEHOLDER.sub(lambda m: inputs[m.group(1)], arg)]


def _outputs(args: List[str], outputs_dir: Optional[str]) -> Tuple[List[str], Dict[str, str]]:
    """Run output paths: `<outputs_dir>/<name>`, or (no folder) each `flag path` pair dropped."""
    kept: List[str] = []
    paths: Dict[str, str] = {}
    for arg in args:
        found = OUTPUT_PLACEHOLDER.fullmatch(arg)
        if found is None:
            kept.append(arg)
            continue
        name = found.group(1) or found.group(2) or EXECUTOR_OUTPUT
        if outputs_dir is None:
            kept.pop()  # the flag before it
        else:
            paths[name] = f"{outputs_dir}/{name}"
            kept.append(paths[name])
    return kept, paths


def load_invocations(
    kfp_file: Path, values: Mapping[str, Optional[str]], outputs_dir: Optional[str] = None
) -> List[Invocation]:
    """Invocations in DAG order with the pipeline parameters `values` (missing ones get their default); run
    outputs go to `outputs_dir` (None: not asked for)."""
    spec, platform = list(yaml.safe_load_all(kfp_file.read_text(encoding="utf-8")))
    defaults = _defaults(spec["root"]["inputDefinitions"]["parameters"])
    unknown = set(values) - set(defaults)
    assert not unknown, f"not pipeline parameters: {sorted(unknown)}"
    params = {**defaults, **values}
    tasks = spec["root"]["dag"]["tasks"]
    ordered: List[str] = []
    while len(ordered) < len(tasks):
        ready = sorted(
            n for n, t in tasks.items() if n not in ordered and set(t.get("dependentTasks", [])) <= set(ordered)
        )
        assert ready, "cycle in the DAG"
        ordered.append(ready[0])
    platform_executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    invocations = []
    for name in ordered:
        task = tasks[name]
        inputs = {k: params[v["componentInputParameter"]] for k, v in task["inputs"]["parameters"].items()}
        executor = spec["components"][task["componentRef"]["name"]]["executorLabel"]
        container = spec["deploymentSpec"]["executors"][executor]["container"]
        kubernetes = platform_executors.get(executor, {})
        objects = [
            (params[v[key]["componentInputParameter"]], v["mountPath"])
            for kind, key in (
                ("secretAsVolume", "secretNameParameter"),
                ("configMapAsVolume", "configMapNameParameter"),
            )
            for v in kubernetes.get(kind, [])
        ]
        args, outputs = _outputs([rendered for a in container["args"] for rendered in _render(a, inputs)], outputs_dir)
        invocations.append(
            Invocation(
                step=name,
                image=container["image"],
                command=list(container["command"]),
                args=args,
                outputs=outputs,
                env={e["name"]: e["value"] for e in container.get("env", [])},
                mounts=[
                    (m["pvcNameParameter"]["componentInputParameter"], m["mountPath"])
                    for m in kubernetes.get("pvcMount", [])
                ],
                objects=[(name_, path) for name_, path in objects if name_ is not None],
                scratch=[m["mountPath"] for m in kubernetes.get("emptyDirMounts", [])],
                security=dict(kubernetes.get("securityContext", {})),
            )
        )
    return invocations


def relocate(text: str, mounts: Mapping[str, Path]) -> str:
    """Map a container path (under a mount point) to the host folder standing in for the claim."""
    for mount_path, host in mounts.items():
        if text == mount_path or text.startswith(mount_path + "/"):
            return str(host) + text[len(mount_path) :]
    return text
