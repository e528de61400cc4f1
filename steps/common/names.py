"""The one check for every name that becomes part of a path.

Flags, environment variables, pipeline parameters, CSV cells, JSON keys and metric names all
end up as a file or folder name somewhere (`machine_spec/<id>.json`, `<pipeline>/`, `<model>.zip`).
Each goes through `check_name` before it is joined to a path, so a hostile or mistyped value can
never reach outside the folder it is meant for.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, List, Optional

from .config import Environment, is_set
from .errors import StepError, UsageError

# Bytes of UTF-8: leaves room under the 255-byte file-name limit for the prefixes and suffixes
# the steps add (`.<name>.train-xxxxxxxx`, `<name>_validate_result.csv`, `.<name>.json.xxxxxxxx.tmp`).
MAX_NAME_BYTES = 200
# Unicode categories refused in names: controls (NUL, ESC, newline, DEL...) and the line and paragraph
# separators, which break a file listing or a one-line message as a newline does.
UNPRINTABLE = frozenset({"Cc", "Zl", "Zp"})
# Pipeline names (train.md §1) are narrower than plain names: they are also URL path segments and
# Markdown table cells of the model database.
PIPELINE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def name_problem(value: object) -> Optional[str]:
    """Why `value` is not a plain name (one path component), or None when it is one."""
    if not isinstance(value, str):
        return f"expected text, not {type(value).__name__}"
    if value == "":
        return "it is empty"
    if value in (".", ".."):
        return f"{value!r} names a folder, not a file"
    if "/" in value or "\\" in value:
        return "it contains a path separator ('/' or '\\')"
    if any(unicodedata.category(ch) in UNPRINTABLE for ch in value):
        return "it contains a control character or line break"
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return "it is not valid Unicode text"
    if size > MAX_NAME_BYTES:
        return f"it is {size} bytes long (at most {MAX_NAME_BYTES})"
    return None


def shown(value: object, limit: int = 60) -> str:
    """A value quoted for an error line: control characters escaped, long values cut."""
    text = repr(value) if isinstance(value, str) else repr(str(value))
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def check_name(value: object, what: str, usage: bool = False, hint: str = "") -> str:
    """`value` if it is a plain name; else StepError (exit 1), or UsageError (exit 2) for a flag.

    `what` names where the value came from: `--id`, `BENCHMARK`, `model metadata <file> line 2: model_name`;
    `hint`, when given, ends the message (what the name was going to be used for).
    """
    problem = name_problem(value)
    if problem is None:
        return value  # type: ignore[return-value]
    error = UsageError if usage else StepError
    raise error(f"{what} {shown(value)} is not a plain name: {problem}" + (f"; {hint}" if hint else ""))


def check_flag_name(value: object, flag: str) -> str:
    """`check_name` for a flag or environment value: a usage error (exit 2) naming the flag."""
    return check_name(value, flag, usage=True)


def check_pipeline_flag(value: str, flag: str) -> str:
    """A pipeline name from a flag: a plain name, then the pipeline character set; usage errors."""
    check_flag_name(value, flag)
    if not PIPELINE_PATTERN.fullmatch(value):
        raise UsageError(
            f"{flag} {shown(value)} is not a valid pipeline name: use letters, digits, '.', '_' "
            "and '-', starting with a letter or digit"
        )
    return value


def check_flag_names(values: Iterable[str], flag: str) -> List[str]:
    """Every item of a list flag (`--input a,b`) is a plain name; the message names the flag."""
    return [check_flag_name(value, flag) for value in values]


def variable_label(flag: str, variable: str) -> str:
    """How a message names a value taken from an environment variable instead of its flag."""
    return f"{variable} (default of {flag})"


def resolve_name(
    flag_value: Optional[str], env: Environment, flag: str, *variables: str, default: Optional[str] = None
) -> Optional[str]:
    """`config.resolve` for a value that becomes a path component, stripped and checked.

    A bad value is a usage error naming the flag, or the variable it came from, so the user
    knows which of the two to fix.
    """
    if is_set(flag_value):
        return check_flag_name(str(flag_value).strip(), flag)
    for variable in variables:
        value = env.get(variable)
        if value is not None:
            return check_flag_name(value.strip(), variable_label(flag, variable))
    return default
