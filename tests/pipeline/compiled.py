"""Read the committed KFP spec back into concrete step invocations (used by the local and container runs).

The point is to run exactly what a cluster would run: the command, arguments and environment
come from manifests/kfp/, with each parameter placeholder replaced by its value ("" when unset).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Tuple

import yaml

PLACEHOLDER = re.compile(r"\{\{\$\.inputs\.parameters\['([A-Za-z0-9_]+)'\]\}\}")


@dataclass(frozen=True)
class Invocation:
    step: str
    image: str
    command: List[str]
    args: List[str]
    env: Dict[str, str]
    mounts: List[Tuple[str, str]]   # (claim parameter, mount path)


def load_invocations(kfp_file: Path, values: Mapping[str, str]) -> List[Invocation]:
    """Invocations in DAG order with the pipeline parameters `values` (missing ones get their default)."""
    spec, platform = list(yaml.safe_load_all(kfp_file.read_text(encoding="utf-8")))
    defaults = {k: v.get("defaultValue", "") for k, v in spec["root"]["inputDefinitions"]["parameters"].items()}
    unknown = set(values) - set(defaults)
    assert not unknown, f"not pipeline parameters: {sorted(unknown)}"
    params = {**defaults, **values}
    tasks = spec["root"]["dag"]["tasks"]
    ordered: List[str] = []
    while len(ordered) < len(tasks):
        ready = sorted(n for n, t in tasks.items()
                       if n not in ordered and set(t.get("dependentTasks", [])) <= set(ordered))
        assert ready, "cycle in the DAG"
        ordered.append(ready[0])
    platform_executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    invocations = []
    for name in ordered:
        task = tasks[name]
        inputs = {k: params[v["componentInputParameter"]] for k, v in task["inputs"]["parameters"].items()}
        executor = spec["components"][task["componentRef"]["name"]]["executorLabel"]
        container = spec["deploymentSpec"]["executors"][executor]["container"]
        invocations.append(Invocation(
            step=name,
            image=container["image"],
            command=list(container["command"]),
            args=[PLACEHOLDER.sub(lambda m: inputs[m.group(1)], a) for a in container["args"]],
            env={e["name"]: e["value"] for e in container.get("env", [])},
            mounts=[(m["pvcNameParameter"]["componentInputParameter"], m["mountPath"])
                    for m in platform_executors.get(executor, {}).get("pvcMount", [])],
        ))
    return invocations


def relocate(text: str, mounts: Mapping[str, Path]) -> str:
    """Map a container path (under a mount point) to the host folder standing in for the claim."""
    for mount_path, host in mounts.items():
        if text == mount_path or text.startswith(mount_path + "/"):
            return str(host) + text[len(mount_path):]
    return text
