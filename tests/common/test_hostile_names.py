"""Hostile names through every way a name reaches a path (issue 9 item 3, item 6 for --to-csv).

One table: every flag, environment variable, pipeline parameter and file cell whose value becomes a
file or folder name, crossed with the values of the one validator (steps/common/names.py). A flag or
variable exits 2, a file cell (or a server's answer) exits 1; either way with exactly one `error:`
line naming where the value came from, and nothing created outside the folder the step may write
(usage errors: nothing at all). The steps run in-process through `steps.cli.main`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import pytest

from steps.cli import main
from steps.common.names import MAX_NAME_BYTES
from steps.synth import SynthConfig, generate

from ..export.builder import Model, PipelineSpec, build_pipeline, index_entry
from ..pipeline.conftest import load_pipeline_module
from ..query.faultserver import FaultServer, matrix, names_then

HOSTILE: Dict[str, str] = {
    "parent": "../../x",
    "absolute": "/abs",
    "slash": "a/b",
    "backslash": "a\\b",
    "dot": ".",
    "dotdot": "..",
    "nul": "x\x00y",
    "newline": "x\ny",
    "escape": "x\x1by",
    "long": "n" * (MAX_NAME_BYTES + 1),
    "empty": "",  # only where "" is not "unset": file cells and the server's metric list
}
DEAD_SERVER = "http://127.0.0.1:9"  # the name check comes before any request
WINDOW = ["--start-time", "2024-01-01T00:00:00Z", "--end-time", "2024-01-01T00:10:00Z"]
WINDOW_JSON = '{"startTimeUTC": "2024-01-01T00:00:00Z", "endTimeUTC": "2024-01-01T00:10:00Z"}'
PIPELINE = "pipe"


@dataclass(frozen=True)
class Tree:
    """The folders of one test, nested so that `../../x` from any of them stays inside `root`.

    `trained_abs()` is the folder of a query JSON and an AbsPower pipeline, trained once per module."""

    root: Path
    trained_abs: Callable[[], Path]

    @property
    def data(self) -> Path:
        return self.root / "ws" / "data"

    @property
    def models(self) -> Path:
        return self.root / "ws" / "models"

    @property
    def db(self) -> Path:
        return self.root / "db" / "models"

    @property
    def environ(self) -> Dict[str, str]:
        return {"DATAPATH": str(self.data), "MODEL_PATH": str(self.models), "CONFIG_PATH": str(self.root / "no-config")}


@dataclass(frozen=True)
class Run:
    argv: List[str]
    environ: Dict[str, str] = field(default_factory=dict)
    server: Optional[FaultServer] = None


@dataclass(frozen=True)
class Case:
    """One way a name reaches a path. `build(tree, value)` lays down files and returns the command."""

    command: str
    build: Callable[[Tree, str], Run]
    names: Callable[[Tree, Run], Sequence[str]]  # texts the error line must contain
    status: int = 2
    writable: Callable[[Tree], Sequence[Path]] = lambda tree: ()  # where new entries are allowed
    skip: Tuple[str, ...] = ("empty",)  # "" means unset for every flag and variable
    problem: str = "is not a plain name"


def flag(
    command: str, base: Sequence[str], name: str, *extra: str, label: Optional[str] = None, listed: bool = False
) -> Case:
    """`kepler-model <command> <base> <name> VALUE`: the last occurrence of a flag wins in argparse."""
    skip = ("empty", "newline") if listed else ("empty",)  # a list flag splits on whitespace: two names
    return Case(
        command,
        lambda tree, value: Run([command, *base, *extra, name, value]),
        lambda tree, run: [label or name],
        skip=skip,
    )


def variable(command: str, base: Sequence[str], name: str, *extra: str, listed: bool = False) -> Case:
    skip = ("empty", "newline") if listed else ("empty",)
    return Case(
        command, lambda tree, value: Run([command, *base, *extra], {name: value}), lambda tree, run: [name], skip=skip
    )


QUERY = ["--benchmark", "b", "--id", "m", "--server", DEAD_SERVER, *WINDOW]
TRAIN = ["--input", "kepler_query", "--id", "m"]
EXPORT = ["-p", PIPELINE, "--publisher", "me", "--benchmark", "b"]
RUN = ["--benchmark", "b", "--id", "m", "--publisher", "me", "--server", DEAD_SERVER, *WINDOW]


def export_flag(name: str, *extra: str, listed: bool = False) -> Case:
    case = flag("export", EXPORT, name, *extra, listed=listed)
    return Case(
        "export",
        lambda tree, value: Run(case.build(tree, value).argv + ["-o", str(tree.db)]),
        case.names,
        skip=case.skip,
    )


def run_flag(name: str) -> Case:
    return Case(
        "run", lambda tree, value: Run(["run", *RUN, "-o", str(tree.db), name, value]), lambda tree, run: [name]
    )


# -- pipeline parameters: the compiled pipeline's own command lines, one parameter made hostile

PATH_PARAMETERS = ("BENCHMARK", "COLLECT_ID", "PIPELINE_NAME", "VM_MAP")
PARAMETER_VALUES = {
    "BENCHMARK": "b",
    "PROM_URL": DEAD_SERVER,
    "COLLECT_ID": "m",
    "PIPELINE_NAME": PIPELINE,
    "COLLECT_DATE": "",
    "START_TIME": WINDOW[1],
    "END_TIME": WINDOW[3],
    "INTERVAL": "",
    "STEP": "",
    "PUBLISHER": "me",
    "OS_SELECTOR": "",
    "OS_SERVER": "",
    "VM_MAP": "",
    "VM_TARGET": "",
}


def parameter_uses() -> List[Tuple[str, str, str]]:
    """(parameter, step, flag) for every step argument that passes a path parameter."""
    pipeline = load_pipeline_module()
    uses = []
    for step in pipeline.STEPS:
        for position, argument in enumerate(step.args):
            parameter = getattr(argument, "parameter", None)
            if parameter in PATH_PARAMETERS:
                uses.append((parameter, step.name, step.args[position - 1]))
    return uses


def parameter(name: str, step: str, flag_name: str) -> Case:
    def build(tree: Tree, value: str) -> Run:
        pipeline = load_pipeline_module()
        (chosen,) = [s for s in pipeline.STEPS if s.name == step]
        values = dict(PARAMETER_VALUES, **{name: value})
        argv = chosen.render_args(values.__getitem__)
        model_db = f"{pipeline.MODEL_DB_MOUNT}/models"
        return Run([step] + [str(tree.db) if a == model_db else a for a in argv])

    return Case(step, build, lambda tree, run: [flag_name])


# -- file cells and server answers (exit 1)


def _pipeline(tree: Tree) -> Path:
    """A one-model trained pipeline and its benchmark window; returns the model metadata CSV."""
    tree.data.mkdir(parents=True, exist_ok=True)
    (tree.data / "b.json").write_text(WINDOW_JSON)
    model = Model("rapl-sysfs", "AbsPower", "BPFOnly", "SGDRegressorTrainer", 0, 5.0, 10.0)
    layout = build_pipeline(tree.models, PipelineSpec(PIPELINE, {"0": index_entry("cpu", 8, 1, 16, 3000)}, [model]))
    return layout.model_metadata_csv("rapl-sysfs", "AbsPower")


def _export_argv(tree: Tree) -> List[str]:
    return ["export", *EXPORT, "-o", str(tree.db)]


def csv_cell(column: str) -> Case:
    def build(tree: Tree, value: str) -> Run:
        table = _pipeline(tree)
        rows = list(csv.reader(io.StringIO(table.read_text())))
        rows[1][rows[0].index(column)] = value
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        table.write_text(buffer.getvalue())
        return Run(_export_argv(tree))

    def table(tree, run):
        return [str(tree.models / PIPELINE / "rapl-sysfs_AbsPower_model_metadata.csv"), f": {column} "]

    return Case("export", build, table, status=1, skip=())


def node_type_key() -> Case:
    def build(tree: Tree, value: str) -> Run:
        _pipeline(tree)
        index = tree.models / PIPELINE / "node_type_index.json"
        index.write_text(json.dumps({value: json.loads(index.read_text())["0"]}))
        return Run(_export_argv(tree))

    # the key becomes a number (node_type_<n>.md), so it is checked as one
    return Case(
        "export",
        build,
        lambda tree, run: [str(tree.models / PIPELINE / "node_type_index.json")],
        status=1,
        skip=(),
        problem="is not a node type number",
    )


def component_map_file() -> Case:
    """The --abs-pipeline-name pipeline's component map names the files the trainer isolator loads."""

    def build(tree: Tree, value: str) -> Run:
        shutil.copytree(tree.trained_abs(), tree.models, dirs_exist_ok=True)
        shutil.move(tree.models / "kepler_query.json", tree.data / "kepler_query.json")
        for path in (tree.models / "abs").glob("rapl-sysfs/AbsPower/*/*/LinearRegressionTrainer_*.json"):
            if path.stem == path.parent.name:
                document = json.loads(path.read_text())
                for entry in document.values():
                    entry["model_file"] = value
                path.write_text(json.dumps(document))
        return Run(
            [
                "train",
                "--input",
                "kepler_query",
                "--pipeline-name",
                "dyn",
                "--isolator",
                "trainer",
                "--abs-pipeline-name",
                "abs",
                "--abs-trainers",
                "none",
                "--dyn-trainers",
                "LinearRegressionTrainer",
                "--jobs",
                "1",
            ]
        )

    return Case(
        "train", build, lambda tree, run: ["component map", str(tree.models / "abs"), "model_file"], status=1, skip=()
    )


def metric_with_to_csv() -> Case:
    """The server lists a metric whose name is not a plain name; --to-csv would make it a file name."""

    def build(tree: Tree, value: str) -> Run:
        series = [{"metric": {"__name__": value}, "values": [[1704067200, "1"], [1704067203, "2"]]}]
        server = FaultServer(names_then(lambda p, q, h: matrix(series), names=[value, "up"]))
        # the prefix selects the hostile name (and only it), as the default kepler_ selects Kepler's
        return Run(["query", *QUERY, "--server", server.url, "--to-csv", "--metric-prefix", value[0]], server=server)

    return Case(
        "query",
        build,
        lambda tree, run: ["metric", run.server.url if run.server else "", "--to-csv"],
        status=1,
        writable=lambda tree: [tree.data / "b.json", tree.data / "machine_spec"],
        skip=("empty",),
    )  # "" cannot be selected by any prefix: it never names a file


CASES: Dict[str, Case] = {
    # query flags and their variables
    "query --id": flag("query", QUERY, "--id"),
    "query COLLECT_ID": variable("query", ["--benchmark", "b", "--server", DEAD_SERVER, *WINDOW], "COLLECT_ID"),
    "query --benchmark": flag("query", QUERY, "--benchmark"),
    "query --output": flag("query", QUERY, "--output"),
    "query --input": flag("query", ["--id", "m", "--server", DEAD_SERVER], "--input"),
    "query -tm --to-csv": flag("query", QUERY, "-tm", "--to-csv", label="--thirdparty-metrics", listed=True),
    "query PROM_THIRDPARTY_METRICS --to-csv": variable(
        "query", QUERY, "PROM_THIRDPARTY_METRICS", "--to-csv", listed=True
    ),
    # train flags
    "train --pipeline-name": flag("train", TRAIN, "--pipeline-name"),
    "train --input": flag("train", TRAIN, "--input", listed=True),
    "train --id": flag("train", TRAIN, "--id"),
    "train --profile": flag("train", TRAIN, "--profile", "--isolator", "profile"),
    "train --abs-pipeline-name": flag("train", TRAIN, "--abs-pipeline-name", "--isolator", "trainer"),
    "train --vm-map": flag("train", TRAIN, "--vm-map"),
    "train VM_MAP": variable("train", TRAIN, "VM_MAP"),
    # export flags and their variables
    "export --pipeline-name": export_flag("--pipeline-name"),
    "export --benchmark": export_flag("--benchmark"),
    "export --version": export_flag("--version"),
    "export --input": export_flag("--input", listed=True),
    "export MODEL_DB_VERSION": Case(
        "export",
        lambda tree, value: Run(_export_argv(tree), {"MODEL_DB_VERSION": value}),
        lambda tree, run: ["MODEL_DB_VERSION"],
    ),
    # kepler-model run: the pipeline parameters on one machine
    "run --benchmark": run_flag("--benchmark"),
    "run --id": run_flag("--id"),
    "run --pipeline-name": run_flag("--pipeline-name"),
    "run --vm-map": run_flag("--vm-map"),
    # the compiled pipeline's step command lines
    **{
        f"pipeline {name} -> {step} {flag_name}": parameter(name, step, flag_name)
        for name, step, flag_name in parameter_uses()
    },
    # file cells and the server's metric list
    "model metadata model_name": csv_cell("model_name"),
    "model metadata feature_group": csv_cell("feature_group"),
    "node_type_index key": node_type_key(),
    "component map model_file": component_map_file(),
    "query metric name --to-csv": metric_with_to_csv(),
}


@pytest.fixture(scope="module")
def trained_abs(tmp_path_factory) -> Callable[[], Path]:
    """A workspace with an AbsPower pipeline `abs` (DATAPATH = MODEL_PATH), trained on first use."""
    made: List[Path] = []

    def get() -> Path:
        if not made:
            folder = tmp_path_factory.mktemp("abs")
            config = SynthConfig(containers=4, duration_s=1800, step_s=15, seed=1, power="saturating")
            (folder / "kepler_query.json").write_text(json.dumps(generate(config).query_response()))
            environ = {"DATAPATH": str(folder), "CONFIG_PATH": str(folder / "no-config")}
            code = main(
                [
                    "train",
                    "--input",
                    "kepler_query",
                    "--pipeline-name",
                    "abs",
                    "--dyn-trainers",
                    "none",
                    "--abs-trainers",
                    "LinearRegressionTrainer",
                    "--jobs",
                    "1",
                ],
                environ=environ,
                out=io.StringIO(),
                err=io.StringIO(),
            )
            assert code == 0
            made.append(folder)
        return made[0]

    return get


def test_every_path_parameter_of_the_pipeline_is_in_the_table():
    assert {(name, step) for name, step, _ in parameter_uses()} == {
        ("BENCHMARK", "query"),
        ("BENCHMARK", "export"),
        ("COLLECT_ID", "query"),
        ("COLLECT_ID", "train"),
        ("PIPELINE_NAME", "train"),
        ("PIPELINE_NAME", "export"),
        ("VM_MAP", "train"),
    }


def entries(root: Path) -> Dict[str, Optional[bytes]]:
    """Every file (with its content) and folder below `root`."""
    found: Dict[str, Optional[bytes]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.join(folder, name)] = None
        for name in files:
            found[os.path.join(folder, name)] = Path(folder, name).read_bytes()
    return found


def allowed(path: str, writable: Sequence[Path]) -> bool:
    return any(Path(path) == place or Path(path).is_relative_to(place) for place in writable)


# Every (source, hostile value) pair, less those where the value is not a name there ("" means
# unset for a flag; a newline separates two items of a list flag).
PAIRS = [
    pytest.param(case, value, id=f"{case_id}-{kind}")
    for case_id, case in CASES.items()
    for kind, value in HOSTILE.items()
    if kind not in case.skip
]


@pytest.mark.parametrize("case,value", PAIRS)
def test_a_hostile_name_is_refused_naming_its_source(tmp_path, monkeypatch, trained_abs, case: Case, value: str):
    tree = Tree(tmp_path / "root", trained_abs)
    tree.data.mkdir(parents=True)
    tree.models.mkdir(parents=True)
    (tree.root / "cwd").mkdir()
    monkeypatch.chdir(tree.root / "cwd")  # a relative path would land in the tree too
    run = case.build(tree, value)
    before = entries(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    if run.server is not None:
        with run.server:
            code = main(run.argv, environ=dict(tree.environ, **run.environ), out=out, err=err)
    else:
        code = main(run.argv, environ=dict(tree.environ, **run.environ), out=out, err=err)

    assert code == case.status, err.getvalue()
    lines = [line for line in (out.getvalue() + err.getvalue()).splitlines() if "error:" in line]
    assert len(lines) == 1, err.getvalue()
    assert lines[0].startswith(f"kepler-model {case.command}: error: ") and case.problem in lines[0]
    for text in case.names(tree, run):
        assert text in lines[0], lines[0]
    after = entries(tmp_path)
    changed = {path for path in set(before) | set(after) if before.get(path, 0) != after.get(path, 0)}
    assert {path for path in changed if not allowed(path, case.writable(tree))} == set()
    assert not Path("/abs").exists() and not Path("/abs.json").exists()
    if run.server is not None:
        assert run.server.paths("/query_range") == []  # refused before any range request
        assert not (tree.data / "output.json").exists() and not (tree.data / "output_csv").exists()
