"""KFP v2 emitter: one container component and one task per step, compiled to the spec YAML.

kfp and kfp-kubernetes are imported inside the functions (optional extra `[pipeline]`).

A step's run outputs (steps/contract/ `RunOutput`) are the component's outputs: Markdown and Metrics
artifacts and an integer output parameter, whose paths the step gets with their `--<name>-file` flags.

What kfp-kubernetes 2.17.3 can say about a task's pod, and what it cannot:
- it sets runAsUser/runAsGroup/runAsNonRoot (`set_security_context`), the emptyDir for the
  temporary folder (`empty_dir_mount`), the claims, and the Secret/ConfigMap volumes;
- it cannot set allowPrivilegeEscalation, capabilities, seccompProfile, readOnlyRootFilesystem
  or the pod's fsGroup. KFP backends that enforce container security defaults set the first three
  on every user container themselves; the rest is left to the cluster (an admission policy).
`SECURITY_NOTE` says so in the compiled spec's description.
"""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path
from typing import Callable, Dict, Mapping, Optional, Sequence, Set

from steps.contract import COUNT, KFP_EXECUTOR_OUTPUT_FLAG, MARKDOWN, METRICS, SECRET, Parameter, RunOutput, Step

from .definition import Definition

SECURITY_NOTE = (
    "Pod security: kfp-kubernetes sets runAsUser/runAsGroup {uid} and runAsNonRoot, and an emptyDir at {tmp} "
    "(TMPDIR, HOME, MPLCONFIGDIR point there). It cannot express allowPrivilegeEscalation=false, capabilities "
    "drop ALL or the RuntimeDefault seccomp profile (KFP backends that enforce container security defaults set "
    "them), nor readOnlyRootFilesystem or fsGroup (left to the cluster). Secret and ConfigMap names "
    "(PROM_TOKEN_SECRET, PROM_CA_CONFIGMAP) are optional inputs: leave them out for none."
)


def input_name(parameter: str) -> str:
    """Component input name of a pipeline parameter (pipeline parameters stay upper case)."""
    return parameter.lower()


def description(d: Definition) -> str:
    """The pipeline's description with the pod security note."""
    return f"{d.description} {SECURITY_NOTE.format(uid=d.run_as_user, tmp=d.scratch_mount)}"


def _signature(
    names: Sequence[str], optional: Set[str], defaults: Optional[Mapping[str, str]] = None
) -> inspect.Signature:
    """str inputs (with `defaults` when given); the `optional` ones are Optional[str] = None (absent = none)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    result = []
    for name in names:
        if name in optional:
            result.append(inspect.Parameter(name, kind, annotation=Optional[str], default=None))
        elif defaults is not None:
            result.append(inspect.Parameter(name, kind, annotation=str, default=defaults[name]))
        else:
            result.append(inspect.Parameter(name, kind, annotation=str))
    return inspect.Signature(result)


def _output_annotation(output: RunOutput):
    """A run output as KFP sees it: a Markdown or Metrics artifact, or an integer output parameter."""
    from kfp import dsl

    return {
        MARKDOWN: dsl.Output[dsl.Markdown],
        METRICS: dsl.Output[dsl.Metrics],
        COUNT: dsl.OutputPath(int),
    }[output.kind]


def _with_outputs(signature: inspect.Signature, outputs: Sequence[RunOutput]) -> inspect.Signature:
    """The component's signature: one output per run output (named as in the contract), then its inputs
    (first, because optional inputs have defaults and outputs have none)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    extra = [inspect.Parameter(o.name, kind, annotation=_output_annotation(o)) for o in outputs]
    return signature.replace(parameters=extra + list(signature.parameters.values()))


def _output_path(value):
    """Where KFP wants an output's file: an artifact's `.path`, an output parameter's placeholder itself."""
    return getattr(value, "path", value)


def _optional(parameters: Sequence[Parameter], rename: Callable[[str], str] = str) -> Set[str]:
    return {rename(p.name) for p in parameters if p.kfp_optional}


def _component(step: Step, d: Definition):
    """A @dsl.container_component for one step: its inputs are the parameters it needs, its outputs the
    step's run outputs, whose paths the step gets with their flags (`--<name>-file <path>`)."""
    from kfp import dsl

    refs = step.input_names()

    def body(*values: str):
        outputs = len(step.run_outputs)
        by_name = dict(zip(refs, values[outputs:]))
        paths = dict(zip([o.name for o in step.run_outputs], values[:outputs]))
        args = step.render_args(lambda name: by_name[name])
        args += step.run_output_args(lambda output: _output_path(paths[output.name]))
        if any(output.kind == METRICS for output in step.run_outputs):  # the run page's metrics table
            args += [KFP_EXECUTOR_OUTPUT_FLAG, dsl.PIPELINE_TASK_EXECUTOR_OUTPUT_PATH_PLACEHOLDER]
        for mounted in step.files:  # `--flag <path>` only when the Secret/ConfigMap name was given
            args.append(dsl.IfPresentPlaceholder(input_name=input_name(mounted.parameter), then=mounted.args))
        return dsl.ContainerSpec(image=d.image(step), command=step.command, args=args)

    body.__name__ = step.name
    body.__qualname__ = step.name
    body.__doc__ = " ".join(step.command)
    signature = _signature([input_name(n) for n in refs], _optional(d.parameters, input_name))
    signature = _with_outputs(signature, step.run_outputs)
    body.__signature__ = signature  # type: ignore[attr-defined]
    body.__annotations__ = {n: p.annotation for n, p in signature.parameters.items()}
    return dsl.container_component(body)


def _configure(task, step: Step, d: Definition, params: Mapping[str, object]) -> None:
    """Everything about the task's pod: caching, env, resources, security, volumes."""
    from kfp import kubernetes

    task.set_display_name(step.name)
    task.set_caching_options(False)
    for key, value in d.env:
        task.set_env_variable(key, value)
    task.set_cpu_request(step.resources.cpu_request)
    task.set_cpu_limit(step.resources.cpu_limit)
    task.set_memory_request(step.resources.memory_request)
    task.set_memory_limit(step.resources.memory_limit)
    kubernetes.set_security_context(task, run_as_user=d.run_as_user, run_as_group=d.run_as_user, run_as_non_root=True)
    kubernetes.empty_dir_mount(task, volume_name=d.scratch_volume, mount_path=d.scratch_mount)
    for volume in step.claims:
        claim = d.claim(volume)
        kubernetes.mount_pvc(task, pvc_name=params[claim.parameter], mount_path=claim.mount_path)
    for mounted in step.files:
        # An unset optional input resolves to null and the KFP driver adds no volume for it.
        if mounted.kind == SECRET:
            kubernetes.use_secret_as_volume(
                task, secret_name=params[mounted.parameter], mount_path=mounted.mount_path, optional=True
            )
        else:
            kubernetes.use_config_map_as_volume(
                task, config_map_name=params[mounted.parameter], mount_path=mounted.mount_path, optional=True
            )


def build_pipeline(d: Definition):
    """The KFP pipeline object: one task per step, caching off, claims mounted by parameter."""
    from kfp import dsl

    components = {step.name: _component(step, d) for step in d.steps}
    names = [p.name for p in d.parameters]

    def body(*values):
        params = dict(zip(names, values))
        tasks: Dict[str, object] = {}
        for step in d.steps:
            task = components[step.name](**{input_name(n): params[n] for n in step.input_names()})
            _configure(task, step, d, params)
            for before in step.after:
                task.after(tasks[before])
            tasks[step.name] = task

    body.__name__ = d.name.replace("-", "_")
    body.__qualname__ = body.__name__
    body.__doc__ = description(d)
    signature = _signature(names, _optional(d.parameters), d.defaults())
    body.__signature__ = signature  # type: ignore[attr-defined]
    body.__annotations__ = {n: p.annotation for n, p in signature.parameters.items()}
    return dsl.pipeline(name=d.name, description=description(d))(body)


def compile_spec(d: Definition) -> str:
    """The compiled KFP spec (pipeline spec + Kubernetes platform spec) as YAML text."""
    from kfp import compiler

    pipeline = build_pipeline(d)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pipeline.yaml"
        compiler.Compiler().compile(pipeline, str(path))
        return path.read_text(encoding="utf-8")
