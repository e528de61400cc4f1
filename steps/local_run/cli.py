"""`kepler-model run`: query -> train -> export on this machine, stopping at the first failure."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, List, Mapping

from .. import DEFAULT_PIPELINE_NAME
from ..common import flags
from ..common.config import Environment, is_set
from ..common.console import Console
from ..common.errors import UsageError
from ..common.flags import StepArgumentParser
from ..common.names import check_flag_name, check_pipeline_flag
from ..common.workspace import ModelDatabase, Workspace, plain_name, read_json
from ..contract import CONSOLE_COMMAND, LOCAL_RUN, MODELS_FOLDER
from ..export.run_summary import summary_files
from .checks import ErrorLineWatch, check_commands
from .plan import RunParameters, run_parameters, step_commands

# Runs one step: (argv starting with the command, environment) -> exit status.
StepRunner = Callable[[List[str], Mapping[str, str], Console], int]
# Parameters a local run cannot do without (query needs a window name, export a publisher); -o too.
REQUIRED = ("BENCHMARK", "PUBLISHER")
# What run adds to a parameter flag's meaning in --help.
DETAILS = {name: "required" for name in REQUIRED}
DETAILS["PIPELINE_NAME"] = f"default {DEFAULT_PIPELINE_NAME}"


def build_parser() -> StepArgumentParser:
    """One flag per pipeline parameter that has one (steps/contract/), the workspace and the models folder."""
    parser = StepArgumentParser(
        prog=f"{CONSOLE_COMMAND} {LOCAL_RUN.name}",
        description="Run query, train and export one after another on this machine with the pipeline's "
        "parameters (no cluster needed). Stops at the first failing step with its exit status. A flag left "
        "out is passed empty, as in the pipeline: the step then falls back to its environment variable or "
        "default.",
    )
    for parameter in run_parameters():
        parameter.flag.add(parser, DETAILS.get(parameter.name, ""))
    flags.OUTPUT.add(parser, "kepler-model-db 'models' folder to export into; required")
    flags.DATA_PATH.add(parser, "MODEL_PATH defaults to it")
    return parser


def parameters_from_args(args) -> RunParameters:
    """The pipeline parameters from the flags; usage errors before any step runs."""
    given = {p.name: getattr(args, p.flag.dest) for p in run_parameters()}
    missing = [p.flag.long for p in run_parameters() if p.name in REQUIRED and not is_set(given[p.name])]
    if not is_set(args.output):
        missing.append("/".join(flags.OUTPUT.names))
    if missing:
        raise UsageError(f"missing required flag(s): {', '.join(missing)}")
    values = {name: value.strip() if is_set(value) else "" for name, value in given.items()}

    # Names of workspace files and folders, refused before the first step runs.
    check_flag_name(plain_name(values["BENCHMARK"]), flags.BENCHMARK.long)
    if values["COLLECT_ID"]:
        check_flag_name(values["COLLECT_ID"], flags.ID.long)
    if values["PIPELINE_NAME"]:
        check_pipeline_flag(values["PIPELINE_NAME"], flags.PIPELINE_NAME.long)
    values["PIPELINE_NAME"] = values["PIPELINE_NAME"] or DEFAULT_PIPELINE_NAME
    return RunParameters(values, {MODELS_FOLDER: str(Path(args.output).resolve())})


def in_process_runner(argv: List[str], environ: Mapping[str, str], console: Console) -> int:
    """Run a step through the same dispatcher as the console command, in this process."""
    from ..cli import main

    return main(argv, environ=dict(environ), out=console.out, err=console.err)


def run(args, env: Environment, console: Console, runner: StepRunner = in_process_runner) -> int:
    """Check every step's command line, then run the steps in order; the first failing step's status."""
    params = parameters_from_args(args)
    workspace = Workspace.from_settings(args.data_path, env)
    data_path = workspace.data_path.resolve()
    # The steps see the workspace exactly as in a pod: through DATAPATH (and MODEL_PATH when set).
    environ = dict(env.variables)
    environ["DATAPATH"] = str(data_path)
    steps = step_commands(params)
    check_commands(steps, environ)  # every step's own usage checks, before the first step writes anything
    for number, (step, step_args) in enumerate(steps, start=1):
        console.info(f"==> step {number}/{len(steps)}: {CONSOLE_COMMAND} {step}")
        started = time.monotonic()
        errors = ErrorLineWatch(console.err)
        status = runner([step, *step_args], environ, Console(console.command, out=console.out, err=errors))
        if status != 0:
            if not errors.seen:  # one error line per failure: the step's, else this one
                console.error(f"step {step} failed with exit status {status}")
            console.info(
                f"==> {step} failed with exit status {status}; the workspace {data_path} is kept, "
                f"fix the cause and rerun"
            )
            return status
        console.info(f"==> {step} done in {time.monotonic() - started:.1f}s")
    database = _exported_to(Path(params.folder(MODELS_FOLDER)), workspace, params.value("PIPELINE_NAME"))
    exported = database.pipeline(params.value("PIPELINE_NAME"))
    console.info(f"workspace:      {data_path}")
    console.info(f"model database: {database.version_dir}")
    console.info(f"pipeline:       {exported.root}")
    console.info(f"report:         {exported.readme}")
    console.info(f"run summary:    {summary_files(data_path, params.value('PIPELINE_NAME'))[0]}")
    return 0


def _exported_to(models: Path, workspace: Workspace, pipeline: str) -> ModelDatabase:
    """The model database folder export wrote into: the version folder of the pipeline's generation
    (`v0.10` for Kepler >= 0.10 data, else the default), read from the trained pipeline."""
    from ..export.generation import pipeline_generation

    layout = workspace.pipeline(pipeline)
    metadata = read_json(layout.metadata, "pipeline metadata")
    version = pipeline_generation(metadata if isinstance(metadata, dict) else {}, str(layout.metadata)).model
    return ModelDatabase(models, version.version_folder) if version.recorded else ModelDatabase(models)
