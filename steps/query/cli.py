"""`kepler-model query`: flags and environment turned into QuerySettings; the work is in run.py."""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path
from typing import List, Optional, Tuple

from ..common import flags, run_outputs
from ..common.config import Environment, is_set, resolve
from ..common.console import Console
from ..common.domain import METRIC_GENERATIONS
from ..common.errors import StepError, UsageError
from ..common.flags import StepArgumentParser, bool_flag, parse_bool, positive_number, split_list
from ..common.names import check_flag_name, check_name, resolve_name, variable_label
from ..common.workspace import Workspace, plain_name
from .chunks import DEFAULT_MAX_SERIES_POINTS, parse_step
from .prom import ServerAddress, check_timeout
from .run import QueryDeps, QuerySettings, run_query, validation_markdown
from .window import WindowRequest

DEFAULT_SERVER = "http://localhost:9090"


def build_parser() -> StepArgumentParser:
    """query's flags; those other commands share come from steps/common/flags.py."""
    parser = StepArgumentParser(
        prog="kepler-model query",
        description="Collect Kepler metrics for one time window from Prometheus into the workspace "
        "(<output>.json, <benchmark>.json, machine_spec/<id>.json, <output>_validate_result.csv and .md).",
    )
    add = parser.add_argument
    flags.DATA_PATH.add(parser, "created when missing")
    flags.OUTPUT.add(parser, "name of the query JSON <output>.json, without .json (default output)")
    flags.INPUT.add(parser, "existing time-window file <input>.json to take the window from")
    flags.BENCHMARK.add(parser, "the window is saved under it")
    flags.START_TIME.add(parser)
    flags.END_TIME.add(parser)
    flags.INTERVAL.add(parser)
    flags.STEP.add(parser)
    flags.SERVER.add(parser, f"default {DEFAULT_SERVER}")
    add("--metric-prefix", help="collect metrics whose name starts with this (default kepler_)")
    flags.THIRDPARTY_METRICS.add(parser, "matched exactly (env PROM_THIRDPARTY_METRICS)", nargs="*")
    bool_flag(parser, "--to-csv", help="also write <output>_csv/<metric>.csv")
    flags.ID.add(parser, "and the Kubernetes Node read (env COLLECT_ID, default unknown with a warning)")
    bool_flag(parser, "--vm-train", help="the validation table uses the VM energy metrics")
    flags.MACHINE_SPEC.add(parser, "first source of the spec")
    add("--selector", help='PromQL label matchers added to every query, e.g. instance="worker-1:9102"')
    flags.OS_SELECTOR.add(parser)
    flags.OS_SERVER.add(parser)
    bool_flag(parser, "--insecure", help="do not verify the TLS certificate (env PROM_SSL_DISABLE)")
    add("--token-file", help="file holding a bearer token (env PROM_TOKEN_FILE; else env PROM_TOKEN)")
    add("--ca-file", help="extra CA bundle for the server certificate (env PROM_CA_FILE)")
    add("--timeout", help="seconds per HTTP request, from send to last byte (env PROM_QUERY_TIMEOUT, default 120)")
    add(
        "--max-points",
        help="most points per series the window may need at --step; a smaller step is refused "
        f"(env PROM_QUERY_MAX_POINTS, default {DEFAULT_MAX_SERIES_POINTS})",
    )
    add("--concurrency", help="maximum requests in flight (env PROM_QUERY_CONCURRENCY, default 4)")
    add(
        "--metric-generation",
        help=f"Kepler metric generation: {', '.join(METRIC_GENERATIONS)} (env KEPLER_METRIC_GENERATION, default auto)",
    )
    run_outputs.add_flags(parser, "query")
    return parser


def _json_name(value: Optional[str], flag: str) -> Optional[str]:
    """A workspace name flag (`.json` optional): what it names must be one file of DATAPATH."""
    if not is_set(value):
        return None
    text = str(value).strip()
    check_flag_name(plain_name(text), flag)
    return text


def _thirdparty(args: argparse.Namespace, env: Environment, to_csv: bool) -> List[str]:
    """-tm names, from the flag or PROM_THIRDPARTY_METRICS; with --to-csv each one may name a CSV file."""
    if split_list(args.thirdparty_metrics):
        names, where = split_list(args.thirdparty_metrics), "--thirdparty-metrics"
    else:
        names, where = (
            split_list(env.get("PROM_THIRDPARTY_METRICS")),
            variable_label("--thirdparty-metrics", "PROM_THIRDPARTY_METRICS"),
        )
    for name in names if to_csv else ():
        check_name(name, where, usage=True, hint="with --to-csv it names the file <output>_csv/<metric>.csv")
    return names


def settings_from_args(args: argparse.Namespace, env: Environment) -> QuerySettings:
    """Every flag with its env fallback, checked; usage errors name the flag and value.

    Names that become files of the workspace (--output, --input, --benchmark, --id) are plain
    names, checked here before anything is read, requested or written.
    """
    output = _json_name(args.output, "--output") or "output"
    window_input, benchmark = _json_name(args.input, "--input"), _json_name(args.benchmark, "--benchmark")
    machine_id: Optional[str] = resolve_name(args.id, env, "--id", "COLLECT_ID")
    to_csv = parse_bool(args.to_csv or "false", "--to-csv")
    interval = _count(args.interval, env, "PROM_QUERY_INTERVAL", "300", "--interval")
    step_text = str(resolve(args.step, env, "PROM_QUERY_STEP", default="3")).strip()
    step: Fraction = parse_step(step_text)
    timeout = check_timeout(
        positive_number(str(resolve(args.timeout, env, "PROM_QUERY_TIMEOUT", default="120")).strip(), "--timeout")
    )
    max_points = _count(args.max_points, env, "PROM_QUERY_MAX_POINTS", str(DEFAULT_MAX_SERIES_POINTS), "--max-points")
    concurrency = _count(args.concurrency, env, "PROM_QUERY_CONCURRENCY", "4", "--concurrency")
    generation = str(resolve(args.metric_generation, env, "KEPLER_METRIC_GENERATION", default="auto")).strip()
    if generation not in METRIC_GENERATIONS:
        raise UsageError(f"--metric-generation must be one of {', '.join(METRIC_GENERATIONS)}, not {generation!r}")
    server = _server(str(resolve(args.server, env, "PROM_URL", "PROM_SERVER", default=DEFAULT_SERVER)), "--server")
    thirdparty = _thirdparty(args, env, to_csv)
    os_selector, os_server = _os_counters(args)
    return QuerySettings(
        workspace=Workspace.from_settings(args.data_path, env),
        output=output,
        window=WindowRequest(
            input=window_input,
            benchmark=benchmark,
            start_time=args.start_time,
            end_time=args.end_time,
            interval=interval,
            interval_given=is_set(args.interval),
        ),
        step=step,
        server=server,
        metric_prefix=args.metric_prefix if is_set(args.metric_prefix) else "kepler_",
        thirdparty=tuple(thirdparty),
        to_csv=to_csv,
        machine_id=machine_id or "unknown",
        id_given=machine_id is not None,
        vm_train=parse_bool(args.vm_train or "false", "--vm-train"),
        machine_spec=Path(args.machine_spec) if is_set(args.machine_spec) else None,
        selector=args.selector if is_set(args.selector) else None,
        insecure=parse_bool(
            args.insecure if is_set(args.insecure) else (env.get("PROM_SSL_DISABLE") or "false"), "--insecure"
        ),
        token_file=resolve(args.token_file, env, "PROM_TOKEN_FILE"),
        env_token=env.get("PROM_TOKEN"),
        ca_file=resolve(args.ca_file, env, "PROM_CA_FILE"),
        timeout=timeout,
        max_points=max_points,
        concurrency=concurrency,
        generation=generation,
        os_selector=os_selector,
        os_server=os_server,
    )


def _count(value: Optional[str], env: Environment, variable: str, default: str, flag: str) -> int:
    """A positive integer flag with its environment fallback; a usage error naming the flag otherwise."""
    return int(positive_number(str(resolve(value, env, variable, default=default)).strip(), flag, integer=True))


def _os_counters(args: argparse.Namespace) -> Tuple[Optional[str], Optional[ServerAddress]]:
    """--os-selector and --os-server (kepler-010.md §3); the server without a selector is a usage error."""
    selector = str(args.os_selector).strip() if is_set(args.os_selector) else None
    if not is_set(args.os_server):
        return selector, None
    if selector is None:
        raise UsageError("--os-server needs --os-selector (the node_exporter series to read there)")
    return selector, _server(str(args.os_server).strip(), "--os-server")


def _server(text: str, flag: str) -> ServerAddress:
    """A Prometheus base URL, or a usage error naming the flag."""
    try:
        return ServerAddress.parse(text)
    except ValueError as failure:
        raise UsageError(f"{flag}: {failure}") from None


def run(args: argparse.Namespace, env: Environment, console: Console, deps: Optional[QueryDeps] = None) -> int:
    """`kepler-model query`: the settings checked, then the collection (run.py)."""
    settings = settings_from_args(args, env)
    status = run_query(settings, env, console, deps)
    if status == 0:  # the run page's copy of the validation table (--validation-table-file)
        table = validation_markdown(settings.workspace, settings.output)
        run_outputs.deliver(args, "query", {"validation_table": _read(table)})
    return status


def _read(path: Path) -> bytes:
    """A workspace file the step just wrote; a StepError names it when it cannot be read back."""
    try:
        return path.read_bytes()
    except OSError as failure:
        raise StepError(f"cannot read {path}: {failure.strerror or failure}") from None
