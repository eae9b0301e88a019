"""Plain records that flow through the pipeline."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) of a document's cleaned text."""

    start: int
    end: int


@dataclass(frozen=True)
class DocumentIn:
    """An article as submitted, before cleaning."""

    text: str
    title: str | None = None
    id: str | None = None
    source: str | None = None
    url: str | None = None
    published_at: str | None = None
    is_html: bool = False


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    text: str  # the cleaned, canonical text: every offset refers to it
    content_hash: str
    source: str | None = None
    url: str | None = None
    published_at: str | None = None
    duplicate_of: str | None = None
    chunks: int = 0
    created_at: float = 0.0

    def summary(self) -> dict:
        d = asdict(self)
        d.pop("text")
        return d


@dataclass(frozen=True)
class Chunk:
    id: str
    document_id: str
    index: int
    start: int
    end: int
    text: str  # always document.text[start:end]
    tokens: int


@dataclass
class SearchHit:
    chunk_id: str
    document_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    dense_similarity: float | None = None  # cosine similarity to the query, when the dense side saw it
    lexical_score: float | None = None  # bm25 (higher is better), when the lexical side saw it
    dense_rank: int | None = None
    lexical_rank: int | None = None
    duplicate_of: str | None = None

    def public(self) -> dict:
        return {
            k: getattr(self, k) for k in ("chunk_id", "document_id", "title", "text", "start", "end", "score")
        }


@dataclass(frozen=True)
class IngestResult:
    id: str
    status: str  # created | unchanged | updated | duplicate of <id> | rejected: <reason>
    chunks: int = 0
    title: str | None = None
    source: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def public(self) -> dict:
        return {"id": self.id, "status": self.status, "chunks": self.chunks}
