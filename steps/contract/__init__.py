"""The step contract: the pipeline's parameters, its steps and the `kepler-model` commands, declared once.

Three readers, one table:
- the compiler (pipeline.py, emitters in pipeline_lib/) renders it into the KFP spec and the Argo
  manifests;
- `kepler-model run` (steps/local_run/) renders the same step command lines on one machine;
- `kepler-model` (steps/cli.py) dispatches its commands from it, and each step image provides
  only its own step (images/Dockerfile, built with `--build-arg STEP=<step>`).

Interface apart from implementation: a step names the module implementing it, never imports it.
This package imports only the standard library and steps.common.flags, so the step images and the
CLI load it without any step's dependencies.

- vocabulary.py: what a parameter, claim, mounted file, output, run output, command and step are; the checks;
- table.py: the table itself.
"""

from .table import (
    CLAIMS,
    COMMANDS,
    DOCKERFILE,
    EXPORTED_MODELS,
    IMAGE_STEP_ARG,
    IMAGE_STEPS_VARIABLE,
    IMAGE_USER,
    LOCAL_RUN,
    MODEL_DB,
    MODEL_DB_MOUNT,
    MODELS_FOLDER,
    PARAMETERS,
    PROM_CA,
    PROM_TOKEN,
    QUERY_JSON,
    RUN_METRICS,
    RUN_REPORT,
    STEP_ENV,
    STEPS,
    VALIDATION_TABLE,
    WORKSPACE,
    WORKSPACE_MOUNT,
    commands_by_name,
    image_provides,
    step_named,
)
from .vocabulary import (
    CONFIG_MAP,
    CONSOLE_COMMAND,
    COUNT,
    KFP_EXECUTOR_OUTPUT_FLAG,
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

__all__ = [
    "CLAIMS",
    "COMMANDS",
    "CONFIG_MAP",
    "CONSOLE_COMMAND",
    "COUNT",
    "DOCKERFILE",
    "EXPORTED_MODELS",
    "IMAGE_STEP_ARG",
    "IMAGE_STEPS_VARIABLE",
    "IMAGE_USER",
    "LOCAL_RUN",
    "MARKDOWN",
    "KFP_EXECUTOR_OUTPUT_FLAG",
    "METRICS",
    "MODEL_DB",
    "MODEL_DB_MOUNT",
    "MODELS_FOLDER",
    "PARAMETERS",
    "PROM_CA",
    "PROM_TOKEN",
    "QUERY_JSON",
    "RUN_METRICS",
    "RUN_REPORT",
    "SECRET",
    "STEP_ENV",
    "STEPS",
    "VALIDATION_TABLE",
    "WORKSPACE",
    "WORKSPACE_MOUNT",
    "Claim",
    "ClaimPath",
    "CliCommand",
    "ContractError",
    "MountedFile",
    "Output",
    "Parameter",
    "Ref",
    "Resources",
    "RunOutput",
    "Step",
    "check_contract",
    "commands_by_name",
    "image_provides",
    "step_named",
]
