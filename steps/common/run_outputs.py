"""A step's run outputs (steps/contract/ `RunOutput`): its `--<name>-file` flags, and the copies they ask for.

The step writes each result into the workspace in any case. Given `--<name>-file <path>` (KFP sets
the path of an output artifact or parameter, Argo a file it reads as an output parameter), the step
CLI also copies the result there, after the step succeeded: the orchestrator shows exactly what
the workspace holds, and a local run (no flags) writes the same workspace files.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Dict, List, Mapping

from ..contract import COUNT, KFP_EXECUTOR_OUTPUT_FLAG, METRICS, step_named
from .atomic import write_bytes
from .config import is_set
from .errors import StepError


def add_flags(parser: argparse.ArgumentParser, step: str) -> None:
    """One `--<name>-file` flag per run output of `step` in the contract."""
    for output in step_named(step).run_outputs:
        parser.add_argument(
            output.flag,
            metavar="PATH",
            help=f"also copy {output.description} to PATH after a successful run (set by the pipeline)",
        )
    if any(output.kind == METRICS for output in step_named(step).run_outputs):
        parser.add_argument(
            KFP_EXECUTOR_OUTPUT_FLAG,
            metavar="PATH",
            help="write KFP's executor output to PATH after a successful run: the metrics as the Metrics "
            "artifact's metadata, which the run page's metrics table reads (set by the KFP pipeline)",
        )


def deliver(args: argparse.Namespace, step: str, contents: Mapping[str, bytes]) -> List[Path]:
    """Write `contents[name]` to the path of each run output flag that was given; the paths written.

    A step that finished must provide every one of its run outputs (a missing one is a bug, said as
    a StepError); each copy is atomic (steps/common/atomic.py), its folder created when missing.
    """
    written = []
    for output in step_named(step).run_outputs:
        target = getattr(args, output.flag.lstrip("-").replace("-", "_"), None)
        if not is_set(target):
            continue
        if output.name not in contents:
            raise StepError(f"{step} produced no {output.description} for {output.flag}")
        written.append(write_bytes(Path(str(target)), contents[output.name]))
    executor = getattr(args, KFP_EXECUTOR_OUTPUT_FLAG.lstrip("-").replace("-", "_"), None)
    if is_set(executor):
        written.append(write_bytes(Path(str(executor)), json.dumps(executor_output(step, contents)).encode()))
    return written


def executor_output(step: str, contents: Mapping[str, bytes]) -> Dict[str, Any]:
    """KFP's ExecutorOutput for a container step: each METRICS output's metrics as its artifact's metadata
    (name -> number; what the KFP SDK's own executor records for `Metrics.log_metric`), each COUNT output
    as a parameter value (the launcher takes the executor output's values when it has one)."""
    artifacts: Dict[str, Any] = {}
    parameters: Dict[str, Any] = {}
    for output in step_named(step).run_outputs:
        if output.kind == METRICS:
            document = json.loads(contents[output.name])
            metadata = {metric["name"]: metric["numberValue"] for metric in document.get("metrics", [])}
            artifacts[output.name] = {"artifacts": [{"metadata": metadata}]}
        elif output.kind == COUNT:
            parameters[output.name] = int(contents[output.name].decode().strip())
    return {"artifacts": artifacts, "parameterValues": parameters}
