"""The order of work of `kepler-model query` (query.md §2): window, machine spec, metrics, JSON, validation."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..common import signals
from ..common.atomic import write_json, write_text
from ..common.config import Environment
from ..common.console import Console
from ..common.errors import StepError, WriteFailure
from ..common.kepler_metrics import DEFAULT_GENERATION, GENERATIONS, Generation, detect_generation, spec_from_cpu_info
from ..common.machine_spec import ATTRIBUTES, spec_document
from ..common.names import check_name
from ..common.publish import Staging, recover
from ..common.signals import Interrupted, mark_outcome
from ..common.timefmt import Clock, format_window_time, utc_now
from ..common.workspace import Workspace, plain_name, query_csv_name, read_window, window_document
from .chunks import DEFAULT_MAX_SERIES_POINTS, check_points, plan_chunks
from .collect import NAMES_PATH, discover, select_metrics
from .credentials import check_ca_file, read_token
from .machine import (
    HostProbe,
    SpecSources,
    machine_spec_sources,
    merge_specs,
    read_node_incluster,
    unknown_attributes,
    with_cpu_info,
)
from .os_counters import Part, merged_collect, select_os_metrics
from .output import write_metric, write_metric_csv
from .prom import PromClient, ServerAddress
from .validate import rows_csv, rows_markdown, summary_lines, validation_rows
from .window import ResolvedWindow, WindowRequest, check_request, resolve_window, short_window_warning

WRITE_BUFFER = 16 << 20


@dataclass(frozen=True)
class QuerySettings:
    """Every resolved flag of query.md §1."""

    workspace: Workspace
    output: str
    window: WindowRequest
    step: Fraction
    server: ServerAddress
    metric_prefix: str = "kepler_"
    thirdparty: Tuple[str, ...] = ()
    to_csv: bool = False
    machine_id: str = "unknown"
    id_given: bool = False
    vm_train: bool = False
    machine_spec: Optional[Path] = None
    selector: Optional[str] = None
    insecure: bool = False
    token_file: Optional[str] = None
    env_token: Optional[str] = None
    ca_file: Optional[str] = None
    timeout: float = 120.0
    max_points: int = DEFAULT_MAX_SERIES_POINTS
    concurrency: int = 4
    generation: str = "auto"
    os_selector: Optional[str] = None  # node_exporter matchers: also collect the OS counters (kepler-010.md §3)
    os_server: Optional[ServerAddress] = None  # where they are; None: --server


def validation_markdown(ws: Workspace, output: str) -> Path:
    """`<output>_validate_result.md`: the validation table as Markdown, beside the CSV (the run page's copy)."""
    return ws.validation_table(output).with_suffix(".md")


@dataclass
class QueryDeps:
    """The outside world of the step; production defaults, test overrides."""

    clock: Clock = utc_now
    host: Optional[HostProbe] = None
    read_node: Callable[[str], Mapping[str, Any]] = read_node_incluster
    in_cluster: Optional[bool] = None  # None: decide from the environment
    sleep: Optional[Callable[[float], None]] = None


def run_query(settings: QuerySettings, env: Environment, console: Console, deps: Optional[QueryDeps] = None) -> int:
    """The whole step (query.md §2); StepError for the failures, exit status 0 otherwise."""
    deps = deps or QueryDeps()
    ws = settings.workspace
    # 1. usage checks and unreadable credential files, before anything is written
    for message in check_request(settings.window, settings.output):
        console.warn(message)
    token = read_token(settings.token_file, settings.env_token)
    ca_file = check_ca_file(settings.ca_file)
    if not settings.id_given:
        console.warn("--id (COLLECT_ID) not given: the machine spec is saved as machine_spec/unknown.json")
    # The window is known (read, not written) before the workspace is touched, so a step too small
    # for it is a usage error before anything is written or requested.
    window = resolve_window(settings.window, settings.output, deps.clock, lambda name: read_window(ws.window(name)))
    check_points(window.start_epoch, window.end_epoch, settings.step, settings.max_points)
    # 2. the workspace folder; the outputs of steps 6-7 are staged beside it and published as one unit
    try:
        ws.data_path.mkdir(parents=True, exist_ok=True)
    except OSError as failure:
        raise StepError(f"cannot create the data path {ws.data_path}: {failure.strerror or failure}") from None
    label = f"{plain_name(settings.output)}.query"
    for line in recover(ws.data_path, label):
        console.info(line)
    staging = Staging(ws.data_path, label)
    try:
        with staging:
            with signals.interruptible():  # network waits: a signal may cut them short at once
                return _query(settings, env, console, deps, window, _Outputs(staging), (token, ca_file))
    except Interrupted as stop:
        mark_outcome(stop, f"the outputs in {ws.data_path} are unchanged")
        raise
    except WriteFailure as failure:
        raise failure.relocated(staging.public(Path(str(failure.path)))) from None
    except OSError as failure:  # a write() names no file: the staged file is the one being written
        raise WriteFailure.of(failure, staging.public(Path(failure.filename or ws.data_path))) from None


class _Outputs:
    """The step's outputs, each written into the staging folder under the name of its final place."""

    def __init__(self, staging: Staging) -> None:
        self.staging = staging
        self.moves: List[Tuple[Path, Path]] = []

    def place(self, final: Path) -> Path:
        """Where to write what will become `final`."""
        staged = self.staging.path(f"{len(self.moves)}-{final.name}")
        self.staging.aliases[staged.name] = str(final.relative_to(self.staging.parent))
        self.moves.append((staged, final))
        return staged

    def publish(self) -> List[Path]:
        self.staging.commit(self.moves)
        return [final for _, final in self.moves]


def _query(
    settings: QuerySettings,
    env: Environment,
    console: Console,
    deps: QueryDeps,
    window: ResolvedWindow,
    outputs: _Outputs,
    credentials: Tuple[Optional[str], Optional[str]],
) -> int:
    """Steps 3-7; the outputs of 6-7 go into `outputs`, published together at the end."""
    ws = settings.workspace
    # 3. the window
    if window.save:
        # Steps 3 and 4 are facts: written at once and kept when a later step fails (query.md §2).
        write_json(ws.window(window.benchmark), window_document(window.start, window.end))
    warning = short_window_warning(window, settings.step)
    if warning:
        console.warn(warning)
    console.info(
        f"window {format_window_time(window.start)} to {format_window_time(window.end)}, "
        f"step {float(settings.step):g} s, benchmark {window.benchmark}"
    )
    # 4. the machine spec (Kepler 0.10's CPU info, from the data, may complete it at step 7)
    sources = machine_spec_sources(
        settings.machine_id,
        settings.id_given,
        settings.machine_spec,
        env,
        console.warn,
        read_node=deps.read_node,
        host=deps.host,
        cluster=deps.in_cluster,
    )
    spec = merge_specs([found for _, found in sources])
    unknown = unknown_attributes(spec)
    if unknown:
        console.warn(f"machine spec of {settings.machine_id}: unknown {', '.join(unknown)} (written as null)")
    write_json(ws.machine_spec(settings.machine_id), spec_document(spec))
    # 5. metrics (node_exporter's from their own server, credentials alike: kepler-010.md §3)
    client = _client(settings, *credentials, console, deps)
    os_client = _client(settings, *credentials, console, deps, settings.os_server) if settings.os_server else None
    try:
        return _collect_and_write(settings, window, (client, os_client or client), console, outputs, sources)
    finally:
        client.close()
        if os_client is not None:
            os_client.close()


def _client(
    settings: QuerySettings,
    token: Optional[str],
    ca_file: Optional[str],
    console: Console,
    deps: QueryDeps,
    server: Optional[ServerAddress] = None,
) -> PromClient:
    server = server or settings.server
    if settings.insecure:
        console.warn(f"TLS certificate of {server.display} is not verified (--insecure)")
        verify: Any = False
    else:
        verify = ca_file or True
    if token and not server.is_https:
        console.warn(f"a bearer token is sent to {server.display} over plain http")
    extra = {"sleep": deps.sleep} if deps.sleep else {}
    return PromClient.create(
        server,
        timeout=settings.timeout,
        concurrency=settings.concurrency,
        verify=verify,
        token=token,
        warn=console.warn,
        **extra,
    )


def _check_csv_names(metrics: Tuple[str, ...], client: PromClient) -> None:
    """With --to-csv each metric names a file: refuse a name from the server that is not one, before any
    range request (StepError naming the metric and where it came from)."""
    for metric in metrics:
        check_name(
            metric,
            "metric",
            hint=f"listed by {client.address.display}{NAMES_PATH}, it cannot name "
            "a --to-csv file <output>_csv/<metric>.csv",
        )


def _collect_and_write(
    settings: QuerySettings,
    window: ResolvedWindow,
    clients: Tuple[PromClient, PromClient],
    console: Console,
    outputs: _Outputs,
    spec_sources: SpecSources,
) -> int:
    """Steps 5-7 (query.md §2): `clients` are Kepler's and the OS counters' (the same without --os-server)."""
    ws = settings.workspace
    client, os_client = clients
    names = discover(client, window.start_epoch, window.end_epoch, settings.selector)
    selection = select_metrics(names, settings.metric_prefix, settings.thirdparty)
    for name in selection.missing_thirdparty:
        console.warn(f"third-party metric {name} has no data in the window and is not collected")
    if not selection.metrics:
        raise StepError(
            f"no metric starting with {settings.metric_prefix!r} has data on {client.address.display} "
            f"between {format_window_time(window.start)} and {format_window_time(window.end)}"
        )
    if settings.to_csv:
        _check_csv_names(selection.metrics, client)
    generation_id = settings.generation if settings.generation != "auto" else detect_generation(selection.metrics)
    if generation_id is None:
        console.warn(f"the Kepler metric generation is undecided; the validation table uses {DEFAULT_GENERATION} names")
        generation_id = DEFAULT_GENERATION
    generation = GENERATIONS[generation_id]
    parts = [(client, selection.metrics, settings.selector)]
    if settings.os_selector is not None:
        start, end = window.start_epoch, window.end_epoch
        os_metrics = select_os_metrics(os_client, start, end, settings.os_selector, selection.metrics, console.warn)
        parts.append((os_client, os_metrics, settings.os_selector))
    # 6. range queries, streamed into <output>.json (complete or absent)
    summaries = _write_metrics(settings, window, [part for part in parts if part[1]], console, outputs)
    if not any(summaries.values()):
        raise StepError(
            f"no selected metric returned any series from {client.address.display} between "
            f"{format_window_time(window.start)} and {format_window_time(window.end)}"
        )
    # 7. the validation table
    rows, filtered = validation_rows(summaries, window.benchmark, generation, vm=settings.vm_train)
    for line in summary_lines(summaries, rows, filtered, window.benchmark, generation):
        console.info(line)
    write_text(outputs.place(ws.validation_table(settings.output)), rows_csv(rows))
    title = (
        f"Validation table of {plain_name(settings.output)}: benchmark {window.benchmark}, "
        f"{format_window_time(window.start)} to {format_window_time(window.end)}"
    )
    write_text(outputs.place(validation_markdown(ws, settings.output)), rows_markdown(rows, title))
    _cpu_info_spec(settings, generation, summaries, spec_sources, outputs, console)
    written = outputs.publish()
    console.info("written: " + ", ".join(str(path) for path in written))
    return 0


def _write_metrics(
    settings: QuerySettings, window: ResolvedWindow, parts: List[Part], console: Console, outputs: _Outputs
) -> Dict[str, list]:
    """Every (client, metrics, selector) part's range queries streamed into <output>.json (and --to-csv
    files) in metric order; the (labels, stats) of each metric's series."""
    ws = settings.workspace
    metrics = sum(len(part[1]) for part in parts)
    chunks = plan_chunks(window.start_epoch, window.end_epoch, settings.step)
    console.info(f"{metrics} metrics, {len(chunks)} request(s) each, up to {settings.concurrency} in flight")
    summaries: Dict[str, list] = {}
    staged_json = outputs.place(ws.query_response(settings.output))
    staged_csv = outputs.place(ws.query_csv_dir(settings.output)) if settings.to_csv else None
    if staged_csv is not None:
        staged_csv.mkdir()
    progress = console.progress(metrics, "metrics")
    with (
        open(staged_json, "wb", buffering=WRITE_BUFFER) as handle,
        merged_collect(parts, chunks, settings.step, settings.concurrency) as stream,
    ):
        handle.write(b"{")
        for number, (metric, series) in enumerate(stream):
            write_metric(handle, metric, series, first=number == 0)
            if staged_csv is not None:
                write_metric_csv(staged_csv / query_csv_name(metric), metric, series)
            summaries[metric] = [(item.labels, item.stats) for item in series]
            del series
            progress.advance()
        handle.write(b"}")
    return summaries


def _cpu_info_spec(
    settings: QuerySettings,
    generation: Generation,
    summaries: Dict[str, list],
    sources: SpecSources,
    outputs: _Outputs,
    console: Console,
) -> None:
    """Kepler 0.10: the machine spec completed from kepler_node_cpu_info, a source between the Node and
    the host (kepler-010.md §1); when that changes it, the spec is published with the other outputs."""
    info = generation.cpu_info
    labels = [labels for labels, _ in summaries.get(info.metric, ())] if info is not None else []
    if info is None or not labels:
        return
    before = merge_specs([found for _, found in sources])
    after = merge_specs([found for _, found in with_cpu_info(sources, spec_from_cpu_info(labels, info))])
    changed = [name for name in ATTRIBUTES if after[name] != before[name]]
    if not changed:
        return
    console.info(f"machine spec of {settings.machine_id}: {', '.join(changed)} from {info.metric}")
    write_json(outputs.place(settings.workspace.machine_spec(settings.machine_id)), spec_document(after))
