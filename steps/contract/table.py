"""The step table: the pipeline's parameters and claims, its three steps, and the `kepler-model` commands.

Order matters: parameters appear in this order in KFP and Argo, and steps run in this order (each
after the ones it names). pipeline.py compiles this table, `kepler-model run` renders the same
command lines on one machine, and `kepler-model` dispatches its commands from it.
"""

from __future__ import annotations

from typing import Dict, Tuple

from .. import DEFAULT_PIPELINE_NAME
from ..common import flags
from .vocabulary import (
    CONFIG_MAP,
    COUNT,
    MARKDOWN,
    METRICS,
    SECRET,
    Claim,
    ClaimPath,
    CliCommand,
    ContractError,
    MountedFile,
    Output,
    Parameter,
    Ref,
    Resources,
    RunOutput,
    Step,
    check_contract,
)

# Set in each step image: the steps that image provides (a comma list); other commands are refused.
IMAGE_STEPS_VARIABLE = "KEPLER_MODEL_IMAGE_STEPS"
# The non-root user (and group) of every step image; the pods run as it.
IMAGE_USER = 1000
# One Dockerfile builds every step image; this build argument names the step.
DOCKERFILE = "images/Dockerfile"
IMAGE_STEP_ARG = "STEP"

# Where the claims are mounted in every step container.
WORKSPACE_MOUNT = "/workspace"
MODEL_DB_MOUNT = "/model-db"

PARAMETERS: Tuple[Parameter, ...] = (
    Parameter(
        "BENCHMARK",
        "",
        "benchmark name; query saves the window as <BENCHMARK>.json, export reads its start as the collect time",
        flag=flags.BENCHMARK,
    ),
    Parameter("PROM_URL", "http://prometheus-k8s.monitoring.svc:9090", "Prometheus base URL", flag=flags.SERVER),
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
    Parameter("COLLECT_ID", "", "machine id (e.g. the node name); names the machine spec", flag=flags.ID),
    Parameter("PIPELINE_NAME", DEFAULT_PIPELINE_NAME, "pipeline (model folder) name", flag=flags.PIPELINE_NAME),
    Parameter(
        "COLLECT_DATE",
        "",
        "collect time as free text; wins over the benchmark start in export",
        flag=flags.COLLECT_DATE,
    ),
    Parameter("START_TIME", "", "window start, UTC YYYY-MM-DDTHH:MM:SSZ (with END_TIME)", flag=flags.START_TIME),
    Parameter("END_TIME", "", "window end, UTC YYYY-MM-DDTHH:MM:SSZ (with START_TIME)", flag=flags.END_TIME),
    Parameter(
        "INTERVAL",
        "",
        "window length in seconds ending now, when START_TIME/END_TIME are unset",
        flag=flags.INTERVAL,
    ),
    Parameter("STEP", "", "query resolution: seconds or a Prometheus duration", flag=flags.STEP),
    Parameter("PUBLISHER", "", "GitHub account of the publisher (required by export)", flag=flags.PUBLISHER),
    Parameter(
        "OS_SELECTOR",
        "",
        "node_exporter matchers: also collect OS counters (Kepler >= 0.10; the guests' for VM models)",
        flag=flags.OS_SELECTOR,
    ),
    Parameter("OS_SERVER", "", "Prometheus URL of the OS counters; empty: PROM_URL", flag=flags.OS_SERVER),
    Parameter(
        "VM_MAP",
        "",
        "VM models (Kepler >= 0.10): workspace JSON file mapping each guest to its vm_id; empty: node models",
        flag=flags.VM_MAP,
    ),
    Parameter("VM_TARGET", "", "VM models' target: vm (default) or process; needs VM_MAP", flag=flags.VM_TARGET),
    Parameter("WORKSPACE_CLAIM", "kepler-model-workspace", "existing PVC shared by the steps (workspace)"),
    Parameter("MODEL_DB_CLAIM", "kepler-model-db", "existing PVC holding the kepler-model-db folder; outlives runs"),
)

WORKSPACE = Claim("WORKSPACE_CLAIM", "workspace", WORKSPACE_MOUNT, "10Gi", "query responses and trained pipelines")
MODEL_DB = Claim("MODEL_DB_CLAIM", "model-db", MODEL_DB_MOUNT, "1Gi", "the exported kepler-model-db models folder")
CLAIMS: Tuple[Claim, ...] = (WORKSPACE, MODEL_DB)

# Where the steps find the workspace claim (the workspace contract's DATAPATH and MODEL_PATH).
STEP_ENV: Tuple[Tuple[str, str], ...] = (
    ("DATAPATH", f"{WORKSPACE_MOUNT}/data"),
    ("MODEL_PATH", f"{WORKSPACE_MOUNT}/models"),
)

# Files from a Secret and a ConfigMap named by parameters, for the query step's TLS and bearer token.
PROM_TOKEN = MountedFile(
    "PROM_TOKEN_SECRET", SECRET, "prom-token", "/var/run/secrets/kepler-model/prometheus-token", "token", "--token-file"
)
PROM_CA = MountedFile(
    "PROM_CA_CONFIGMAP", CONFIG_MAP, "prom-ca", "/etc/kepler-model/prometheus-ca", "ca.crt", "--ca-file"
)

# What query hands to train: the query JSON, <name>.json in the workspace.
QUERY_JSON = Output("kepler_query", "raw Prometheus range-query results of the window")
# What export writes into: the kepler-model-db `models` folder on the model database claim.
MODELS_FOLDER = ClaimPath(MODEL_DB, "models")

# What the run page shows (KFP artifacts and output parameters, Argo output parameters); the steps
# also keep each in the workspace (README.md, "Results on the run page").
VALIDATION_TABLE = RunOutput(
    "validation_table", MARKDOWN, "the validation table of the query (<output>_validate_result.md)"
)
RUN_REPORT = RunOutput("run_report", MARKDOWN, "the exported models and their errors (<pipeline>_export_report.md)")
RUN_METRICS = RunOutput(
    "run_metrics", METRICS, "best MAE/MAPE per source, output type and group (<pipeline>_export_metrics.json)"
)
EXPORTED_MODELS = RunOutput("exported_models", COUNT, "how many models export published")

STEPS: Tuple[Step, ...] = (
    Step(
        name="query",
        module="steps.query.cli",
        summary="collect Kepler metrics for a benchmark window from Prometheus into the workspace",
        args=(
            "--benchmark",
            Ref("BENCHMARK"),
            "--server",
            Ref("PROM_URL"),
            "--output",
            QUERY_JSON,
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
            "--os-selector",
            Ref("OS_SELECTOR"),
            "--os-server",
            Ref("OS_SERVER"),
        ),
        claims=(WORKSPACE.volume,),
        resources=Resources("500m", "2", "1Gi", "4Gi"),
        files=(PROM_TOKEN, PROM_CA),
        outputs=(QUERY_JSON,),
        run_outputs=(VALIDATION_TABLE,),
    ),
    Step(
        name="train",
        module="steps.train.cli",
        summary="train power models from collected metrics into a pipeline folder",
        args=(
            "--pipeline-name",
            Ref("PIPELINE_NAME"),
            "--input",
            QUERY_JSON,
            "--id",
            Ref("COLLECT_ID"),
            "--vm-map",
            Ref("VM_MAP"),
            "--vm-target",
            Ref("VM_TARGET"),
        ),
        claims=(WORKSPACE.volume,),
        resources=Resources("1", "4", "2Gi", "8Gi"),
        after=("query",),
    ),
    Step(
        name="export",
        module="steps.export.cli",
        summary="publish the models under the error thresholds into a kepler-model-db folder",
        args=(
            "--benchmark",
            Ref("BENCHMARK"),
            "--collect-date",
            Ref("COLLECT_DATE"),
            "--pipeline-name",
            Ref("PIPELINE_NAME"),
            "-o",
            MODELS_FOLDER,
            "--publisher",
            Ref("PUBLISHER"),
            "--zip=true",
        ),
        claims=(WORKSPACE.volume, MODEL_DB.volume),
        resources=Resources("250m", "1", "512Mi", "2Gi"),
        after=("train",),
        run_outputs=(RUN_REPORT, RUN_METRICS, EXPORTED_MODELS),
    ),
)

# A command, not a pipeline step: it runs the steps above in order on one machine, in no image.
LOCAL_RUN = CliCommand(
    "run", "steps.local_run.cli", "run query, train and export in order on this machine (no cluster needed)"
)

COMMANDS: Tuple[CliCommand, ...] = STEPS + (LOCAL_RUN,)


def commands_by_name() -> Dict[str, CliCommand]:
    """Every `kepler-model` command by name, steps first."""
    return {command.name: command for command in COMMANDS}


def step_named(name: str) -> Step:
    """The step called `name`; a ContractError names the steps when there is none."""
    for step in STEPS:
        if step.name == name:
            return step
    raise ContractError(f"no step {name!r}; the steps are {', '.join(s.name for s in STEPS)}")


def image_provides(image_steps: str, command: str) -> bool:
    """Whether an image whose IMAGE_STEPS_VARIABLE is `image_steps` (a comma list) provides `command`."""
    return command in [s.strip() for s in image_steps.split(",")]


check_contract(PARAMETERS, STEPS, CLAIMS)  # a table that contradicts itself fails on import
