"""Argo and Kubernetes manifests: strict schemas, parameter references, DAG order, mounts, kustomize builds.

No API server is available here, so validation is offline: Argo kinds against a strict JSON schema
derived from hera's pydantic models, core kinds with kubernetes-validate (strict), kustomize with
`kubectl kustomize` (which works without a cluster).
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

KUBECTL = shutil.which("kubectl") or next((p for p in ("/usr/bin/kubectl",) if Path(p).exists()), None)
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (kustomize builds need it)")
KUBERNETES_VERSION = "1.30.0"
PARAMETER_REFERENCE = re.compile(r"\{\{\s*workflow\.parameters\.([A-Za-z0-9_.-]+)\s*\}\}")


def _strict(schema):
    """additionalProperties: false on every object schema that lists its properties (in place)."""
    if isinstance(schema, dict):
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        for value in schema.values():
            _strict(value)
    elif isinstance(schema, list):
        for value in schema:
            _strict(value)
    return schema


@pytest.fixture(scope="module")
def argo_validators():
    import jsonschema
    from hera.workflows import models

    def validator(model):
        schema = _strict(copy.deepcopy(model.model_json_schema(by_alias=True)))
        jsonschema.Draft202012Validator.check_schema(schema)
        return jsonschema.Draft202012Validator(schema)

    return {"WorkflowTemplate": validator(models.WorkflowTemplate), "Workflow": validator(models.Workflow)}


def _load(path: Path):
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


@pytest.fixture(scope="module")
def install(manifests_dir):
    return _load(manifests_dir / "argo" / "install.yaml")


@pytest.fixture(scope="module")
def template(install):
    (found,) = [d for d in install if d["kind"] == "WorkflowTemplate"]
    return found


@pytest.fixture(scope="module")
def run_workflow(manifests_dir):
    (found,) = _load(manifests_dir / "argo" / "run.yaml")
    return found


def _errors(validator, document):
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document))


def test_strict_schema_catches_an_unknown_field(argo_validators, template):
    """The derived schema really is strict (a typo would not pass silently)."""
    broken = copy.deepcopy(template)
    broken["spec"]["templates"][1]["container"]["volumeMount"] = []
    assert any("volumeMount" in e for e in _errors(argo_validators["WorkflowTemplate"], broken))


def test_workflow_template_and_run_validate_strictly(argo_validators, template, run_workflow):
    assert _errors(argo_validators["WorkflowTemplate"], template) == []
    assert _errors(argo_validators["Workflow"], run_workflow) == []


def test_core_kinds_validate_strictly(install, manifests_dir):
    import kubernetes_validate

    documents = [d for d in install if d["kind"] != "WorkflowTemplate"]
    documents += _load(manifests_dir / "namespace.yaml") + _load(manifests_dir / "pvcs.yaml")
    assert {d["kind"] for d in documents} == {"ServiceAccount", "Role", "RoleBinding", "Namespace",
                                              "PersistentVolumeClaim"}
    for document in documents:
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as problem:  # pragma: no cover - message on failure
            pytest.fail(f"{document['kind']}: {problem.message}")


def test_every_parameter_reference_is_declared(template, run_workflow, pipeline_def):
    declared = [p["name"] for p in template["spec"]["arguments"]["parameters"]]
    assert declared == [p.name for p in pipeline_def.PARAMETERS]
    used = set(PARAMETER_REFERENCE.findall(yaml.safe_dump(template)))
    assert used and used <= set(declared), used - set(declared)
    assert [p["name"] for p in run_workflow["spec"]["arguments"]["parameters"]] == declared


def test_dag_runs_query_then_train_then_export(template):
    (main,) = [t for t in template["spec"]["templates"] if t["name"] == template["spec"]["entrypoint"]]
    tasks = {t["name"]: t for t in main["dag"]["tasks"]}
    assert set(tasks) == {"query", "train", "export"}
    assert "depends" not in tasks["query"]
    assert tasks["train"]["depends"] == "query"
    assert tasks["export"]["depends"] == "train"
    names = {t["name"] for t in template["spec"]["templates"]}
    assert all(t["template"] in names for t in tasks.values()), "dangling template reference"


def test_containers_match_the_step_table(template, pipeline_def):
    containers = {t["name"]: t["container"] for t in template["spec"]["templates"] if "container" in t}
    for step in pipeline_def.STEPS:
        container = containers[step.name]
        assert container["image"] == pipeline_def.image_name(step.name)
        assert container["command"] == ["kepler-model", step.name]
        assert container["args"] == step.render_args(lambda n: "{{workflow.parameters.%s}}" % n)
        assert {e["name"]: e["value"] for e in container["env"]} == {
            "DATAPATH": "/workspace/data", "MODEL_PATH": "/workspace/models"}


def test_every_mount_has_a_claim_volume_named_by_a_parameter(template):
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    assert volumes["workspace"]["persistentVolumeClaim"]["claimName"] == "{{workflow.parameters.WORKSPACE_CLAIM}}"
    assert volumes["model-db"]["persistentVolumeClaim"]["claimName"] == "{{workflow.parameters.MODEL_DB_CLAIM}}"
    mounts = {t["name"]: {(m["name"], m["mountPath"]) for m in t["container"]["volumeMounts"]}
              for t in template["spec"]["templates"] if "container" in t}
    assert mounts == {"query": {("workspace", "/workspace")}, "train": {("workspace", "/workspace")},
                      "export": {("workspace", "/workspace"), ("model-db", "/model-db")}}
    assert all(name in volumes for step in mounts.values() for name, _ in step)


def test_run_file_is_for_kubectl_create(run_workflow, template, install):
    assert "generateName" in run_workflow["metadata"] and "name" not in run_workflow["metadata"]
    assert run_workflow["spec"]["workflowTemplateRef"]["name"] == template["metadata"]["name"]
    (account,) = [d for d in install if d["kind"] == "ServiceAccount"]
    assert template["spec"]["serviceAccountName"] == account["metadata"]["name"]


def test_role_lets_the_executor_report_results(install):
    (role,) = [d for d in install if d["kind"] == "Role"]
    rules = [r for r in role["rules"] if "workflowtaskresults" in r["resources"]]
    assert rules and {"create", "patch"} <= set(rules[0]["verbs"]) and rules[0]["apiGroups"] == ["argoproj.io"]
    (binding,) = [d for d in install if d["kind"] == "RoleBinding"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]


def test_pods_run_as_the_images_non_root_user(template, pipeline_def):
    context = template["spec"]["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == context["fsGroup"] == pipeline_def.RUN_AS_USER


def _kustomize(directory: Path) -> list:
    done = subprocess.run([KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@needs_kubectl
def test_kustomizations_build(manifests_dir):
    argo = _kustomize(manifests_dir / "argo")
    assert {d["kind"] for d in argo} == {"ServiceAccount", "Role", "RoleBinding", "WorkflowTemplate"}
    top = _kustomize(manifests_dir)
    assert {d["kind"] for d in top} >= {"Namespace", "PersistentVolumeClaim", "WorkflowTemplate"}
    assert all(d["metadata"].get("namespace") == "kepler-model" for d in top if d["kind"] != "Namespace")


@needs_kubectl
def test_kustomize_images_rewrite_workflow_template_containers(manifests_dir, tmp_path, pipeline_def):
    """An overlay's `images:` entry reaches the WorkflowTemplate thanks to the configurations fieldSpec."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": [str(Path("..") / Path(shutil.copytree(manifests_dir / "argo", tmp_path / "argo")).name)],
        "images": [{"name": pipeline_def.image_name(s.name).rsplit(":", 1)[0],
                    "newName": f"registry.example/kepler-model-{s.name}", "newTag": "overlay"}
                   for s in pipeline_def.STEPS],
    }))
    (template,) = [d for d in _kustomize(overlay) if d["kind"] == "WorkflowTemplate"]
    images = {t["name"]: t["container"]["image"] for t in template["spec"]["templates"] if "container" in t}
    assert images == {s.name: f"registry.example/kepler-model-{s.name}:overlay" for s in pipeline_def.STEPS}
