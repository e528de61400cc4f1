"""Define the kepler-model pipeline once and compile it to a KFP v2 spec and Argo/Kubernetes manifests.

One table of parameters and one table of steps (image, command, arguments built from parameters,
environment, mounts, resources) feed two emitters, so the KFP spec and the Argo WorkflowTemplate
cannot drift apart. `python pipeline.py` regenerates every file under manifests/; a golden test
regenerates them again and fails on any difference.

kfp is imported here only (optional extra `[pipeline]`), inside the KFP emitter; step code and
step images never import it.
"""

from __future__ import annotations

import argparse
import inspect
import io
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import yaml

from steps import DEFAULT_PIPELINE_NAME, __version__  # light constants only, no ML code

HERE = Path(__file__).resolve().parent

# -- images: the ONE place where registry and tag are set (overridable by env or flag) --------------
IMAGE_REGISTRY = "quay.io/sustainable_computing_io"
IMAGE_TAG = f"v{__version__}"
IMAGE_REGISTRY_VARIABLE = "KEPLER_MODEL_IMAGE_REGISTRY"
IMAGE_TAG_VARIABLE = "KEPLER_MODEL_IMAGE_TAG"
# The non-root user of every step image (images/*/Dockerfile `USER`); Argo's pod securityContext
# uses it so a fresh claim is writable (fsGroup).
RUN_AS_USER = 1000

PIPELINE_NAME = "kepler-model-pipeline"
PIPELINE_DESCRIPTION = "Query Kepler metrics from Prometheus, train power models, export them to a kepler-model-db folder."
NAMESPACE = "kepler-model"
SERVICE_ACCOUNT = "kepler-model-pipeline"
OUTPUT_DIR = HERE / "manifests"
KFP_FILE = Path("kfp") / "kepler-model-pipeline.yaml"

# Where the claims are mounted in every step container.
WORKSPACE_MOUNT = "/workspace"
MODEL_DB_MOUNT = "/model-db"
QUERY_OUTPUT = "kepler_query"


@dataclass(frozen=True)
class Parameter:
    """A pipeline parameter: always a string, "" means "not set" for the step CLIs."""

    name: str
    default: str
    description: str


@dataclass(frozen=True)
class Claim:
    """A PersistentVolumeClaim the pipeline mounts, named by a parameter (an existing claim)."""

    parameter: str       # parameter holding the claim name
    volume: str          # volume name inside the pod
    mount_path: str
    size: str            # size of the claim in the shipped PVC manifest
    description: str


# Order here is the order users see in KFP and Argo.
PARAMETERS: Tuple[Parameter, ...] = (
    Parameter("BENCHMARK", "", "benchmark name; query saves the window as <BENCHMARK>.json, export reads its start as the collect time"),
    Parameter("PROM_URL", "http://prometheus-k8s.monitoring.svc:9090", "Prometheus base URL"),
    Parameter("COLLECT_ID", "", "machine id (e.g. the node name); names the machine spec"),
    Parameter("PIPELINE_NAME", DEFAULT_PIPELINE_NAME, "pipeline (model folder) name"),
    Parameter("COLLECT_DATE", "", "collect time as free text; wins over the benchmark start in export"),
    Parameter("START_TIME", "", "window start, UTC YYYY-MM-DDTHH:MM:SSZ (with END_TIME)"),
    Parameter("END_TIME", "", "window end, UTC YYYY-MM-DDTHH:MM:SSZ (with START_TIME)"),
    Parameter("INTERVAL", "", "window length in seconds ending now, when START_TIME/END_TIME are unset"),
    Parameter("STEP", "", "query resolution: seconds or a Prometheus duration"),
    Parameter("PUBLISHER", "", "GitHub account of the publisher (required by export)"),
    Parameter("WORKSPACE_CLAIM", "kepler-model-workspace", "existing PVC shared by the steps (workspace)"),
    Parameter("MODEL_DB_CLAIM", "kepler-model-db", "existing PVC holding the kepler-model-db folder; outlives runs"),
)

CLAIMS: Tuple[Claim, ...] = (
    Claim("WORKSPACE_CLAIM", "workspace", WORKSPACE_MOUNT, "10Gi", "query responses and trained pipelines"),
    Claim("MODEL_DB_CLAIM", "model-db", MODEL_DB_MOUNT, "1Gi", "the exported kepler-model-db models folder"),
)

# Constant environment of every step (values are constants, so KFP's set_env_variable works).
STEP_ENV: Tuple[Tuple[str, str], ...] = (
    ("DATAPATH", f"{WORKSPACE_MOUNT}/data"),
    ("MODEL_PATH", f"{WORKSPACE_MOUNT}/models"),
)


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
    claims: Tuple[str, ...]          # volume names of CLAIMS to mount
    resources: Resources
    after: Tuple[str, ...] = ()

    @property
    def command(self) -> List[str]:
        return ["kepler-model", self.name]

    def image(self, registry: str, tag: str) -> str:
        return image_name(self.name, registry, tag)

    def parameter_names(self) -> List[str]:
        """The parameters this step's arguments reference, in first-use order."""
        seen: List[str] = []
        for arg in self.args:
            if isinstance(arg, Ref) and arg.parameter not in seen:
                seen.append(arg.parameter)
        return seen

    def render_args(self, value: Callable[[str], str]) -> List[str]:
        return [value(a.parameter) if isinstance(a, Ref) else a for a in self.args]


STEPS: Tuple[Step, ...] = (
    Step(
        name="query",
        args=("--benchmark", Ref("BENCHMARK"), "--server", Ref("PROM_URL"), "--output", QUERY_OUTPUT,
              "--start-time", Ref("START_TIME"), "--end-time", Ref("END_TIME"),
              "--interval", Ref("INTERVAL"), "--step", Ref("STEP"), "--id", Ref("COLLECT_ID")),
        claims=("workspace",),
        resources=Resources("500m", "2", "1Gi", "4Gi"),
    ),
    Step(
        name="train",
        args=("--pipeline-name", Ref("PIPELINE_NAME"), "--input", QUERY_OUTPUT, "--id", Ref("COLLECT_ID")),
        claims=("workspace",),
        resources=Resources("1", "4", "2Gi", "8Gi"),
        after=("query",),
    ),
    Step(
        name="export",
        args=("--benchmark", Ref("BENCHMARK"), "--collect-date", Ref("COLLECT_DATE"),
              "--pipeline-name", Ref("PIPELINE_NAME"), "-o", f"{MODEL_DB_MOUNT}/models",
              "--publisher", Ref("PUBLISHER"), "--zip=true"),
        claims=("workspace", "model-db"),
        resources=Resources("250m", "1", "512Mi", "2Gi"),
        after=("train",),
    ),
)


def image_name(step: str, registry: str = IMAGE_REGISTRY, tag: str = IMAGE_TAG) -> str:
    return f"{registry.rstrip('/')}/kepler-model-{step}:{tag}"


def image_settings(registry: Optional[str] = None, tag: Optional[str] = None,
                   environ: Optional[Mapping[str, str]] = None) -> Tuple[str, str]:
    """Flag, then environment, then the constants above."""
    environ = os.environ if environ is None else environ
    return (registry or environ.get(IMAGE_REGISTRY_VARIABLE) or IMAGE_REGISTRY,
            tag or environ.get(IMAGE_TAG_VARIABLE) or IMAGE_TAG)


class PipelineDefinitionError(ValueError):
    """The step table references something that is not declared."""


def check_definition(parameters: Optional[Sequence[Parameter]] = None, steps: Optional[Sequence[Step]] = None,
                     claims: Optional[Sequence[Claim]] = None) -> None:
    """Fail at compile time on an unknown parameter, claim or dependency, or a duplicate name."""
    parameters = PARAMETERS if parameters is None else parameters
    steps = STEPS if steps is None else steps
    claims = CLAIMS if claims is None else claims
    names = [p.name for p in parameters]
    if len(set(names)) != len(names):
        raise PipelineDefinitionError(f"duplicate parameter names in {names}")
    volumes = {c.volume for c in claims}
    for claim in claims:
        if claim.parameter not in names:
            raise PipelineDefinitionError(f"claim {claim.volume!r} uses unknown parameter {claim.parameter!r}")
    step_names: List[str] = []
    for step in steps:
        for ref in step.parameter_names():
            if ref not in names:
                raise PipelineDefinitionError(
                    f"step {step.name!r} references unknown parameter {ref!r}; declared: {', '.join(names)}")
        for volume in step.claims:
            if volume not in volumes:
                raise PipelineDefinitionError(f"step {step.name!r} mounts unknown claim {volume!r}")
        for before in step.after:
            if before not in step_names:
                raise PipelineDefinitionError(f"step {step.name!r} runs after unknown or later step {before!r}")
        step_names.append(step.name)


def _claim(volume: str) -> Claim:
    return next(c for c in CLAIMS if c.volume == volume)


# -- KFP v2 emitter -------------------------------------------------------------------------------

def _input_name(parameter: str) -> str:
    """Component input name of a pipeline parameter (pipeline parameters stay upper case)."""
    return parameter.lower()


def _signature(names: Sequence[str], defaults: Optional[Mapping[str, str]] = None) -> inspect.Signature:
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Signature([
        inspect.Parameter(n, kind, annotation=str,
                          **({"default": defaults[n]} if defaults is not None else {}))
        for n in names])


def _kfp_component(step: Step, registry: str, tag: str):
    """A @dsl.container_component for one step, its inputs being the parameters it references."""
    from kfp import dsl

    refs = step.parameter_names()

    def body(*values: str):
        by_name = dict(zip(refs, values))
        return dsl.ContainerSpec(image=step.image(registry, tag), command=step.command,
                                 args=step.render_args(lambda name: by_name[name]))

    body.__name__ = step.name
    body.__qualname__ = step.name
    body.__doc__ = f"kepler-model {step.name}"
    body.__signature__ = _signature([_input_name(n) for n in refs])  # type: ignore[attr-defined]
    body.__annotations__ = {_input_name(n): str for n in refs}
    return dsl.container_component(body)


def build_kfp_pipeline(registry: str = IMAGE_REGISTRY, tag: str = IMAGE_TAG):
    """The KFP pipeline object: one task per step, caching off, claims mounted by parameter."""
    from kfp import dsl, kubernetes

    check_definition()
    components = {step.name: _kfp_component(step, registry, tag) for step in STEPS}
    names = [p.name for p in PARAMETERS]

    def body(*values):
        params = dict(zip(names, values))
        tasks: Dict[str, object] = {}
        for step in STEPS:
            task = components[step.name](**{_input_name(n): params[n] for n in step.parameter_names()})
            task.set_display_name(step.name)
            task.set_caching_options(False)
            for key, value in STEP_ENV:
                task.set_env_variable(key, value)
            task.set_cpu_request(step.resources.cpu_request)
            task.set_cpu_limit(step.resources.cpu_limit)
            task.set_memory_request(step.resources.memory_request)
            task.set_memory_limit(step.resources.memory_limit)
            for volume in step.claims:
                claim = _claim(volume)
                kubernetes.mount_pvc(task, pvc_name=params[claim.parameter], mount_path=claim.mount_path)
            for before in step.after:
                task.after(tasks[before])
            tasks[step.name] = task

    body.__name__ = PIPELINE_NAME.replace("-", "_")
    body.__qualname__ = body.__name__
    body.__doc__ = PIPELINE_DESCRIPTION
    body.__signature__ = _signature(names, {p.name: p.default for p in PARAMETERS})  # type: ignore[attr-defined]
    body.__annotations__ = {n: str for n in names}
    return dsl.pipeline(name=PIPELINE_NAME, description=PIPELINE_DESCRIPTION)(body)


def compile_kfp(registry: str = IMAGE_REGISTRY, tag: str = IMAGE_TAG) -> str:
    """The compiled KFP spec (pipeline spec + Kubernetes platform spec) as YAML text."""
    from kfp import compiler

    pipeline = build_kfp_pipeline(registry, tag)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pipeline.yaml"
        compiler.Compiler().compile(pipeline, str(path))
        return path.read_text(encoding="utf-8")


# -- Argo / Kubernetes emitter --------------------------------------------------------------------

def _argo_parameter(name: str) -> str:
    return "{{workflow.parameters.%s}}" % name


def argo_workflow_template(registry: str = IMAGE_REGISTRY, tag: str = IMAGE_TAG) -> dict:
    """A WorkflowTemplate with the DAG of the step table and volumes from claim-name parameters."""
    check_definition()
    templates: List[dict] = [{
        "name": "main",
        "dag": {"tasks": [
            {"name": step.name, "template": step.name,
             **({"depends": " && ".join(step.after)} if step.after else {})}
            for step in STEPS]},
    }]
    for step in STEPS:
        templates.append({
            "name": step.name,
            "container": {
                "image": step.image(registry, tag),
                "command": step.command,
                "args": step.render_args(_argo_parameter),
                "env": [{"name": k, "value": v} for k, v in STEP_ENV],
                "volumeMounts": [{"name": v, "mountPath": _claim(v).mount_path} for v in step.claims],
                "resources": {
                    "requests": {"cpu": step.resources.cpu_request, "memory": step.resources.memory_request},
                    "limits": {"cpu": step.resources.cpu_limit, "memory": step.resources.memory_limit},
                },
            },
        })
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": PIPELINE_NAME, "labels": _labels()},
        "spec": {
            "entrypoint": "main",
            "serviceAccountName": SERVICE_ACCOUNT,
            "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS_USER,
                                "runAsGroup": RUN_AS_USER, "fsGroup": RUN_AS_USER},
            "arguments": {"parameters": [
                {"name": p.name, "value": p.default, "description": p.description} for p in PARAMETERS]},
            "volumes": [{"name": c.volume, "persistentVolumeClaim": {"claimName": _argo_parameter(c.parameter)}}
                        for c in CLAIMS],
            "templates": templates,
        },
    }


def _labels() -> dict:
    return {"app.kubernetes.io/name": "kepler-model-pipeline", "app.kubernetes.io/part-of": "kepler-model"}


def argo_rbac() -> List[dict]:
    """ServiceAccount + Role + RoleBinding the workflow pods run as (Argo 3.4+ executor needs)."""
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": SERVICE_ACCOUNT, "labels": _labels()}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": SERVICE_ACCOUNT, "labels": _labels()},
         "rules": [
             {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]},
             # Executors before Argo 3.4 report through pod annotations.
             {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch", "patch"]},
         ]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": SERVICE_ACCOUNT, "labels": _labels()},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SERVICE_ACCOUNT},
         "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT}]},
    ]


def argo_run() -> dict:
    """A Workflow for `kubectl create` (generateName) that runs the template with every parameter."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": f"{PIPELINE_NAME}-", "labels": _labels()},
        "spec": {
            "workflowTemplateRef": {"name": PIPELINE_NAME},
            "arguments": {"parameters": [{"name": p.name, "value": p.default} for p in PARAMETERS]},
        },
    }


def argo_kustomization(registry: str = IMAGE_REGISTRY, tag: str = IMAGE_TAG) -> dict:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["install.yaml"],
        # Without this fieldSpec kustomize's `images:` leaves WorkflowTemplate containers alone.
        "configurations": ["kustomizeconfig.yaml"],
        "images": [{"name": f"{registry.rstrip('/')}/kepler-model-{s.name}", "newTag": tag} for s in STEPS],
    }


def argo_kustomize_config() -> dict:
    return {"images": [
        {"path": "spec/templates[]/container/image", "kind": "WorkflowTemplate"},
        {"path": "spec/templates[]/container/image", "kind": "Workflow"},
    ]}


def namespace() -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": _labels()}}


def claims() -> List[dict]:
    """The two claims under their default names (the parameters' defaults)."""
    defaults = {p.name: p.default for p in PARAMETERS}
    return [{
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": defaults[c.parameter], "labels": _labels(),
                     "annotations": {"kepler-model/purpose": c.description}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": c.size}}},
    } for c in CLAIMS]


def top_kustomization() -> dict:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NAMESPACE,
        "resources": ["namespace.yaml", "pvcs.yaml", "argo"],
    }


GENERATED_HEADER = "# Generated by pipeline.py from its step table; do not edit by hand (run `python pipeline.py`).\n"
RUN_HEADER = (GENERATED_HEADER + "# Edit the parameter values, then: kubectl create -n " + NAMESPACE
              + " -f manifests/argo/run.yaml\n")


def dump_yaml(documents: Sequence[dict], header: str = GENERATED_HEADER) -> str:
    """Deterministic YAML: sorted keys, block style, documents separated by ---."""
    out = io.StringIO()
    out.write(header)
    yaml.safe_dump_all(documents, out, sort_keys=True, default_flow_style=False, width=120,
                       explicit_start=True)
    return out.getvalue()


def render_all(registry: str = IMAGE_REGISTRY, tag: str = IMAGE_TAG) -> Dict[Path, str]:
    """Every generated file (relative path -> text)."""
    return {
        KFP_FILE: compile_kfp(registry, tag),
        Path("argo") / "install.yaml": dump_yaml(argo_rbac() + [argo_workflow_template(registry, tag)]),
        Path("argo") / "run.yaml": dump_yaml([argo_run()], header=RUN_HEADER),
        Path("argo") / "kustomization.yaml": dump_yaml([argo_kustomization(registry, tag)]),
        Path("argo") / "kustomizeconfig.yaml": dump_yaml([argo_kustomize_config()]),
        Path("namespace.yaml"): dump_yaml([namespace()]),
        Path("pvcs.yaml"): dump_yaml(claims()),
        Path("kustomization.yaml"): dump_yaml([top_kustomization()]),
    }


def write_all(out_dir: Path = OUTPUT_DIR, registry: str = IMAGE_REGISTRY, tag: str = IMAGE_TAG) -> List[Path]:
    """Write every generated file atomically (temp file + rename); return their paths."""
    written = []
    for rel, text in render_all(registry, tag).items():
        path = Path(out_dir) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default=None,
                        help=f"image registry (env {IMAGE_REGISTRY_VARIABLE}, default {IMAGE_REGISTRY})")
    parser.add_argument("--tag", default=None, help=f"image tag (env {IMAGE_TAG_VARIABLE}, default {IMAGE_TAG})")
    parser.add_argument("--output-dir", default=str(OUTPUT_DIR), help="where the manifests go (default: manifests/)")
    args = parser.parse_args(argv)
    registry, tag = image_settings(args.registry, args.tag)
    try:
        paths = write_all(Path(args.output_dir), registry, tag)
    except PipelineDefinitionError as problem:
        print(f"pipeline.py: error: {problem}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as missing:
        if (missing.name or "").split(".")[0] != "kfp":
            raise
        print("pipeline.py: error: kfp is not installed; run: pip install '.[pipeline]'", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
