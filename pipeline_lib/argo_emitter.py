"""Argo emitter: the WorkflowTemplate (DAG of the step table) and the run file for `kubectl create`.

A step with optional Secret/ConfigMap files becomes one template per combination of them
(`query`, `query-prom-ca`, `query-prom-token`, `query-prom-token-prom-ca`), each a DAG task whose
`when` holds for exactly one combination of set/unset parameters: Kubernetes refuses a volume
with an empty name, so an unset name must mean no volume at all, not an empty one. The next step
depends on all of them (a skipped task counts as done).

A step's run outputs (steps/contract/ `RunOutput`) are its template's output parameters, read from
the files the step copies into the scratch emptyDir (`--<name>-file /tmp/kepler-model-outputs/...`).
"""

from __future__ import annotations

from typing import List, Tuple

from steps.contract import SECRET, MountedFile, RunOutput, Step

from .definition import Definition
from .kube_objects import labels


def parameter(name: str) -> str:
    """An Argo reference to a workflow parameter."""
    return "{{workflow.parameters.%s}}" % name


# The folder of the scratch emptyDir the steps copy their run outputs into (see output_path).
OUTPUTS_FOLDER = "kepler-model-outputs"

# Every step container: no privilege escalation, no capabilities, the runtime's seccomp profile,
# a read-only root filesystem (the temporary folder is an emptyDir), never root.
CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def pod_security(d: Definition) -> dict:
    """The pod's context: the image user, and fsGroup so a fresh claim is writable by it."""
    return {
        "runAsNonRoot": True,
        "runAsUser": d.run_as_user,
        "runAsGroup": d.run_as_user,
        "fsGroup": d.run_as_user,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def variant_name(step: Step, files: Tuple[MountedFile, ...]) -> str:
    """The template (and task) name of a step with these optional files mounted."""
    return "-".join([step.name] + [f.volume for f in files])


def variant_names(step: Step) -> List[str]:
    """Every variant's name, the one without files first."""
    return [variant_name(step, files) for files, _mask in step.variants()]


def _when(step: Step, mask: Tuple[bool, ...]) -> str:
    return " && ".join(f"'{parameter(f.parameter)}' {'!=' if on else '=='} ''" for f, on in zip(step.files, mask))


def _file_volume(mounted: MountedFile) -> dict:
    name = parameter(mounted.parameter)
    source = {"secretName": name} if mounted.kind == SECRET else {"name": name}
    return {"name": mounted.volume, mounted.kind: {**source, "optional": True}}


def output_path(d: Definition, output: RunOutput) -> str:
    """Where the step copies a run output for Argo: the scratch emptyDir, which the executor reads
    output parameters from even with a read-only root filesystem."""
    return f"{d.scratch_mount}/{OUTPUTS_FOLDER}/{output.file_name}"


def _outputs(step: Step, d: Definition) -> dict:
    """The step's run outputs as output parameters (shown on the node's Outputs, usable by later tasks)."""
    return {
        "parameters": [
            {"name": o.argo_name, "description": o.description, "valueFrom": {"path": output_path(d, o)}}
            for o in step.run_outputs
        ]
    }


def _container_template(step: Step, files: Tuple[MountedFile, ...], d: Definition) -> dict:
    args = step.render_args(parameter) + step.run_output_args(lambda output: output_path(d, output))
    for mounted in files:
        args += mounted.args
    template = {
        "name": variant_name(step, files),
        "container": {
            "image": d.image(step),
            "command": step.command,
            "args": args,
            "env": [{"name": k, "value": v} for k, v in d.env],
            "volumeMounts": (
                [{"name": v, "mountPath": d.claim(v).mount_path} for v in step.claims]
                + [{"name": d.scratch_volume, "mountPath": d.scratch_mount}]
                + [{"name": f.volume, "mountPath": f.mount_path, "readOnly": True} for f in files]
            ),
            "resources": {
                "requests": {"cpu": step.resources.cpu_request, "memory": step.resources.memory_request},
                "limits": {"cpu": step.resources.cpu_limit, "memory": step.resources.memory_limit},
            },
            "securityContext": dict(CONTAINER_SECURITY),
        },
    }
    if files:
        template["volumes"] = [_file_volume(f) for f in files]
    if step.run_outputs:
        template["outputs"] = _outputs(step, d)
    return template


def workflow_template(d: Definition) -> dict:
    """A WorkflowTemplate with the DAG of the step table and volumes from claim-name parameters."""
    by_name = {step.name: step for step in d.steps}
    tasks: List[dict] = []
    templates: List[dict] = []
    for step in d.steps:
        depends = " && ".join(name for before in step.after for name in variant_names(by_name[before]))
        for files, mask in step.variants():
            task = {"name": variant_name(step, files), "template": variant_name(step, files)}
            if depends:
                task["depends"] = depends
            if step.files:
                task["when"] = _when(step, mask)
            tasks.append(task)
            templates.append(_container_template(step, files, d))
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": d.name, "labels": labels()},
        "spec": {
            "entrypoint": "main",
            "serviceAccountName": d.service_account,
            "securityContext": pod_security(d),
            "arguments": {
                "parameters": [{"name": p.name, "value": p.default, "description": p.description} for p in d.parameters]
            },
            "volumes": (
                [{"name": c.volume, "persistentVolumeClaim": {"claimName": parameter(c.parameter)}} for c in d.claims]
                + [{"name": d.scratch_volume, "emptyDir": {}}]
            ),
            "templates": [{"name": "main", "dag": {"tasks": tasks}}] + templates,
        },
    }


def run(d: Definition) -> dict:
    """A Workflow for `kubectl create` (generateName) that runs the template with every parameter."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": f"{d.name}-", "labels": labels()},
        "spec": {
            "workflowTemplateRef": {"name": d.name},
            "arguments": {"parameters": [{"name": p.name, "value": p.default} for p in d.parameters]},
        },
    }
