"""The bearer token and the CA bundle of the query step, checked before any request.

A token is never printed: a problem names where it came from (`--token-file`, `PROM_TOKEN`),
never its value.
"""

from __future__ import annotations

import ssl
from typing import Optional

from ..common.errors import StepError, UsageError
from .prom import one_line

PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"


def read_token(token_file: Optional[str], env_token: Optional[str]) -> Optional[str]:
    """The bearer token: the file's stripped content, else PROM_TOKEN; never printed.

    A token that cannot be a header value is refused here, before any request, naming where it
    came from and never its value (requests would quote it in its error). A bad file is exit 1
    like any unreadable file; a bad PROM_TOKEN is a usage error like any malformed variable.
    """
    if token_file:
        try:
            with open(token_file, "rb") as handle:
                data = handle.read()
        except OSError as failure:
            raise StepError(f"token file {token_file} cannot be read: {failure.strerror or failure}") from None
        try:
            token = data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise StepError(f"token file {token_file} (--token-file) is not UTF-8 text") from None
        problem = token_problem(token)
        if problem:
            raise StepError(
                f"the token in token file {token_file} (--token-file) cannot be sent in an HTTP header: {problem}"
            )
        return token or None
    token = env_token.strip() if env_token and env_token.strip() else None
    problem = token_problem(token) if token else None
    if problem:
        raise UsageError(f"the token in PROM_TOKEN cannot be sent in an HTTP header: {problem}")
    return token


def token_problem(token: str) -> Optional[str]:
    """Why `token` cannot be an HTTP header value, without quoting it; None when it can."""
    for character in token:
        code = ord(character)
        if character in "\r\n":
            return "it contains a line break"
        if code > 0xFF:
            return "it contains a character outside Latin-1"
        if code < 0x20 or 0x7F <= code <= 0x9F:
            return "it contains a control character"
    return None


def check_ca_file(ca_file: Optional[str]) -> Optional[str]:
    """The CA file when it is a readable PEM bundle that ssl loads; else an error naming the file."""
    if not ca_file:
        return None
    try:
        with open(ca_file, "rb") as handle:
            data = handle.read()
    except OSError as failure:
        raise StepError(f"CA file {ca_file} cannot be read: {failure.strerror or failure}") from None
    if PEM_CERTIFICATE not in data:
        raise StepError(
            f"CA file {ca_file} holds no PEM certificate ({PEM_CERTIFICATE.decode()}); --ca-file takes a PEM bundle"
        )
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=ca_file)
    except (ssl.SSLError, OSError, ValueError) as failure:
        raise StepError(
            f"CA file {ca_file} is not a valid PEM certificate bundle: "
            f"{one_line(getattr(failure, 'reason', None) or failure)}"
        ) from None
    return ca_file
