"""The project's exceptions; each carries the contract's error `code` and an HTTP status.

Inside the pipeline they are raised; the API maps them to {"error": {"code", "message"}},
the CLI to a one-line message and exit status 2.
"""

from __future__ import annotations


class FactdeskError(Exception):
    code = "internal_error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(FactdeskError):
    code = "invalid_request"
    status = 400


class NotFound(FactdeskError):
    code = "not_found"
    status = 404


class PayloadTooLarge(FactdeskError):
    code = "payload_too_large"
    status = 413


class Unauthorized(FactdeskError):
    code = "unauthorized"
    status = 401


class StoreUnavailable(FactdeskError):
    code = "store_unavailable"
    status = 503


class EmbedderError(FactdeskError):
    code = "embedder_unavailable"
    status = 503


class InsufficientStorage(FactdeskError):
    """The disk under the data dir (or the Chroma server's) is full: nothing was half-written."""

    code = "insufficient_storage"
    status = 507


class ReadOnlyStore(FactdeskError):
    """The data dir cannot be written (permissions, a read-only mount): reads still answer."""

    code = "read_only"
    status = 503


class CorruptStore(FactdeskError):
    """A store file is damaged; `factdesk doctor` names it and `doctor --repair` sets it aside."""

    code = "store_corrupted"
    status = 503


class CorruptVectors(CorruptStore):
    """The embedded Chroma store's files are damaged (an index write cut short by a full disk):
    `factdesk doctor --repair` sets the folder aside and embeds every chunk again from the catalog."""
