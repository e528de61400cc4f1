"""`kepler-model query`: flags and environment turned into QuerySettings; the work is in run.py."""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path
from typing import Optional

from ..common.config import Environment, is_set, resolve
from ..common.console import Console
from ..common.domain import METRIC_GENERATIONS
from ..common.errors import UsageError
from ..common.flags import StepArgumentParser, bool_flag, parse_bool, positive_number, split_list
from ..common.workspace import DEFAULT_DATA_PATH, Workspace
from .chunks import parse_step
from .prom import ServerAddress
from .run import QueryDeps, QuerySettings, run_query
from .window import WindowRequest

DEFAULT_SERVER = "http://localhost:9090"


def build_parser() -> StepArgumentParser:
    parser = StepArgumentParser(
        prog="kepler-model query",
        description="Collect Kepler metrics for one time window from Prometheus into the workspace "
                    "(<output>.json, <benchmark>.json, machine_spec/<id>.json, <output>_validate_result.csv).")
    add = parser.add_argument
    add("--data-path", help=f"workspace folder, created when missing (env DATAPATH, default {DEFAULT_DATA_PATH})")
    add("-o", "--output", help="name of the query JSON <output>.json, without .json (default output)")
    add("-i", "--input", help="existing time-window file <input>.json to take the window from")
    add("--benchmark", help="name under which the window is saved as <benchmark>.json")
    add("--start-time", help="window start, UTC, YYYY-MM-DDTHH:MM:SSZ (with --end-time)")
    add("--end-time", help="window end, UTC, YYYY-MM-DDTHH:MM:SSZ (with --start-time)")
    add("--interval", help="window length in seconds ending now (env PROM_QUERY_INTERVAL, default 300)")
    add("--step", help="resolution: seconds (3, 0.5) or a duration (3s, 1m) (env PROM_QUERY_STEP, default 3)")
    add("-s", "--server", help=f"Prometheus base URL, may carry user:password@ "
                               f"(env PROM_URL, PROM_SERVER, default {DEFAULT_SERVER})")
    add("--metric-prefix", help="collect metrics whose name starts with this (default kepler_)")
    add("-tm", "--thirdparty-metrics", nargs="*", help="extra metric names, matched exactly, comma or space "
                                                       "separated (env PROM_THIRDPARTY_METRICS)")
    bool_flag(parser, "--to-csv", help="also write <output>_csv/<metric>.csv")
    add("--id", help="machine id naming machine_spec/<id>.json and the Kubernetes Node "
                     "(env COLLECT_ID, default unknown with a warning)")
    bool_flag(parser, "--vm-train", help="the validation table uses the VM energy metrics")
    add("--machine-spec", help="machine spec file of the measured machine (first source of the spec)")
    add("--selector", help='PromQL label matchers added to every query, e.g. instance="worker-1:9102"')
    bool_flag(parser, "--insecure", help="do not verify the TLS certificate (env PROM_SSL_DISABLE)")
    add("--token-file", help="file holding a bearer token (env PROM_TOKEN_FILE; else env PROM_TOKEN)")
    add("--ca-file", help="extra CA bundle for the server certificate (env PROM_CA_FILE)")
    add("--timeout", help="seconds per HTTP request (env PROM_QUERY_TIMEOUT, default 120)")
    add("--concurrency", help="maximum requests in flight (env PROM_QUERY_CONCURRENCY, default 4)")
    add("--metric-generation", help=f"Kepler metric generation: {', '.join(METRIC_GENERATIONS)} "
                                    "(env KEPLER_METRIC_GENERATION, default auto)")
    return parser


def settings_from_args(args: argparse.Namespace, env: Environment) -> QuerySettings:
    """Every flag with its env fallback, checked; usage errors name the flag and value."""
    interval_text = resolve(args.interval, env, "PROM_QUERY_INTERVAL", default="300")
    interval = int(positive_number(str(interval_text).strip(), "--interval", integer=True))
    step_text = str(resolve(args.step, env, "PROM_QUERY_STEP", default="3")).strip()
    step: Fraction = parse_step(step_text)
    timeout = positive_number(str(resolve(args.timeout, env, "PROM_QUERY_TIMEOUT", default="120")).strip(), "--timeout")
    concurrency = int(positive_number(str(resolve(args.concurrency, env, "PROM_QUERY_CONCURRENCY", default="4")).strip(),
                                      "--concurrency", integer=True))
    generation = str(resolve(args.metric_generation, env, "KEPLER_METRIC_GENERATION", default="auto")).strip()
    if generation not in METRIC_GENERATIONS:
        raise UsageError(f"--metric-generation must be one of {', '.join(METRIC_GENERATIONS)}, not {generation!r}")
    server_text = str(resolve(args.server, env, "PROM_URL", "PROM_SERVER", default=DEFAULT_SERVER))
    try:
        server = ServerAddress.parse(server_text)
    except ValueError as failure:
        raise UsageError(f"--server: {failure}") from None
    thirdparty = split_list(args.thirdparty_metrics) or split_list(env.get("PROM_THIRDPARTY_METRICS"))
    machine_id: Optional[str] = resolve(args.id, env, "COLLECT_ID")
    output = args.output if is_set(args.output) else "output"
    return QuerySettings(
        workspace=Workspace.from_settings(args.data_path, env),
        output=output.strip(),
        window=WindowRequest(input=args.input, benchmark=args.benchmark, start_time=args.start_time,
                             end_time=args.end_time, interval=interval, interval_given=is_set(args.interval)),
        step=step,
        server=server,
        metric_prefix=args.metric_prefix if is_set(args.metric_prefix) else "kepler_",
        thirdparty=tuple(thirdparty),
        to_csv=parse_bool(args.to_csv or "false", "--to-csv"),
        machine_id=machine_id.strip() if machine_id else "unknown",
        id_given=machine_id is not None,
        vm_train=parse_bool(args.vm_train or "false", "--vm-train"),
        machine_spec=Path(args.machine_spec) if is_set(args.machine_spec) else None,
        selector=args.selector if is_set(args.selector) else None,
        insecure=parse_bool(args.insecure if is_set(args.insecure) else (env.get("PROM_SSL_DISABLE") or "false"),
                            "--insecure"),
        token_file=resolve(args.token_file, env, "PROM_TOKEN_FILE"),
        env_token=env.get("PROM_TOKEN"),
        ca_file=resolve(args.ca_file, env, "PROM_CA_FILE"),
        timeout=timeout,
        concurrency=concurrency,
        generation=generation,
    )


def run(args: argparse.Namespace, env: Environment, console: Console, deps: Optional[QueryDeps] = None) -> int:
    settings = settings_from_args(args, env)
    return run_query(settings, env, console, deps)
