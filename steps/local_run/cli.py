"""`kepler-model run`: query -> train -> export on this machine, stopping at the first failure."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, List, Mapping, Optional

from .. import DEFAULT_PIPELINE_NAME
from ..common.config import Environment, is_set
from ..common.console import Console
from ..common.errors import UsageError
from ..common.flags import StepArgumentParser
from ..common.names import check_flag_name, check_pipeline_flag
from ..common.workspace import ModelDatabase, Workspace, plain_name
from .checks import ErrorLineWatch, check_commands
from .plan import RunParameters, step_commands

# Runs one step: (argv starting with the command, environment) -> exit status.
StepRunner = Callable[[List[str], Mapping[str, str], Console], int]


def build_parser() -> StepArgumentParser:
    parser = StepArgumentParser(
        prog="kepler-model run",
        description="Run query, train and export one after another on this machine with the pipeline's "
        "parameters (no cluster needed). Stops at the first failing step with its exit status.",
    )
    parser.add_argument(
        "--benchmark", help="benchmark name: the window is saved as <data-path>/<benchmark>.json (required)"
    )
    parser.add_argument(
        "-s", "--server", help="Prometheus base URL (default: PROM_URL, PROM_SERVER or http://localhost:9090)"
    )
    parser.add_argument("--id", help="machine id (COLLECT_ID), e.g. the node name")
    parser.add_argument("-p", "--pipeline-name", help=f"pipeline name (default: {DEFAULT_PIPELINE_NAME})")
    parser.add_argument("--collect-date", help="collect time as free text; wins over the benchmark start in export")
    parser.add_argument("--start-time", help="window start, UTC YYYY-MM-DDTHH:MM:SSZ (with --end-time)")
    parser.add_argument("--end-time", help="window end, UTC YYYY-MM-DDTHH:MM:SSZ (with --start-time)")
    parser.add_argument("--interval", help="window length in seconds ending now (default: PROM_QUERY_INTERVAL or 300)")
    parser.add_argument("--step", help="query resolution (default: PROM_QUERY_STEP or 3)")
    parser.add_argument("--publisher", help="GitHub account of the publisher (required)")
    parser.add_argument("-o", "--output", help="kepler-model-db 'models' folder to export into (required)")
    parser.add_argument("--data-path", help="workspace folder (default: DATAPATH or /data); MODEL_PATH defaults to it")
    return parser


def parameters_from_args(args) -> RunParameters:
    """The pipeline parameters from the flags; usage errors before any step runs."""
    missing = [
        flag
        for flag, value in (
            ("--benchmark", args.benchmark),
            ("--publisher", args.publisher),
            ("-o/--output", args.output),
        )
        if not is_set(value)
    ]
    if missing:
        raise UsageError(f"missing required flag(s): {', '.join(missing)}")

    def text(value: Optional[str]) -> str:
        return value.strip() if is_set(value) else ""

    # Names of workspace files and folders, refused before the first step runs.
    check_flag_name(plain_name(text(args.benchmark)), "--benchmark")
    if is_set(args.id):
        check_flag_name(text(args.id), "--id")
    if is_set(args.pipeline_name):
        check_pipeline_flag(text(args.pipeline_name), "--pipeline-name")

    return RunParameters(
        benchmark=text(args.benchmark),
        prom_url=text(args.server),
        collect_id=text(args.id),
        pipeline_name=text(args.pipeline_name) or DEFAULT_PIPELINE_NAME,
        collect_date=text(args.collect_date),
        start_time=text(args.start_time),
        end_time=text(args.end_time),
        interval=text(args.interval),
        step=text(args.step),
        publisher=text(args.publisher),
        model_db=str(Path(args.output).resolve()),
    )


def in_process_runner(argv: List[str], environ: Mapping[str, str], console: Console) -> int:
    """Run a step through the same dispatcher as the console command, in this process."""
    from ..cli import main

    return main(argv, environ=dict(environ), out=console.out, err=console.err)


def run(args, env: Environment, console: Console, runner: StepRunner = in_process_runner) -> int:
    params = parameters_from_args(args)
    workspace = Workspace.from_settings(args.data_path, env)
    data_path = workspace.data_path.resolve()
    # The steps see the workspace exactly as in a pod: through DATAPATH (and MODEL_PATH when set).
    environ = dict(env.variables)
    environ["DATAPATH"] = str(data_path)
    steps = step_commands(params)
    check_commands(steps, environ)  # every step's own usage checks, before the first step writes anything
    for number, (step, step_args) in enumerate(steps, start=1):
        console.info(f"==> step {number}/{len(steps)}: kepler-model {step}")
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
    database = ModelDatabase(Path(params.model_db))
    exported = database.pipeline(params.pipeline_name)
    console.info(f"workspace:      {data_path}")
    console.info(f"model database: {database.version_dir}")
    console.info(f"pipeline:       {exported.root}")
    console.info(f"report:         {exported.readme}")
    return 0
