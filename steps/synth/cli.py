"""`python -m steps.synth`: write a synthetic Kepler data set as OpenMetrics and/or query JSON."""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional, Sequence

from ..common.errors import UsageError
from ..common.timefmt import format_window_time, parse_window_time
from .config import DEFAULT_START, POWER_KINDS, SynthConfig
from .generator import generate


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
        description="Generate deterministic synthetic Kepler 0.7 metrics with a known power function "
        "(counters for containers and node energy) as OpenMetrics text (for promtool "
        "backfill) and/or a query JSON (the query step's output format).",
    )
    parser.add_argument("--containers", type=int, default=6, help="benchmark containers (default 6)")
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
    return parser


def config_from_args(args: argparse.Namespace) -> SynthConfig:
    """The SynthConfig the parsed flags describe."""
    return SynthConfig(
        containers=args.containers,
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
    try:
        config = config_from_args(args)
    except (ValueError, KeyError, UsageError) as bad:
        parser.error(str(bad))
    began = time.monotonic()
    data = generate(config)
    written: List[str] = []
    if args.openmetrics:
        written.append(str(data.write_openmetrics(args.openmetrics)))
    if args.query_json:
        written.append(str(data.write_query_response(args.query_json)))
    start, end = data.window
    print(
        f"synth: {len(data.containers)} containers, {data.timestamps.size} samples per series, "
        f"window {format_window_time(start)} .. {format_window_time(end)}, "
        f"{time.monotonic() - began:.1f} s -> {', '.join(written)}"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
