"""`python -m steps.synth`: write a synthetic Kepler data set as OpenMetrics and/or query JSON."""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional, Sequence

from ..common.errors import UsageError
from ..common.timefmt import format_window_time, parse_window_time
from . import cli010
from .config import DEFAULT_START, POWER_KINDS, SynthConfig
from .generator import generate
from .kepler010 import generate_010

GENERATIONS = ("0.7", "0.10")


def _gap(text: str):
    try:
        offset, length = (float(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected OFFSET:LENGTH in seconds, got {text!r}") from None
    return offset, length


def build_parser() -> argparse.ArgumentParser:
    """The flags of `python -m steps.synth`."""
    parser = argparse.ArgumentParser(
        prog="python -m steps.synth",
        description="Generate deterministic synthetic Kepler metrics with a known power function "
        "(Kepler 0.7: containers and node energy; Kepler 0.10: a node's zones, processes and containers, "
        "or a VM host with its guests' node_exporter series) as OpenMetrics text (for promtool "
        "backfill) and/or a query JSON (the query step's output format).",
    )
    parser.add_argument(
        "--generation", choices=GENERATIONS, default="0.7", help="Kepler metric generation (default 0.7)"
    )
    parser.add_argument(
        "--containers", type=int, default=None, help="benchmark containers (default 6; 0 on a 0.10 VM host)"
    )
    parser.add_argument("--duration", type=float, default=1800.0, help="seconds of data (default 1800)")
    parser.add_argument("--step", type=float, default=15.0, help="scrape interval in seconds (default 15)")
    parser.add_argument(
        "--start",
        default=format_window_time(DEFAULT_START),
        help="first sample, UTC, e.g. 2024-01-01T00:00:00Z (default)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--power", choices=POWER_KINDS, default="linear", help="power function (default linear)")
    parser.add_argument("--noise", type=float, default=0.0, help="std of power noise per interval, W (default 0)")
    parser.add_argument("--packages", type=int, default=2, help="CPU packages (default 2)")
    parser.add_argument(
        "--sources", default="rapl-sysfs,acpi", help="energy sources, comma list (default rapl-sysfs,acpi)"
    )
    parser.add_argument(
        "--reset",
        type=float,
        action="append",
        default=[],
        metavar="OFFSET",
        help="counter reset at OFFSET seconds (repeatable)",
    )
    parser.add_argument(
        "--gap",
        type=_gap,
        action="append",
        default=[],
        metavar="OFFSET:LENGTH",
        help="no scrapes from OFFSET for LENGTH seconds (repeatable)",
    )
    parser.add_argument("--node-name", default="synth-node-0", help="node name (default synth-node-0)")
    parser.add_argument("--benchmark", default="stressng", help="benchmark pod name prefix (default stressng)")
    parser.add_argument("--thirdparty", action="store_true", help="also emit the gauge node_cpu_temp_celsius")
    parser.add_argument("--openmetrics", metavar="FILE", help="write OpenMetrics text here")
    parser.add_argument("--query-json", metavar="FILE", help="write the query JSON here")
    cli010.add_arguments(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> SynthConfig:
    """The SynthConfig the parsed flags describe."""
    return SynthConfig(
        containers=6 if args.containers is None else args.containers,
        duration_s=args.duration,
        step_s=args.step,
        start=parse_window_time(args.start, "--start"),
        seed=args.seed,
        power=args.power,
        noise_w=args.noise,
        packages=args.packages,
        sources=tuple(s.strip() for s in args.sources.split(",") if s.strip()),
        counter_resets=tuple(args.reset),
        scrape_gaps=tuple(args.gap),
        node_name=args.node_name,
        benchmark=args.benchmark,
        thirdparty=args.thirdparty,
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Generate the data set and write the files asked for; the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.openmetrics and not args.query_json:
        parser.error("give --openmetrics and/or --query-json")
    v010 = args.generation == "0.10"
    foreign = cli010.changed(parser, args, cli010.ONLY_07 if v010 else cli010.ONLY_010)
    if foreign:
        parser.error(f"{foreign[0]} does not apply to --generation {args.generation}")
    try:
        config = cli010.config_from_args(args) if v010 else config_from_args(args)
    except (ValueError, KeyError, UsageError) as bad:
        parser.error(str(bad))
    began = time.monotonic()
    written: List[str] = []
    if v010:
        data = generate_010(config)
        written = cli010.write_outputs(data, args)
        what = f"Kepler 0.10, {len(data.containers)} containers, {len(data.vms)} VMs, {len(data.processes)} processes"
    else:
        data = generate(config)
        if args.openmetrics:
            written.append(str(data.write_openmetrics(args.openmetrics)))
        if args.query_json:
            written.append(str(data.write_query_response(args.query_json)))
        what = f"{len(data.containers)} containers"
    start, end = data.window
    print(
        f"synth: {what}, {data.offsets.size} samples per series, "
        f"window {format_window_time(start)} .. {format_window_time(end)}, "
        f"{time.monotonic() - began:.1f} s -> {', '.join(written)}"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
