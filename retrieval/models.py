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
    # what reading it left out that the sender should hear of (a front-matter date the API would
    # refuse): carried to its IngestResult's warnings
    warnings: tuple[str, ...] = ()


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
    published_ts: float | None = None  # published_at as a Unix time: what date filters compare
    revision: int = 0  # the stored version of this text; 0: written before revisions existed

    def summary(self) -> dict:
        """What listings show: no text, and no published_ts (published_at says it for people)."""
        d = asdict(self)
        d.pop("text")
        d.pop("published_ts")
        return d


def chunk_id(doc_id: str, index: int) -> str:
    """The public id of a document's index-th chunk (search results and citations carry it)."""
    return f"{doc_id}#{index}"


def chunk_key(chunk_id: str, revision: int) -> str:
    """Where one revision's chunk is stored (its Chroma id, its key in the keyword index). Two
    revisions of a document coexist in Chroma until the catalog switches between them, so each has
    its own keys; revision 0, written before revisions existed, keeps the bare chunk id it has on disk.
    Document ids cannot contain "@", so the key parses back unambiguously."""
    return f"{chunk_id}@{revision}" if revision else chunk_id


def revision_keys(doc_id: str, revision: int, chunks: int) -> list[str]:
    """Every key of a revision with `chunks` chunks."""
    return [chunk_key(chunk_id(doc_id, i), revision) for i in range(chunks)]


@dataclass(frozen=True)
class Chunk:
    id: str
    document_id: str
    index: int
    start: int
    end: int
    text: str  # always document.text[start:end]
    tokens: int
    revision: int = 0  # the document revision the span belongs to

    @property
    def key(self) -> str:
        """Its id in Chroma and in the keyword index (chunk_key)."""
        return chunk_key(self.id, self.revision)


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
    sentence_rank: int | None = None  # its best sentence's chunk rank on the sentence side
    duplicate_of: str | None = None
    # the text of the revision the span was read in: answers cite from it, so a revision switched in
    # since the search cannot pair this span with another text
    document_text: str = field(default="", repr=False, compare=False)

    def public(self) -> dict:
        return {
            k: getattr(self, k) for k in ("chunk_id", "document_id", "title", "text", "start", "end", "score")
        }


def hit_texts(hits: list[SearchHit]) -> dict[str, str]:
    """{document id: the text its hits were read from}."""
    return {h.document_id: h.document_text for h in hits}


def best_scores(hits: list[SearchHit]) -> dict[str, float]:
    """{document id: the search score of its best hit}."""
    best: dict[str, float] = {}
    for h in hits:
        best[h.document_id] = max(best.get(h.document_id, h.score), h.score)
    return best


@dataclass(frozen=True)
class IngestResult:
    id: str
    status: str  # created | unchanged | updated | duplicate of <id> | rejected: <reason>
    chunks: int = 0
    title: str | None = None
    source: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def public(self) -> dict:
        return {"id": self.id, "status": self.status, "chunks": self.chunks, "warnings": list(self.warnings)}
