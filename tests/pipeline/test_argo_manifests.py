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
    """Every plain Kubernetes object shipped, the KFP RBAC file included."""
    import kubernetes_validate

    documents = [d for d in install if d["kind"] != "WorkflowTemplate"]
    documents += _load(manifests_dir / "namespace.yaml") + _load(manifests_dir / "pvcs.yaml")
    documents += _load(manifests_dir / "kfp" / "rbac.yaml")
    assert {d["kind"] for d in documents} == {
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "Namespace",
        "PersistentVolumeClaim",
    }
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


QUERY_VARIANTS = {
    "query": set(),
    "query-prom-ca": {"PROM_CA_CONFIGMAP"},
    "query-prom-token": {"PROM_TOKEN_SECRET"},
    "query-prom-token-prom-ca": {"PROM_TOKEN_SECRET", "PROM_CA_CONFIGMAP"},
}
FILE_FLAGS = {
    "PROM_TOKEN_SECRET": ("--token-file", "/var/run/secrets/kepler-model/prometheus-token/token"),
    "PROM_CA_CONFIGMAP": ("--ca-file", "/etc/kepler-model/prometheus-ca/ca.crt"),
}


def _tasks(template) -> dict:
    (main,) = [t for t in template["spec"]["templates"] if t["name"] == template["spec"]["entrypoint"]]
    return {t["name"]: t for t in main["dag"]["tasks"]}


def _containers(template) -> dict:
    return {t["name"]: t for t in template["spec"]["templates"] if "container" in t}


def test_dag_runs_query_then_train_then_export(template):
    """One query task per Secret/ConfigMap combination; train waits for all of them (skipped ones count as done)."""
    tasks = _tasks(template)
    assert set(tasks) == set(QUERY_VARIANTS) | {"train", "export"}
    assert not any("depends" in tasks[name] for name in QUERY_VARIANTS)
    assert set(tasks["train"]["depends"].split(" && ")) == set(QUERY_VARIANTS)
    assert tasks["export"]["depends"] == "train"
    assert "when" not in tasks["train"] and "when" not in tasks["export"]
    names = {t["name"] for t in template["spec"]["templates"]}
    assert all(t["template"] in names for t in tasks.values()), "dangling template reference"


def _when_holds(expression: str, values: dict) -> bool:
    """Evaluate an Argo `when` of the form 'X' == '' && 'Y' != '' after parameter substitution."""
    text = PARAMETER_REFERENCE.sub(lambda m: values[m.group(1)], expression)
    clauses = text.split(" && ")
    assert all(re.fullmatch(r"'[^']*' (==|!=) ''", c) for c in clauses), text
    return all((c.split("' ")[0] == "'") == (" == " in c) for c in clauses)


@pytest.mark.parametrize("token", ["", "prom-token"])
@pytest.mark.parametrize("ca", ["", "prom-ca"])
def test_exactly_one_query_variant_runs_for_each_combination(template, token, ca):
    """Empty = none: an empty name selects the variant without that volume and flag; never an empty volume name."""
    values = {"PROM_TOKEN_SECRET": token, "PROM_CA_CONFIGMAP": ca}
    tasks = _tasks(template)
    running = [name for name in QUERY_VARIANTS if _when_holds(tasks[name]["when"], values)]
    assert running == [name for name, needs in QUERY_VARIANTS.items() if needs == {k for k, v in values.items() if v}]


def test_query_variants_mount_and_pass_only_their_files(template):
    containers = _containers(template)
    base = containers["query"]["container"]["args"]
    for name, needs in QUERY_VARIANTS.items():
        variant = containers[name]
        extra = variant["container"]["args"][len(base) :]
        assert variant["container"]["args"][: len(base)] == base
        assert sorted(zip(extra[::2], extra[1::2])) == sorted(FILE_FLAGS[p] for p in needs)
        volumes = {v["name"]: v for v in variant.get("volumes", [])}
        sources = {}
        for volume in volumes.values():
            kind = "secret" if "secret" in volume else "configMap"
            source = volume[kind]
            assert source["optional"] is True  # a wrong name fails the step on the missing file, not the pod
            sources[kind] = source["secretName" if kind == "secret" else "name"]
        expected = {}
        if "PROM_TOKEN_SECRET" in needs:
            expected["secret"] = "{{workflow.parameters.PROM_TOKEN_SECRET}}"
        if "PROM_CA_CONFIGMAP" in needs:
            expected["configMap"] = "{{workflow.parameters.PROM_CA_CONFIGMAP}}"
        assert sources == expected
        mounts = {m["name"]: m for m in variant["container"]["volumeMounts"]}
        for volume in volumes:
            assert mounts[volume]["readOnly"] is True
        for _flag, path in (FILE_FLAGS[p] for p in needs):
            assert any(path.startswith(m["mountPath"] + "/") for m in mounts.values() if m["name"] in volumes), path


def test_no_parameter_or_env_carries_a_token(template, pipeline_def):
    """The bearer token reaches the query step only as a file from a Secret, never as a value."""
    names = [p["name"] for p in template["spec"]["arguments"]["parameters"]]
    secretish = [n for n in names if re.search(r"TOKEN|PASSWORD|CREDENTIAL|SECRET|KEY", n)]
    assert secretish == ["PROM_TOKEN_SECRET"]
    assert all(p.default == "" for p in pipeline_def.PARAMETERS if p.name in secretish)
    for container in _containers(template).values():
        env = {e["name"] for e in container["container"]["env"]}
        assert not env & {"PROM_TOKEN", "PROM_TOKEN_FILE", "PROM_CA_FILE"}
        assert not [e for e in container["container"]["env"] if "valueFrom" in e]
        args = container["container"]["args"]
        assert "--token" not in args and not any(a.startswith("--token=") for a in args)


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
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_every_step_container_is_locked_down_with_a_tmp_emptydir(template):
    """Restricted pod security: non-root, no escalation, no capabilities, RuntimeDefault seccomp, read-only root;
    the temporary folder (TMPDIR, HOME, MPLCONFIGDIR) is an emptyDir."""
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    containers = _containers(template)
    assert containers
    for name, t in containers.items():
        container = t["container"]
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["capabilities"] == {"drop": ["ALL"]}, name
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert context["readOnlyRootFilesystem"] is True, name
        (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert volumes[tmp["name"]] == {"name": tmp["name"], "emptyDir": {}}
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["TMPDIR"] == env["HOME"] == "/tmp" and env["MPLCONFIGDIR"].startswith("/tmp/")


def test_pipeline_account_may_read_nodes_and_nothing_more(install, template, manifests_dir):
    """The query step's machine-spec lookup GETs the Node: a ClusterRole with only that, bound to the account."""
    (role,) = [d for d in install if d["kind"] == "ClusterRole"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]
    (binding,) = [d for d in install if d["kind"] == "ClusterRoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": template["spec"]["serviceAccountName"], "namespace": "kepler-model"}
    ]
    kfp = _load(manifests_dir / "kfp" / "rbac.yaml")
    (kfp_role,) = [d for d in kfp if d["kind"] == "ClusterRole"]
    assert kfp_role == role
    (kfp_binding,) = [d for d in kfp if d["kind"] == "ClusterRoleBinding"]
    assert kfp_binding["roleRef"] == binding["roleRef"]
    assert kfp_binding["subjects"] == [{"kind": "ServiceAccount", "name": "pipeline-runner", "namespace": "kubeflow"}]


def _kustomize(directory: Path) -> list:
    done = subprocess.run([KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@needs_kubectl
def test_kustomizations_build(manifests_dir):
    argo = _kustomize(manifests_dir / "argo")
    assert {d["kind"] for d in argo} == {
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "WorkflowTemplate",
    }
    top = _kustomize(manifests_dir)
    assert {d["kind"] for d in top} >= {"Namespace", "PersistentVolumeClaim", "WorkflowTemplate", "ClusterRole"}
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    assert all(d["metadata"].get("namespace") == "kepler-model" for d in top if d["kind"] not in cluster_scoped)
    assert all("namespace" not in d["metadata"] for d in top if d["kind"] in cluster_scoped)
    (binding,) = [d for d in top if d["kind"] == "ClusterRoleBinding"]
    assert binding["subjects"][0]["namespace"] == "kepler-model"


@needs_kubectl
def test_kustomize_images_rewrite_workflow_template_containers(manifests_dir, tmp_path, pipeline_def):
    """An overlay's `images:` entry reaches the WorkflowTemplate thanks to the configurations fieldSpec."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [str(Path("..") / Path(shutil.copytree(manifests_dir / "argo", tmp_path / "argo")).name)],
                "images": [
                    {
                        "name": pipeline_def.image_name(s.name).rsplit(":", 1)[0],
                        "newName": f"registry.example/kepler-model-{s.name}",
                        "newTag": "overlay",
                    }
                    for s in pipeline_def.STEPS
                ],
            }
        )
    )
    (template,) = [d for d in _kustomize(overlay) if d["kind"] == "WorkflowTemplate"]
    images = {t["name"]: t["container"]["image"] for t in template["spec"]["templates"] if "container" in t}
    expected = {s.name: f"registry.example/kepler-model-{s.name}:overlay" for s in pipeline_def.STEPS}
    assert images == {name: expected[name.split("-")[0]] for name in images}
    assert set(images) >= set(expected)


EXPECTED_ARGO_OUTPUTS = {
    "query": {"validation-table": "/tmp/kepler-model-outputs/validation-table.md"},
    "export": {
        "run-report": "/tmp/kepler-model-outputs/run-report.md",
        "run-metrics": "/tmp/kepler-model-outputs/run-metrics.json",
        "exported-models": "/tmp/kepler-model-outputs/exported-models.txt",
    },
}


def test_run_outputs_are_output_parameters_read_from_the_scratch_emptydir(template, pipeline_def):
    """Each run output of the contract: the step gets `--<name>-file <path>` and the template reads <path> as an
    output parameter; the path is on the /tmp emptyDir (the root filesystem is read-only)."""
    containers = _containers(template)
    for name, t in containers.items():
        step = next(s for s in pipeline_def.STEPS if name == s.name or name.startswith(s.name + "-"))
        declared = {p["name"]: p["valueFrom"]["path"] for p in t.get("outputs", {}).get("parameters", [])}
        assert declared == EXPECTED_ARGO_OUTPUTS.get(step.name, {}), name
        args = t["container"]["args"]
        for output in step.run_outputs:
            path = declared[output.argo_name]
            assert args[args.index(output.flag) + 1] == path
            (mount,) = [m for m in t["container"]["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
            assert mount["mountPath"] == "/tmp"
