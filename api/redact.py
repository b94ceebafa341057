"""Secrets never reach a log line: query parameters that carry one are redacted from every
record of the loggers that write URLs (uvicorn's access log, httpx's request log) before any
handler formats it.

The API itself takes no secret in a URL (tokens go in ``Authorization``, login links keep theirs
in the fragment, which browsers never send); this is for the client that puts one there anyway.
"""

from __future__ import annotations

import logging
import re

SECRET_PARAMETERS = ("token", "secret", "password", "passphrase", "nonce", "signature", "key", "code", "auth",
                     "id_number")
"""``id_number``: a person's purge takes the ID number in its body; a client that puts it in the URL
too must not have it logged."""

_QUERY_SECRET = re.compile(
    r"([?&;](?:[^=&#\s]*(?:" + "|".join(SECRET_PARAMETERS) + r")[^=&#\s]*)=)[^&#\s\"]*", re.IGNORECASE)

REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` with the value of every secret-named query parameter replaced."""
    return _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and string arguments; keeps every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) for a in record.args)
        return True


def _redacted(arg: object) -> object:
    """``arg``, or its text redacted if it holds a secret (URLs come as objects, e.g. httpx's)."""
    if isinstance(arg, (int, float)) or arg is None:
        return arg
    text = str(arg)
    cleaned = redact(text)
    return arg if cleaned == text else cleaned


LOGGERS = ("uvicorn.access", "httpx")
"""The loggers that write URLs: the server's access log and the HTTP client's request log."""


def install() -> None:
    """Redact the records of :data:`LOGGERS` (once, however many apps a process makes)."""
    for name in LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in target.filters):
            target.addFilter(RedactSecrets())
