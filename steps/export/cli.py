"""`kepler-model export`: flags only; the work is in run.py."""

from __future__ import annotations

from ..common import flags, run_outputs
from ..common.config import Environment
from ..common.console import Console
from ..common.flags import StepArgumentParser, bool_flag
from ..common.signals import Interrupted, mark_outcome
from .families import DEFAULT_FAMILY, FAMILIES
from .settings import DEFAULT_BASE_URL, SELECT_BY_VARIABLE, VERSION_VARIABLE, settings_from_args


def build_parser() -> StepArgumentParser:
    """export's flags; those other commands share come from steps/common/flags.py."""
    parser = StepArgumentParser(
        prog="kepler-model export",
        description="Publish the models of a trained pipeline whose errors are under the thresholds into a "
        "kepler-model-db 'models' folder (<output>/<version>/<pipeline>), with reports and plots.",
    )
    flags.PIPELINE_NAME.add(parser, "required")
    flags.OUTPUT.add(parser, "kepler-model-db 'models' folder, created when missing; required")
    flags.PUBLISHER.add(parser, "required")
    flags.BENCHMARK.add(parser, "its start is the collect time")
    flags.COLLECT_DATE.add(parser)
    flags.INPUT.add(parser, "workload names for the pipeline page, comma list")
    bool_flag(parser, "--zip", help="also write <output>/<version>/<pipeline>.zip")
    flags.DATA_PATH.add(parser, "holds the --benchmark and --input files")
    parser.add_argument("--mae-threshold", help="MAE test in watts (default: EXPORT_MAE_THRESHOLD or 10)")
    parser.add_argument("--mape-threshold", help="MAPE test in percent (default: EXPORT_MAPE_THRESHOLD or 20)")
    parser.add_argument("--hard-threshold", help="cap on both MAE and MAPE (default: EXPORT_HARD_THRESHOLD or 100)")
    parser.add_argument(
        "--select-by",
        metavar="{" + ",".join(FAMILIES) + "}",
        help="errors that thresholds and best models use: split (held-out test split, as kepler-model-db), "
        "cv (cross-validated), extrapolation; a pipeline without them falls back to split "
        f"(default: {SELECT_BY_VARIABLE} or {DEFAULT_FAMILY})",
    )
    parser.add_argument("--base-url", help=f"base of report URLs (default: MODEL_DB_BASE_URL or {DEFAULT_BASE_URL})")
    parser.add_argument("--version", help=f"model-db version folder (default: {VERSION_VARIABLE} or v0.7)")
    run_outputs.add_flags(parser, "export")
    parser.epilog = (
        "Environment: MODEL_PATH (trained pipelines, default: the data path), ERROR_KEY (mae or mape, "
        "orders models), CONFIG_PATH."
    )
    return parser


def run(args, env: Environment, console: Console) -> int:
    """`kepler-model export`: the settings checked, then the export (run.py)."""
    settings = settings_from_args(args, env)  # usage errors before the heavy imports
    try:
        from .run import export  # matplotlib only when exporting

        result = export(settings, console)
    except Interrupted as stop:
        mark_outcome(stop, f"{settings.database.pipeline(settings.pipeline).root} unchanged")
        raise
    report, metrics = (path.read_bytes() for path in result.summary)  # just written by this run
    contents = {"run_report": report, "run_metrics": metrics, "exported_models": str(result.exported).encode()}
    run_outputs.deliver(args, "export", contents)
    return 0
