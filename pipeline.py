"""Compile the kepler-model pipeline to a KFP v2 spec and Argo/Kubernetes manifests.

The steps, their parameters, arguments, claims and resources are the step contract
(steps/contract/), which `kepler-model` and `kepler-model run` read too. This script adds what one
deployment decides (pipeline name, namespace, service account, pod security, image registry and
tag) and hands both to two emitters, so the KFP spec and the Argo WorkflowTemplate cannot drift
apart. `python pipeline.py` regenerates every file under manifests/; a golden test regenerates them
again and fails on any difference.

The emitters are in pipeline_lib/ (definition.py, kfp_emitter.py, argo_emitter.py,
kube_objects.py). kfp is imported only inside the KFP emitter (optional extra `[pipeline]`); step
code and step images never import the compiler.
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
if str(HERE) not in sys.path:  # pipeline_lib/ and steps/ sit beside this script, which tests also load by path
    sys.path.insert(0, str(HERE))

from pipeline_lib import argo_emitter, kfp_emitter, kube_objects  # noqa: E402
from pipeline_lib.definition import Definition  # noqa: E402
from pipeline_lib.definition import image_name as _image_name  # noqa: E402
from steps import __version__  # noqa: E402 - light constants only, no ML code
from steps.contract import (  # noqa: E402,F401 - the table this script compiles (re-exported for the tests)
    CLAIMS,
    IMAGE_USER,
    MODEL_DB_MOUNT,
    PARAMETERS,
    STEP_ENV,
    STEPS,
    Claim,
    ContractError,
    Parameter,
    Ref,
    Step,
    check_contract,
    step_named,
)

# -- images: the ONE place where registry and tag are set (overridable by env or flag) --------------
IMAGE_REGISTRY = "quay.io/sustainable_computing_io"
IMAGE_TAG = f"v{__version__}"
IMAGE_REGISTRY_VARIABLE = "KEPLER_MODEL_IMAGE_REGISTRY"
IMAGE_TAG_VARIABLE = "KEPLER_MODEL_IMAGE_TAG"
# The pods run as the images' non-root user, and Argo's pod securityContext makes a fresh claim
# writable by it (fsGroup).
RUN_AS_USER = IMAGE_USER

PIPELINE_NAME = "kepler-model-pipeline"
PIPELINE_DESCRIPTION = (
    "Query Kepler metrics from Prometheus, train power models, export them to a kepler-model-db folder."
)
NAMESPACE = "kepler-model"
SERVICE_ACCOUNT = "kepler-model-pipeline"
OUTPUT_DIR = HERE / "manifests"
KFP_FILE = Path("kfp") / "kepler-model-pipeline.yaml"

# The root filesystem is read-only: an emptyDir is the temporary folder of every step container.
# Python, matplotlib and the libraries write only under it.
SCRATCH_VOLUME = "kepler-model-tmp"
SCRATCH_MOUNT = "/tmp"
SCRATCH_ENV: Tuple[Tuple[str, str], ...] = (
    ("TMPDIR", SCRATCH_MOUNT),
    ("HOME", SCRATCH_MOUNT),
    ("MPLCONFIGDIR", f"{SCRATCH_MOUNT}/matplotlib"),
)


def image_name(step: str, registry: str = IMAGE_REGISTRY, tag: str = IMAGE_TAG) -> str:
    """The image of the step called `step`, in `registry` with `tag`."""
    return _image_name(step_named(step), registry, tag)


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
    """Fail at compile time on an unknown parameter, claim, dependency or output, or a duplicate name."""
    check_contract(
        PARAMETERS if parameters is None else parameters,
        STEPS if steps is None else steps,
        CLAIMS if claims is None else claims,
    )


def definition(registry: str = IMAGE_REGISTRY, tag: str = IMAGE_TAG) -> Definition:
    """The contract's table, checked, with this deployment's names and the images chosen."""
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
        env=STEP_ENV + SCRATCH_ENV,
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
    """The Argo WorkflowTemplate."""
    return argo_emitter.workflow_template(definition(registry, tag))


GENERATED_HEADER = (
    "# Generated by pipeline.py from the step contract (steps/contract/); "
    "do not edit by hand (run `python pipeline.py`).\n"
)
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
    """`python pipeline.py [--registry R] [--tag T] [--output-dir D]`: write every compiled file."""
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
    except ContractError as problem:
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
