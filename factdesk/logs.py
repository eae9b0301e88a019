"""Log filters for `factdesk serve`: no credentials and no query strings in any log line.

A query string may carry a key (`?api_key=...`, a signed link) and a URL in an error may carry
`user:password@`; uvicorn's access log keeps the first and a driver's error the second. The filters
sit on the handlers, so they see every record that is written, whichever logger it came from.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from retrieval.redact import redact_text

ACCESS_LOGGER = "uvicorn.access"


def path_without_query(target: str) -> str:
    """The request target as logged: the path alone."""
    return target.split("?", 1)[0]


class DropQueryString(logging.Filter):
    """uvicorn.access records carry (client, method, path?query, http version, status) as args."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == ACCESS_LOGGER and isinstance(args, tuple) and len(args) == 5:
            record.args = (*args[:2], path_without_query(str(args[2])), *args[3:])
        return True


class RedactSecrets(logging.Filter):
    """Every URL in the message loses its credentials and query (retrieval/redact.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == ACCESS_LOGGER:  # its formatter needs the args tuple; DropQueryString's job
            return True
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info:
            # the traceback's last line is the exception's text, which may quote the URL; a handler
            # that formatted the record first may have cached it unredacted
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_text(text)
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging config with both filters on its handlers."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {}).update(
        {
            "drop_query": {"()": DropQueryString},
            "redact": {"()": RedactSecrets},
        }
    )
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "drop_query", "redact"]
    return config
