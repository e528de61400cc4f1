"""Benchmark of `kepler-model query` against a real Prometheus holding 50 synthetic containers.

For each case (window length @ step) it measures, in the same run:
- the step: `python -m steps query ...` in a child process: wall time, peak memory (the child's
  ru_maxrss from wait4) and the size of the JSON it writes;
- the reference: the same range requests (same metrics, same chunks) issued one after another
  with plain `requests.get` (Prometheus's default gzip encoding), bodies read and discarded;
  once in this process ("ref") and once as its own small process ("ref-proc": interpreter start
  and `import requests` included, as in the step's wall time);
- the step once more in this process ("step-in", through the same dispatcher, imports already
  paid as for "ref"): the like-for-like time ratio.
Targets: step time <= 1.0x the reference; at 24 h / 3 s, peak memory < 2x the JSON size.

    .venv/bin/python bench/query_bench.py            # 1h@15, 6h@15, 24h@15, 6h@3, 24h@3
    .venv/bin/python bench/query_bench.py --quick    # 1h@15, 6h@15, 6h@3
    .venv/bin/python bench/query_bench.py --cases 24h@3 --repeat 2

The data (24 h at a 15 s scrape; 3 s steps re-read the latest sample as Prometheus does) is
generated and backfilled once into --work-dir and reused by later runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from steps.common.timefmt import format_window_time  # noqa: E402
from steps.query.chunks import format_seconds, parse_step, plan_chunks  # noqa: E402

# Kept small on purpose: the reference also runs as its own process (see run_reference_process),
# which must not pay for numpy/pandas imports the plain-requests script would not have.
CONTAINERS, DURATION_S, SCRAPE_S = 50, 86_400, 15
FULL = ("1h@15", "6h@15", "24h@15", "6h@3", "24h@3")
QUICK = ("1h@15", "6h@15", "6h@3")


def synth_config():
    from steps.synth import SynthConfig

    return SynthConfig(containers=CONTAINERS, duration_s=DURATION_S, step_s=SCRAPE_S, seed=0)


def prepared_tsdb(work_dir: Path) -> Path:
    """The backfilled TSDB of the synthetic data set, built once (about a minute on 2 cores)."""
    from steps.synth import backfill, generate

    config = synth_config()
    tsdb = work_dir / f"tsdb-{CONTAINERS}c-{DURATION_S}s-{SCRAPE_S}s"
    if (tsdb / ".complete").exists():
        return tsdb
    shutil.rmtree(tsdb, ignore_errors=True)
    print(
        f"generating {config.containers} containers x {config.duration_s / 3600:g} h and backfilling into {tsdb} ...",
        flush=True,
    )
    openmetrics = work_dir / "bench.om"
    generate(config).write_openmetrics(openmetrics)
    backfill(openmetrics, tsdb)
    openmetrics.unlink()
    (tsdb / ".complete").write_text("ok")
    return tsdb


def run_step(url: str, start, end, step: str, out_dir: Path) -> dict:
    """The query step as a child process; wall time, peak RSS (wait4) and JSON size."""
    command = [
        sys.executable,
        "-m",
        "steps",
        "query",
        "--benchmark",
        "bench",
        "--output",
        "bench_query",
        "--server",
        url,
        "--start-time",
        format_window_time(start),
        "--end-time",
        format_window_time(end),
        "--step",
        step,
        "--id",
        "bench",
        "--data-path",
        str(out_dir),
    ]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    # GNU time forks the step from a tiny process: a fork of this (large) script would inflate
    # the child's ru_maxrss with pages it never touches after exec.
    gnu_time = shutil.which("time") or ("/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None)
    rss_file = out_dir / "maxrss"
    if gnu_time:
        command = [gnu_time, "-f", "%M", "-o", str(rss_file)] + command
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    stderr = child.stderr.read().decode() if child.stderr else ""
    if code != 0:
        raise SystemExit(f"the query step failed ({code}): {stderr.strip()}")
    maxrss_kib = int(rss_file.read_text().split()[-1]) if gnu_time else usage.ru_maxrss
    size = (out_dir / "bench_query.json").stat().st_size
    return {"wall": wall, "maxrss": maxrss_kib * 1024, "json": size}


def run_reference(url: str, start, end, step: str) -> float:
    """The same range requests one after another with plain requests.get; bodies read and discarded."""
    started = time.perf_counter()
    names = requests.get(
        f"{url}/api/v1/label/__name__/values",
        params={"start": int(start.timestamp()), "end": int(end.timestamp())},
        timeout=600,
    ).json()
    metrics = sorted(name for name in names["data"] if name.startswith("kepler_"))
    step_value = parse_step(step)
    for metric in metrics:
        for chunk in plan_chunks(int(start.timestamp()), int(end.timestamp()), step_value):
            response = requests.get(
                f"{url}/api/v1/query_range",
                timeout=600,
                params={
                    "query": metric,
                    "start": format_seconds(chunk.start),
                    "end": format_seconds(chunk.end),
                    "step": format_seconds(step_value),
                },
            )
            response.raise_for_status()
            _ = response.content
    return time.perf_counter() - started


def run_step_in_process(url: str, start, end, step: str, out_dir: Path) -> float:
    """The step through the same dispatcher as the console command, in this process (imports
    already paid, as for "ref"): the like-for-like comparison with the in-process reference."""
    import io

    from steps.cli import main as kepler_model

    argv = [
        "query",
        "--benchmark",
        "bench",
        "--output",
        "kepler_query",
        "--server",
        url,
        "--start-time",
        format_window_time(start),
        "--end-time",
        format_window_time(end),
        "--step",
        step,
        "--id",
        "bench",
        "--data-path",
        str(out_dir),
    ]
    started = time.perf_counter()
    status = kepler_model(
        argv, environ={"CONFIG_PATH": str(out_dir / "no-config")}, out=io.StringIO(), err=io.StringIO()
    )
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"the in-process query step failed with status {status}")
    return elapsed


def run_reference_process(url: str, start, end, step: str) -> float:
    """The reference as its own small process (interpreter start and `import requests` included),
    which is what the step's wall time includes too."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--reference-only",
        url,
        format_window_time(start),
        format_window_time(end),
        step,
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(REPO)))
    return time.perf_counter() - started


def parse_case(text: str):
    length, _, step = text.partition("@")
    hours = float(length.rstrip("h"))
    return hours, step or "15"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--cases", help=f"comma list of <hours>h@<step> (default {','.join(FULL)})")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the best time is kept")
    parser.add_argument(
        "--work-dir",
        default=os.path.join(tempfile.gettempdir(), "kepler-query-bench"),
        help="where the backfilled data is kept between runs",
    )
    parser.add_argument("--reference-only", nargs=4, metavar=("URL", "START", "END", "STEP"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reference_only:
        from steps.common.timefmt import parse_window_time

        url, start, end, step = args.reference_only
        run_reference(url, parse_window_time(start), parse_window_time(end), step)
        return 0
    cases = args.cases.split(",") if args.cases else (QUICK if args.quick else FULL)
    work_dir = Path(args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    tsdb = prepared_tsdb(work_dir)
    from steps.synth import PrometheusServer

    data_start = synth_config().start
    print(
        f"{'case':<8} {'step s':>7} {'ref s':>7} {'ratio':>6} {'ref-proc s':>10} {'ratio':>6} "
        f"{'step-in s':>9} {'ratio':>6} {'JSON MB':>8} {'peak MB':>8} {'mem/JSON':>8}",
        flush=True,
    )
    with PrometheusServer(tsdb, work_dir) as server:
        for case in cases:
            hours, step = parse_case(case)
            start = data_start
            end = start + timedelta(hours=hours)
            best_step, best_ref, best_proc, best_in = None, None, None, None
            for _ in range(max(1, args.repeat)):
                reference = run_reference(server.url, start, end, step)
                proc = run_reference_process(server.url, start, end, step)
                best_proc = proc if best_proc is None else min(best_proc, proc)
                out_dir = Path(tempfile.mkdtemp(prefix="query-bench-", dir=work_dir))
                try:
                    measured = run_step(server.url, start, end, step, out_dir)
                    in_process = run_step_in_process(server.url, start, end, step, out_dir / "in-process")
                    best_in = in_process if best_in is None else min(best_in, in_process)
                finally:
                    shutil.rmtree(out_dir, ignore_errors=True)
                if best_step is None or measured["wall"] < best_step["wall"]:
                    best_step = measured
                best_ref = reference if best_ref is None else min(best_ref, reference)
            mb = 1e6
            print(
                f"{case:<8} {best_step['wall']:>7.2f} {best_ref:>7.2f} {best_step['wall'] / best_ref:>6.2f} "
                f"{best_proc:>10.2f} {best_step['wall'] / best_proc:>6.2f} {best_in:>9.2f} {best_in / best_ref:>6.2f} "
                f"{best_step['json'] / mb:>8.1f} "
                f"{best_step['maxrss'] / mb:>8.1f} {best_step['maxrss'] / best_step['json']:>8.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
