"""Flag parsing shared by every step: usage errors instead of exits, booleans, lists, legacy flags."""

from __future__ import annotations

import argparse
from typing import Iterable, List, Optional, Sequence

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
