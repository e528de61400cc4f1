"""Define the kepler-model pipeline once and compile it to a KFP v2 spec and Argo/Kubernetes manifests.

One table of parameters and one table of steps (image, command, arguments built from parameters,
environment, mounts, resources) feed two emitters, so the KFP spec and the Argo WorkflowTemplate
cannot drift apart. `python pipeline.py` regenerates every file under manifests/; a golden test
regenerates them again and fails on any difference.

The table is here; what its entries are and the emitters are in pipeline_lib/ (model.py,
kfp_emitter.py, argo_emitter.py, kube_objects.py). kfp is imported only inside the KFP emitter
(optional extra `[pipeline]`); step code and step images never import it.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # pipeline_lib/ sits beside this script, which tests also load by path
    sys.path.insert(0, str(HERE))

from pipeline_lib import argo_emitter, kfp_emitter, kube_objects  # noqa: E402
from pipeline_lib.model import (  # noqa: E402,F401
    CONFIG_MAP,
    SECRET,
    Claim,
    Definition,
    MountedFile,
    Parameter,
    PipelineDefinitionError,
    Ref,
    Resources,
    Step,
)
from pipeline_lib.model import check_definition as _check  # noqa: E402
from pipeline_lib.model import image_name as _image_name  # noqa: E402
from steps import DEFAULT_PIPELINE_NAME, __version__  # noqa: E402 - light constants only, no ML code

# -- images: the ONE place where registry and tag are set (overridable by env or flag) --------------
IMAGE_REGISTRY = "quay.io/sustainable_computing_io"
IMAGE_TAG = f"v{__version__}"
IMAGE_REGISTRY_VARIABLE = "KEPLER_MODEL_IMAGE_REGISTRY"
IMAGE_TAG_VARIABLE = "KEPLER_MODEL_IMAGE_TAG"
# The non-root user of every step image (images/*/Dockerfile `USER`); the pods run as it, and Argo's
# pod securityContext makes a fresh claim writable by it (fsGroup).
RUN_AS_USER = 1000

PIPELINE_NAME = "kepler-model-pipeline"
PIPELINE_DESCRIPTION = (
    "Query Kepler metrics from Prometheus, train power models, export them to a kepler-model-db folder."
)
NAMESPACE = "kepler-model"
SERVICE_ACCOUNT = "kepler-model-pipeline"
OUTPUT_DIR = HERE / "manifests"
KFP_FILE = Path("kfp") / "kepler-model-pipeline.yaml"

# Where the claims are mounted in every step container.
WORKSPACE_MOUNT = "/workspace"
MODEL_DB_MOUNT = "/model-db"
QUERY_OUTPUT = "kepler_query"
# The root filesystem is read-only: an emptyDir is the temporary folder of every step container.
SCRATCH_VOLUME = "kepler-model-tmp"
SCRATCH_MOUNT = "/tmp"


# Order here is the order users see in KFP and Argo.
PARAMETERS: Tuple[Parameter, ...] = (
    Parameter(
        "BENCHMARK",
        "",
        "benchmark name; query saves the window as <BENCHMARK>.json, export reads its start as the collect time",
    ),
    Parameter("PROM_URL", "http://prometheus-k8s.monitoring.svc:9090", "Prometheus base URL"),
    Parameter(
        "PROM_TOKEN_SECRET",
        "",
        "Secret whose key `token` is the Prometheus bearer token; empty: none",
        kfp_optional=True,
    ),
    Parameter(
        "PROM_CA_CONFIGMAP",
        "",
        "ConfigMap whose key `ca.crt` is the CA bundle of Prometheus' certificate; empty: none",
        kfp_optional=True,
    ),
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

# Files from a Secret and a ConfigMap named by parameters, for the query step's TLS and bearer token.
PROM_TOKEN = MountedFile(
    "PROM_TOKEN_SECRET", SECRET, "prom-token", "/var/run/secrets/kepler-model/prometheus-token", "token", "--token-file"
)
PROM_CA = MountedFile(
    "PROM_CA_CONFIGMAP", CONFIG_MAP, "prom-ca", "/etc/kepler-model/prometheus-ca", "ca.crt", "--ca-file"
)

# Constant environment of every step (values are constants, so KFP's set_env_variable works). Python,
# matplotlib and the libraries write only under the scratch emptyDir (read-only root filesystem).
STEP_ENV: Tuple[Tuple[str, str], ...] = (
    ("DATAPATH", f"{WORKSPACE_MOUNT}/data"),
    ("MODEL_PATH", f"{WORKSPACE_MOUNT}/models"),
    ("TMPDIR", SCRATCH_MOUNT),
    ("HOME", SCRATCH_MOUNT),
    ("MPLCONFIGDIR", f"{SCRATCH_MOUNT}/matplotlib"),
)

STEPS: Tuple[Step, ...] = (
    Step(
        name="query",
        args=(
            "--benchmark",
            Ref("BENCHMARK"),
            "--server",
            Ref("PROM_URL"),
            "--output",
            QUERY_OUTPUT,
            "--start-time",
            Ref("START_TIME"),
            "--end-time",
            Ref("END_TIME"),
            "--interval",
            Ref("INTERVAL"),
            "--step",
            Ref("STEP"),
            "--id",
            Ref("COLLECT_ID"),
        ),
        claims=("workspace",),
        resources=Resources("500m", "2", "1Gi", "4Gi"),
        files=(PROM_TOKEN, PROM_CA),
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
        args=(
            "--benchmark",
            Ref("BENCHMARK"),
            "--collect-date",
            Ref("COLLECT_DATE"),
            "--pipeline-name",
            Ref("PIPELINE_NAME"),
            "-o",
            f"{MODEL_DB_MOUNT}/models",
            "--publisher",
            Ref("PUBLISHER"),
            "--zip=true",
        ),
        claims=("workspace", "model-db"),
        resources=Resources("250m", "1", "512Mi", "2Gi"),
        after=("train",),
    ),
)


def image_name(step: str, registry: str = IMAGE_REGISTRY, tag: str = IMAGE_TAG) -> str:
    return _image_name(step, registry, tag)


def image_settings(
    registry: Optional[str] = None, tag: Optional[str] = None, environ: Optional[Mapping[str, str]] = None
) -> Tuple[str, str]:
    """Flag, then environment, then the constants above."""
    environ = os.environ if environ is None else environ
    return (
        registry or environ.get(IMAGE_REGISTRY_VARIABLE) or IMAGE_REGISTRY,
        tag or environ.get(IMAGE_TAG_VARIABLE) or IMAGE_TAG,
    )


def check_definition(
    parameters: Optional[Sequence[Parameter]] = None,
    steps: Optional[Sequence[Step]] = None,
    claims: Optional[Sequence[Claim]] = None,
) -> None:
    """Fail at compile time on an unknown parameter, claim or dependency, or a duplicate name."""
    _check(
        PARAMETERS if parameters is None else parameters,
        STEPS if steps is None else steps,
        CLAIMS if claims is None else claims,
    )


def definition(registry: str = IMAGE_REGISTRY, tag: str = IMAGE_TAG) -> Definition:
    """The table above, checked, with the images chosen."""
    check_definition()
    return Definition(
        name=PIPELINE_NAME,
        description=PIPELINE_DESCRIPTION,
        namespace=NAMESPACE,
        service_account=SERVICE_ACCOUNT,
        run_as_user=RUN_AS_USER,
        parameters=PARAMETERS,
        claims=CLAIMS,
        steps=STEPS,
        env=STEP_ENV,
        scratch_volume=SCRATCH_VOLUME,
        scratch_mount=SCRATCH_MOUNT,
        registry=registry,
        tag=tag,
    )


def build_kfp_pipeline(registry: str = IMAGE_REGISTRY, tag: str = IMAGE_TAG):
    """The KFP pipeline object: one task per step, caching off, claims mounted by parameter."""
    return kfp_emitter.build_pipeline(definition(registry, tag))


def compile_kfp(registry: str = IMAGE_REGISTRY, tag: str = IMAGE_TAG) -> str:
    """The compiled KFP spec (pipeline spec + Kubernetes platform spec) as YAML text."""
    return kfp_emitter.compile_spec(definition(registry, tag))


def argo_workflow_template(registry: str = IMAGE_REGISTRY, tag: str = IMAGE_TAG) -> dict:
    return argo_emitter.workflow_template(definition(registry, tag))


GENERATED_HEADER = "# Generated by pipeline.py from its step table; do not edit by hand (run `python pipeline.py`).\n"
RUN_HEADER = (
    GENERATED_HEADER
    + "# Edit the parameter values, then: kubectl create -n "
    + NAMESPACE
    + " -f manifests/argo/run.yaml\n"
)
KFP_RBAC_HEADER = (
    GENERATED_HEADER
    + "# Lets the ServiceAccount KFP runs the pipeline as read Nodes (the query step's machine spec).\n"
    "# Standalone KFP: pipeline-runner in kubeflow; multi-user Kubeflow: default-editor in the profile's\n"
    "# namespace. Edit the subject to match, then: kubectl apply -f manifests/kfp/rbac.yaml\n"
)


def dump_yaml(documents: Sequence[dict], header: str = GENERATED_HEADER) -> str:
    """Deterministic YAML: sorted keys, block style, documents separated by ---."""
    out = io.StringIO()
    out.write(header)
    yaml.safe_dump_all(documents, out, sort_keys=True, default_flow_style=False, width=120, explicit_start=True)
    return out.getvalue()


def render_all(registry: str = IMAGE_REGISTRY, tag: str = IMAGE_TAG) -> Dict[Path, str]:
    """Every generated file (relative path -> text)."""
    d = definition(registry, tag)
    return {
        KFP_FILE: kfp_emitter.compile_spec(d),
        Path("kfp") / "rbac.yaml": dump_yaml(kube_objects.kfp_rbac(), header=KFP_RBAC_HEADER),
        Path("argo") / "install.yaml": dump_yaml(kube_objects.argo_rbac(d) + [argo_emitter.workflow_template(d)]),
        Path("argo") / "run.yaml": dump_yaml([argo_emitter.run(d)], header=RUN_HEADER),
        Path("argo") / "kustomization.yaml": dump_yaml([kube_objects.argo_kustomization(d)]),
        Path("argo") / "kustomizeconfig.yaml": dump_yaml([kube_objects.argo_kustomize_config()]),
        Path("namespace.yaml"): dump_yaml([kube_objects.namespace(d)]),
        Path("pvcs.yaml"): dump_yaml(kube_objects.claims(d)),
        Path("kustomization.yaml"): dump_yaml([kube_objects.top_kustomization(d)]),
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
    parser.add_argument(
        "--registry", default=None, help=f"image registry (env {IMAGE_REGISTRY_VARIABLE}, default {IMAGE_REGISTRY})"
    )
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
