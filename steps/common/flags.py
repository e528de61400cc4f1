"""Flag parsing shared by every step: usage errors instead of exits, booleans, lists, legacy flags,
and the flags several commands take with one meaning (`Flag`: defined here once, added by each parser).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from .config import DEFAULT_DATA_PATH
from .errors import UsageError

TRUE_WORDS = {"true", "1", "yes"}
FALSE_WORDS = {"false", "0", "no"}


class StepArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become UsageError (exit 2) with one line, not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def parse_bool(value: Optional[str], flag: str = "") -> bool:
    """`true|false|1|0|yes|no` in any case; the bare flag means true (workspace.md §1.2)."""
    if value is None:
        return True
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS or word == "":
        return False
    raise UsageError(f"{flag or 'flag'} takes true or false, not {value!r}")


def bool_flag(parser: argparse.ArgumentParser, *names: str, help: str, default: bool = False) -> None:
    """A boolean flag accepting the bare form and `=true|false`; stored as a raw string, parsed later."""
    parser.add_argument(
        *names,
        nargs="?",
        const="true",
        default=None,
        metavar="true|false",
        help=f"{help} (default: {str(default).lower()})",
    )


@dataclass(frozen=True)
class Flag:
    """A flag several commands take with one meaning: its spellings and that meaning, defined once.

    A command adds it with `FLAG.add(parser, detail)`, where `detail` is what is particular to that
    command (required, created when missing, what it does with the value). `-i/--input` and
    `-o/--output` share only their spellings: what they name differs from command to command.
    """

    names: Tuple[str, ...]
    meaning: str = ""

    @property
    def long(self) -> str:
        """The long spelling, e.g. `--pipeline-name`."""
        return self.names[-1]

    @property
    def dest(self) -> str:
        """The attribute argparse stores the value under."""
        return self.long.lstrip("-").replace("-", "_")

    def help(self, detail: str = "") -> str:
        """The meaning, then what is particular to the command."""
        return "; ".join(part for part in (self.meaning, detail) if part)

    def add(self, parser: argparse.ArgumentParser, detail: str = "", **kwargs: Any) -> argparse.Action:
        """Add the flag to `parser` (extra argparse settings in `kwargs`)."""
        return parser.add_argument(*self.names, help=self.help(detail), **kwargs)


# The workspace and its names (query, train, export, run).
DATA_PATH = Flag(("--data-path",), f"workspace folder (env DATAPATH, default {DEFAULT_DATA_PATH})")
ID = Flag(("--id",), "machine id, e.g. the node name; names machine_spec/<id>.json")
BENCHMARK = Flag(("--benchmark",), "benchmark name: its time window is the workspace file <benchmark>.json")
PIPELINE_NAME = Flag(("-p", "--pipeline-name"), "pipeline name: its models are the folder MODEL_PATH/<name>")
INPUT = Flag(("-i", "--input"))
OUTPUT = Flag(("-o", "--output"))
# The Prometheus window (query, and run, which passes them to query).
SERVER = Flag(("-s", "--server"), "Prometheus base URL, may carry user:password@ (env PROM_URL, PROM_SERVER)")
START_TIME = Flag(("--start-time",), "window start, UTC, YYYY-MM-DDTHH:MM:SSZ (with --end-time)")
END_TIME = Flag(("--end-time",), "window end, UTC, YYYY-MM-DDTHH:MM:SSZ (with --start-time)")
INTERVAL = Flag(("--interval",), "window length in seconds ending now (env PROM_QUERY_INTERVAL, default 300)")
STEP = Flag(("--step",), "resolution: seconds (3, 0.5) or a duration (3s, 1m) (env PROM_QUERY_STEP, default 3)")
# What the model database records (export, and run, which passes them to export).
COLLECT_DATE = Flag(("--collect-date",), "collect time as free text, e.g. 'February 2024'; wins over --benchmark")
PUBLISHER = Flag(("--publisher",), "GitHub account of the publisher")
# Metrics (query and train).
THIRDPARTY_METRICS = Flag(("-tm", "--thirdparty-metrics"), "extra metric names, comma or space separated")
MACHINE_SPEC = Flag(("--machine-spec",), "machine spec file of the measured machine")
# OS counters from node_exporter (query, and run, which passes them to query; kepler-010.md §3).
OS_SELECTOR = Flag(
    ("--os-selector",),
    'node_exporter matchers, e.g. \'job="node-exporter",instance="w1:9100"\': also collect the OS counters '
    "(node_cpu_seconds_total, ...) of that node (or of the VM guests), with these matchers in place of --selector",
)
OS_SERVER = Flag(("--os-server",), "Prometheus base URL of the OS counters (default --server); needs --os-selector")
# VM models (train, and run, which passes them to train; kepler-010.md §4).
VM_MAP = Flag(
    ("--vm-map",),
    "VM models: workspace JSON file (.json optional) mapping each guest (node_exporter instance or guest "
    "Kepler node_name) to its vm_id (env VM_MAP); empty: node models",
)
VM_TARGET = Flag(
    ("--vm-target",),
    "VM models' target: vm (kepler_vm_cpu_joules_total, default) or process (the VM's QEMU process energy)",
)


def split_list(values: Optional[Iterable[str] | str]) -> List[str]:
    """Comma and/or space separated items, stripped, one pair of surrounding quotes removed."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    items: List[str] = []
    for value in values:
        for part in str(value).replace(",", " ").split():
            part = part.strip()
            if len(part) >= 2 and part[0] == part[-1] and part[0] in "\"'":
                part = part[1:-1].strip()
            if part:
                items.append(part)
    return items


def positive_number(value: str, flag: str, integer: bool = False) -> float:
    """A positive number from a flag value, else a usage error naming the flag and value."""
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        kind = "a positive integer" if integer else "a positive number"
        raise UsageError(f"{flag} must be {kind}, not {value!r}") from None
    if not number > 0:
        kind = "a positive integer" if integer else "a positive number"
        raise UsageError(f"{flag} must be {kind}, not {value!r}")
    return number


# Flags of kepler-model-server's single parser. A command accepts the ones it does not use,
# ignores them and warns once, so existing scripts keep working (workspace.md §1.2).
# (names, takes a value)
LEGACY_FLAGS: Sequence[tuple] = (
    (("-i", "--input"), True),
    (("-o", "--output"), True),
    (("-s", "--server"), True),
    (("--interval",), True),
    (("--start-time",), True),
    (("--end-time",), True),
    (("--step",), True),
    (("--metric-prefix",), True),
    (("-tm", "--thirdparty-metrics"), "+"),
    (("--to-csv",), "?"),
    (("-p", "--pipeline-name"), True),
    (("--extractor",), True),
    (("--isolator",), True),
    (("--profile",), True),
    (("--target-hints",), True),
    (("--bg-hints",), True),
    (("--abs-pipeline-name",), True),
    (("-e", "--energy-source"), True),
    (("--abs-trainers",), True),
    (("--dyn-trainers",), True),
    (("--trainers",), True),
    (("--benchmark",), True),
    (("-ot", "--output-type"), True),
    (("-fg", "--feature-group"), True),
    (("--model-name",), True),
    (("--target-data",), True),
    (("--scenario",), True),
    (("--id",), True),
    (("--version",), True),
    (("--publisher",), True),
    (("--include-raw",), "?"),
    (("--zip",), "?"),
    (("--collect-date",), True),
    (("--vm-train",), "?"),
)

LEGACY_DEST_PREFIX = "legacy__"


def add_legacy_flags(parser: argparse.ArgumentParser) -> None:
    """Accept every kepler-model-server flag this parser does not define, as ignored."""
    defined = set(parser._option_string_actions)  # noqa: SLF001 - argparse has no public accessor
    group = parser.add_argument_group("accepted for compatibility with kepler-model-server, ignored")
    for names, takes in LEGACY_FLAGS:
        free = [n for n in names if n not in defined]
        if len(free) != len(names):
            continue
        dest = LEGACY_DEST_PREFIX + names[-1].lstrip("-").replace("-", "_")
        nargs = None if takes is True else takes
        kwargs = {"const": "true"} if nargs == "?" else {}
        group.add_argument(*free, dest=dest, nargs=nargs, default=None, help=argparse.SUPPRESS, **kwargs)


def ignored_legacy_flags(args: argparse.Namespace) -> List[str]:
    """The long names of legacy flags that were given (and will be ignored)."""
    given = []
    for key, value in vars(args).items():
        if key.startswith(LEGACY_DEST_PREFIX) and value is not None:
            given.append("--" + key[len(LEGACY_DEST_PREFIX) :].replace("_", "-"))
    return sorted(given)
