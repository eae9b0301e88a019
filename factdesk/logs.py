"""Logging for `factdesk serve`: text or JSON lines, a request id on each, and no secrets in any.

A query string may carry a key (`?api_key=...`, a signed link) and a URL in an error may carry
`user:password@`; uvicorn's access log keeps the first and a driver's error the second. The filters
sit on the handlers, so they see every record that is written, whichever logger it came from.

With FACTDESK_LOG_FORMAT=json every line is one JSON object (`JsonFormatter`), uvicorn's and
factdesk's alike, and the access lines are factdesk's own (api/request_context.py), which know the
request id and the duration; uvicorn's access log is then off.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any, Literal

from retrieval.redact import redact_text

ACCESS_LOGGER = "uvicorn.access"
FACTDESK_ACCESS_LOGGER = "factdesk.access"
# the fields an access line adds to a JSON line (passed as `extra` by the request middleware)
ACCESS_FIELDS = ("method", "path", "status", "duration_ms")

LogFormat = Literal["text", "json"]

# the id of the request being served, for every line logged while serving it (threads included:
# Starlette runs sync work in a copy of the request's context)
REQUEST_ID: ContextVar[str | None] = ContextVar("factdesk_request_id", default=None)


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


class StampRequestId(logging.Filter):
    """Puts the current request's id on the record (None outside a request) as it is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class TextFormatter(logging.Formatter):
    """ "INFO:     message", aligned with uvicorn's own lines."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname + ':':<9} {super().format(record)}"


def json_record(record: logging.LogRecord, message: str, exception: str | None) -> dict[str, Any]:
    """The JSON object of one log line (pure: the record's fields in, a dict out)."""
    line: dict[str, Any] = {
        "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname,
        "logger": record.name,
        "message": message,
        "request_id": getattr(record, "request_id", None),
    }
    for name in ACCESS_FIELDS:
        if hasattr(record, name):
            line[name] = getattr(record, name)
    if exception:
        line["exception"] = exception
    return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line; a traceback goes in "exception", so a line never spans two."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()  # uvicorn's dictConfig may pass fmt/use_colors: nothing here uses them

    def format(self, record: logging.LogRecord) -> str:
        exception = record.exc_text or (self.formatException(record.exc_info) if record.exc_info else None)
        if record.stack_info:
            exception = "\n".join(filter(None, [exception, self.formatStack(record.stack_info)]))
        line = json_record(record, record.getMessage(), exception)
        return json.dumps(line, ensure_ascii=False, default=str)


def log_handler(log_format: LogFormat, stream: IO[str] | None = None) -> logging.Handler:
    """A stderr handler in the chosen format, with the redaction and request-id filters."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter("%(message)s"))
    for f in (DropQueryString(), RedactSecrets(), StampRequestId()):
        handler.addFilter(f)
    return handler


def configure_logging(log_format: LogFormat) -> None:
    """factdesk's INFO lines on stderr when nobody (uvicorn, pytest) configured logging for them.
    JSON: on the root logger, so that every library's warnings are JSON lines too."""
    logger = logging.getLogger("factdesk")
    root = logging.getLogger()
    if logger.handlers or root.handlers:
        return
    logger.setLevel(logging.INFO)
    if log_format == "json":
        root.addHandler(log_handler("json"))
        logging.captureWarnings(True)  # a warnings.warn would otherwise print a plain-text line
    else:
        logger.addHandler(log_handler("text"))


def uvicorn_log_config(log_format: LogFormat = "text") -> dict[str, Any]:
    """uvicorn's own logging config with the filters on its handlers; for JSON, every line JSON."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {}).update(
        {
            "drop_query": {"()": DropQueryString},
            "redact": {"()": RedactSecrets},
            "request_id": {"()": StampRequestId},
        }
    )
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "drop_query", "redact", "request_id"]
    if log_format == "json":
        config["formatters"] = {name: {"()": JsonFormatter} for name in config["formatters"]}
        for handler in config["handlers"].values():
            handler["stream"] = "ext://sys.stderr"  # one stream, so lines from both never interleave
        # the root too: a library's own logger (chromadb, httpx) must not print a plain-text line
        config["root"] = {"handlers": ["default"], "level": "WARNING"}
        config["loggers"]["factdesk"] = {"level": "INFO", "handlers": [], "propagate": True}
    return config
