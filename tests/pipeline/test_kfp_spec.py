"""The compiled KFP v2 spec: reloads with kfp, parses strictly as protobuf, and says what the step table says."""

from __future__ import annotations

import json
import re

import pytest
import yaml

KFP_PLACEHOLDER = re.compile(r"^\{\{\$\.inputs\.parameters\['([a-z_]+)'\]\}\}$")
STEP_ENV = {
    "DATAPATH": "/workspace/data",
    "MODEL_PATH": "/workspace/models",
    "TMPDIR": "/tmp",
    "HOME": "/tmp",
    "MPLCONFIGDIR": "/tmp/matplotlib",
}
# Optional inputs naming a Secret / ConfigMap: (flag, file) the query step gets only when the input is present.
FILE_INPUTS = {
    "PROM_TOKEN_SECRET": ("--token-file", "/var/run/secrets/kepler-model/prometheus-token/token"),
    "PROM_CA_CONFIGMAP": ("--ca-file", "/etc/kepler-model/prometheus-ca/ca.crt"),
}


@pytest.fixture(scope="module")
def kfp_file(manifests_dir, pipeline_def):
    return manifests_dir / pipeline_def.KFP_FILE


@pytest.fixture(scope="module")
def documents(kfp_file):
    docs = list(yaml.safe_load_all(kfp_file.read_text(encoding="utf-8")))
    assert len(docs) == 2, "pipeline spec + Kubernetes platform spec"
    return docs


def test_reloads_with_kfp(kfp_file, pipeline_def):
    from kfp import components

    component = components.load_component_from_file(str(kfp_file))
    assert component.name == pipeline_def.PIPELINE_NAME
    inputs = component.component_spec.inputs
    assert set(inputs) == {p.name for p in pipeline_def.PARAMETERS}
    for parameter in pipeline_def.PARAMETERS:
        assert inputs[parameter.name].default == (None if parameter.kfp_optional else parameter.default)


def test_both_documents_parse_strictly_as_protobuf(documents):
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    spec = json_format.ParseDict(documents[0], pipeline_spec_pb2.PipelineSpec())  # unknown fields raise
    platform = json_format.ParseDict(documents[1], pipeline_spec_pb2.PlatformSpec())
    assert spec.pipeline_info.name == "kepler-model-pipeline"
    assert set(platform.platforms) == {"kubernetes"}


def test_root_parameters_are_strings_with_their_defaults(documents, pipeline_def):
    definitions = documents[0]["root"]["inputDefinitions"]["parameters"]
    assert set(definitions) == {p.name for p in pipeline_def.PARAMETERS}
    for parameter in pipeline_def.PARAMETERS:
        assert definitions[parameter.name]["parameterType"] == "STRING"
        if parameter.kfp_optional:  # left out = none (the driver adds no volume for a null name)
            assert definitions[parameter.name]["isOptional"] is True
            assert "defaultValue" not in definitions[parameter.name]
        else:
            assert definitions[parameter.name]["defaultValue"] == parameter.default
    assert {p.name for p in pipeline_def.PARAMETERS if p.kfp_optional} == set(FILE_INPUTS)


def _if_present(parameter: str) -> str:
    return json.dumps({"IfPresent": {"InputName": parameter.lower(), "Then": list(FILE_INPUTS[parameter])}})


# Run output kind -> (KFP placeholder of its path, the type in the component's outputDefinitions)
RUN_OUTPUT_KFP = {
    "markdown": ("{{$.outputs.artifacts['%s'].path}}", ("artifacts", "system.Markdown")),
    "metrics": ("{{$.outputs.artifacts['%s'].path}}", ("artifacts", "system.Metrics")),
    "count": ("{{$.outputs.parameters['%s'].output_file}}", ("parameters", "NUMBER_INTEGER")),
}


def _expected_args(step, pipeline_def):
    """The step's arguments with each parameter as the KFP placeholder of its component input, then each run
    output's `--<name>-file <its KFP path>`, with a Metrics output the executor output file (the run page's
    metrics table), then the `--flag <file>` of each optional Secret/ConfigMap input, present only when the
    input is."""
    metrics = any(output.kind == "metrics" for output in step.run_outputs)
    return (
        step.render_args(lambda name: "{{$.inputs.parameters['%s']}}" % name.lower())
        + step.run_output_args(lambda output: RUN_OUTPUT_KFP[output.kind][0] % output.name)
        + (["--kfp-executor-output", "{{$.outputs.output_file}}"] if metrics else [])
        + [_if_present(f.parameter) for f in step.files]
    )


@pytest.mark.parametrize("step_name", ["query", "train", "export"])
def test_executor_image_command_args_env_and_resources(documents, pipeline_def, step_name):
    step = next(s for s in pipeline_def.STEPS if s.name == step_name)
    container = documents[0]["deploymentSpec"]["executors"][f"exec-{step_name}"]["container"]
    assert container["image"] == pipeline_def.image_name(step_name)
    assert container["command"] == ["kepler-model", step_name]
    assert container["args"] == _expected_args(step, pipeline_def)
    assert {e["name"]: e["value"] for e in container["env"]} == STEP_ENV
    assert container["resources"]["resourceCpuLimit"] == step.resources.cpu_limit
    assert container["resources"]["resourceMemoryRequest"] == step.resources.memory_request


def test_literal_command_lines(documents):
    """The exact flags each step receives (the contract with the step CLIs)."""
    executors = documents[0]["deploymentSpec"]["executors"]

    def line(step):
        return " ".join(
            KFP_PLACEHOLDER.sub(lambda m: "{" + m.group(1).upper() + "}", a)
            for a in executors[f"exec-{step}"]["container"]["args"]
        )

    assert line("query") == (
        "--benchmark {BENCHMARK} --server {PROM_URL} --output kepler_query "
        "--start-time {START_TIME} --end-time {END_TIME} --interval {INTERVAL} "
        "--step {STEP} --id {COLLECT_ID} --os-selector {OS_SELECTOR} --os-server {OS_SERVER} "
        "--validation-table-file {{$.outputs.artifacts['validation_table'].path}} "
        + _if_present("PROM_TOKEN_SECRET")
        + " "
        + _if_present("PROM_CA_CONFIGMAP")
    )
    assert line("train") == (
        "--pipeline-name {PIPELINE_NAME} --input kepler_query --id {COLLECT_ID} "
        "--vm-map {VM_MAP} --vm-target {VM_TARGET}"
    )
    assert line("export") == (
        "--benchmark {BENCHMARK} --collect-date {COLLECT_DATE} --pipeline-name "
        "{PIPELINE_NAME} -o /model-db/models --publisher {PUBLISHER} --zip=true "
        "--run-report-file {{$.outputs.artifacts['run_report'].path}} "
        "--run-metrics-file {{$.outputs.artifacts['run_metrics'].path}} "
        "--exported-models-file {{$.outputs.parameters['exported_models'].output_file}} "
        "--kfp-executor-output {{$.outputs.output_file}}"
    )


def test_run_outputs_are_the_contracts(documents, pipeline_def):
    """The query's validation table and the export's report are Markdown artifacts, its metrics a Metrics artifact
    and its model count an integer output parameter: what the run page shows, declared in the contract."""
    components = documents[0]["components"]
    declared = {}
    for name, component in components.items():
        for group, outputs in component.get("outputDefinitions", {}).items():
            for output, definition in outputs.items():
                kind = (
                    definition["artifactType"]["schemaTitle"] if group == "artifacts" else definition["parameterType"]
                )
                declared[(name, output)] = (group, kind)
    expected = {
        (f"comp-{step.name}", o.name): RUN_OUTPUT_KFP[o.kind][1]
        for step in pipeline_def.STEPS
        for o in step.run_outputs
    }
    assert declared == expected
    assert expected == {
        ("comp-query", "validation_table"): ("artifacts", "system.Markdown"),
        ("comp-export", "run_report"): ("artifacts", "system.Markdown"),
        ("comp-export", "run_metrics"): ("artifacts", "system.Metrics"),
        ("comp-export", "exported_models"): ("parameters", "NUMBER_INTEGER"),
    }


def test_task_inputs_wire_to_pipeline_parameters(documents):
    components = documents[0]["components"]
    for name, task in documents[0]["root"]["dag"]["tasks"].items():
        wired = {k: v["componentInputParameter"] for k, v in task["inputs"]["parameters"].items()}
        assert all(k == v.lower() for k, v in wired.items()), wired
        assert set(wired) == set(components[f"comp-{name}"]["inputDefinitions"]["parameters"])


def test_caching_is_off_and_order_is_query_train_export(documents):
    tasks = documents[0]["root"]["dag"]["tasks"]
    assert set(tasks) == {"query", "train", "export"}
    for task in tasks.values():
        assert task["cachingOptions"].get("enableCache", False) is False
    assert "dependentTasks" not in tasks["query"]
    assert tasks["train"]["dependentTasks"] == ["query"]
    assert tasks["export"]["dependentTasks"] == ["train"]


def test_claims_are_mounted_by_parameter(documents):
    executors = documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]

    def mounts(step):
        return {
            (m["pvcNameParameter"]["componentInputParameter"], m["mountPath"])
            for m in executors[f"exec-{step}"]["pvcMount"]
        }

    assert mounts("query") == {("WORKSPACE_CLAIM", "/workspace")}
    assert mounts("train") == {("WORKSPACE_CLAIM", "/workspace")}
    assert mounts("export") == {("WORKSPACE_CLAIM", "/workspace"), ("MODEL_DB_CLAIM", "/model-db")}


def _platform_executors(documents):
    return documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


@pytest.mark.parametrize("step", ["query", "train", "export"])
def test_every_executor_runs_as_the_image_user_with_a_tmp_emptydir(documents, pipeline_def, step):
    """What kfp-kubernetes can express of the pod security: the user, non-root, and the /tmp emptyDir."""
    executor = _platform_executors(documents)[f"exec-{step}"]
    user = str(pipeline_def.RUN_AS_USER)  # int64 in the protobuf JSON
    assert executor["securityContext"] == {"runAsUser": user, "runAsGroup": user, "runAsNonRoot": True}
    assert executor["emptyDirMounts"] == [{"mountPath": "/tmp", "volumeName": pipeline_def.SCRATCH_VOLUME}]


def test_the_spec_says_what_kfp_kubernetes_cannot_express(documents):
    description = documents[0]["pipelineInfo"]["description"]
    for field in ("allowPrivilegeEscalation", "capabilities", "seccomp", "readOnlyRootFilesystem", "fsGroup"):
        assert field in description
    assert "leave them out" in description


def test_query_token_and_ca_come_from_a_secret_and_a_configmap_named_by_inputs(documents):
    """Volumes whose names are the optional inputs; no input, no volume and no flag."""
    executors = _platform_executors(documents)
    query = executors["exec-query"]
    (secret,) = query["secretAsVolume"]
    assert secret == {
        "secretNameParameter": {"componentInputParameter": "PROM_TOKEN_SECRET"},
        "optional": True,
        "mountPath": FILE_INPUTS["PROM_TOKEN_SECRET"][1].rsplit("/", 1)[0],
    }
    (config_map,) = query["configMapAsVolume"]
    assert config_map == {
        "configMapNameParameter": {"componentInputParameter": "PROM_CA_CONFIGMAP"},
        "optional": True,
        "mountPath": FILE_INPUTS["PROM_CA_CONFIGMAP"][1].rsplit("/", 1)[0],
    }
    for name in ("exec-train", "exec-export"):
        assert "secretAsVolume" not in executors[name] and "configMapAsVolume" not in executors[name]


def test_no_parameter_env_or_argument_carries_a_token(documents):
    definitions = documents[0]["root"]["inputDefinitions"]["parameters"]
    assert [n for n in definitions if re.search(r"TOKEN|PASSWORD|CREDENTIAL|SECRET|KEY", n)] == ["PROM_TOKEN_SECRET"]
    assert "defaultValue" not in definitions["PROM_TOKEN_SECRET"]
    for executor in documents[0]["deploymentSpec"]["executors"].values():
        container = executor["container"]
        assert not {e["name"] for e in container.get("env", [])} & {"PROM_TOKEN", "PROM_TOKEN_FILE"}
        assert "--token" not in container["args"]
    assert not any("secretAsEnv" in e for e in _platform_executors(documents).values())
