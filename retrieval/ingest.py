"""The ingest pipeline: clean -> de-duplicate -> chunk -> embed -> Chroma + lexical index.

The only place that writes. A new text lands as a new revision (retrieval/catalog.py has the
protocol): reserved in one commit, its vectors put in Chroma beside the current revision's, then ONE
commit switches the document to it; the replaced revision's vectors are dropped after that. A crash
at any point leaves the old version or the new one, never neither; `recover()` (run on open) rolls
back a reserved revision and drops stale vectors.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import unicodedata
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from retrieval import dedup
from retrieval.catalogs import AnyCatalog
from retrieval.chunk import chunk_text
from retrieval.clean import CLEANER_VERSION, clean_article, skip_captions, visible_text
from retrieval.embed import CachedEmbedder
from retrieval.errors import InsufficientStorage, InvalidInput, NotFound
from retrieval.faults import refusal
from retrieval.models import Chunk, Document, DocumentIn, IngestResult, chunk_id, revision_keys
from retrieval.sentences import heading_text
from retrieval.store import VectorStore

log = logging.getLogger("factdesk.ingest")

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
# embed this many chunks per model call across documents: enough sentences to keep batches full,
# few enough that preparing the next group and writing the last one overlap the model's work
EMBED_GROUP_CHUNKS = 64


def embed_chunks(embedder: CachedEmbedder, items: list[tuple[str, list[Chunk]]]) -> list[np.ndarray]:
    """Vectors for (document text, chunks) pairs, one (len(chunks), dim) array per pair.

    The model embeds each sentence once; a chunk's vector is the normalised mean of its sentences'.
    The sentence vectors are needed anyway (search re-ranks by a chunk's best sentence, the extractive
    engine scores sentences), and embedding whole chunks as well doubled the model time of an ingest
    for the same retrieval quality (evals: hit@5 0.975 vs 0.962, MRR 0.845 vs 0.840; held-out set
    0.875 vs 0.938 and 0.875 vs 0.888; BENCHMARKS.md). Sentences repeated by chunk overlap hit the cache.
    """
    per_chunk = embedder.chunk_sentences([(text, c.start, c.end) for text, chunks in items for c in chunks])
    means = []
    for _, vecs in per_chunk:
        m = vecs.mean(axis=0)
        means.append(m / max(float(np.linalg.norm(m)), 1e-12))
    dim = per_chunk[0][1].shape[1] if per_chunk else 0
    out, pos = [], 0
    for _, chunks in items:
        rows = means[pos : pos + len(chunks)]
        out.append(np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32))
        pos += len(chunks)
    return out


def chunk_metadata(doc: Document, chunk: Chunk) -> dict:
    """A chunk's Chroma metadata, for every path that writes vectors (ingest and doctor's repair):
    what search filters on (document, source, publication time) and the span."""
    meta: dict = {"document_id": doc.id, "revision": doc.revision, "start": chunk.start, "end": chunk.end}
    if doc.source:
        meta["source"] = doc.source
    if doc.published_ts is not None:
        meta["published_ts"] = doc.published_ts
    return meta


def validate_id(doc_id: str) -> str:
    if not ID_PATTERN.fullmatch(doc_id) or ".." in doc_id:  # fullmatch: "$" would let a final "\n" in
        raise InvalidInput(
            "document id must be 1-128 characters of letters, digits, '.', '_', ':' or '-', starting "
            "with a letter or a digit, without '..' (no path separators, no control characters)"
        )
    return doc_id


def check_unicode(value: str, what: str) -> str:
    """Text that can be stored: a lone surrogate (from JSON "\\ud800" or undecodable argv/file names)
    cannot be encoded as UTF-8, and would fail deep in SQLite or the tokenizer instead of here."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not valid Unicode text (it contains a lone surrogate)") from None
    return value


def slug_id(name: str) -> str:
    """A valid document id from a file name; accented letters keep their base letter."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    s = re.sub(r"[^A-Za-z0-9._:-]+", "-", plain).strip("-.")[:128]
    return s if s and ID_PATTERN.match(s) else "doc"


def _published_utc(value: str | None) -> datetime | None:
    """value as an instant in UTC (a date alone, or a time without an offset, is taken as UTC)."""
    if value is None or not str(value).strip():
        return None
    try:
        dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError as e:
        raise InvalidInput(f"published_at must be an ISO 8601 date, not {str(value)[:40]!r}") from e
    try:
        return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)
    except OverflowError:  # "0001-01-01T00:00+05:00" is in the year 0 in UTC
        raise InvalidInput(f"published_at is out of range: {str(value)[:40]!r}") from None


def parse_published(value: str | None) -> float | None:
    dt = _published_utc(value)
    return None if dt is None else dt.timestamp()


def normalise_published(value: str | None) -> str | None:
    """The one form a stored date takes, the feeds' (retrieval/feeds.py `_iso`): UTC, to the second,
    "+00:00". Sent as "2025-03-04" or "2025-03-04T10:00:00+02:00", dates would otherwise be listed in
    mixed forms that do not sort as text."""
    dt = _published_utc(value)
    return None if dt is None else dt.replace(microsecond=0).isoformat()


def parse_until(value: str | None) -> float | None:
    """A range's inclusive end: a date alone ("2025-03-04") takes in that whole day."""
    end = parse_published(value)
    if end is None or "T" in str(value) or ":" in str(value):
        return end
    return end + 86400 - 1e-3


def accepted_date(value: str | None) -> str | None:
    """A date an article states about itself (a page's metadata, front matter) when it is one the API
    would take; else none: the article is still stored, undated."""
    try:
        return value if value is not None and parse_published(value) is not None else None
    except InvalidInput:
        return None


def ignored_date(value: object) -> str:
    """The warning for a date an article states about itself that accepted_date leaves out: said in
    the API's words, since the API refuses the same date sent as a field."""
    return f"published_at ignored: {str(value)[:40]!r} is not an ISO 8601 date"


def _noted(result: IngestResult, warnings: tuple[str, ...]) -> IngestResult:
    """result with what reading its item left out (DocumentIn.warnings). Every caller shows a result's
    warnings (the CLI's line, the HTTP body, a serve start's log line), so a log line here would say
    it twice."""
    for w in warnings:
        log.debug("%s: %s", result.id, w)
    return replace(result, warnings=result.warnings + warnings) if warnings else result


# as long as a title the API takes: a page's <title>, a feed item's or a JSON record's is held to it too
TITLE_MAX = 1000


def short_title(title: str, limit: int = TITLE_MAX) -> str:
    """title on one line (a line break in it would start a forged line in a plain-text "Sources:"
    list), cut at a word with an ellipsis when longer than limit."""
    title = " ".join(title.split())
    if len(title) <= limit:
        return title
    cut = title[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(",;:") + "…"


def _headline_from(text: str, limit: int = 100) -> str:
    """A stand-in title for an untitled article: its first line that is not a picture credit or
    caption, cut at a word if long."""
    lines = [line.strip() for line in text.strip().split("\n") if line.strip()]
    if not lines:
        return ""
    n = skip_captions(lines)
    return short_title(lines[n] if n < len(lines) else lines[0], limit)


@dataclass(frozen=True)
class Prepared:
    """A document cleaned, chunked and fingerprinted, not yet written anywhere."""

    doc: Document
    chunks: list[Chunk]
    shingles: frozenset[str]
    bands: list[str]
    item: DocumentIn | None = None  # set when chunking was skipped because the text is already stored
    raw_hash: str | None = None
    given: frozenset[str] = frozenset()  # which of KEPT_METADATA the submission set

    @property
    def complete(self) -> bool:
        return self.item is None


@dataclass
class _Staged:
    """A document checked and embedded, waiting for its batch's revision, Chroma upsert and switch."""

    doc: Document
    chunks: list[Chunk]
    shingles: frozenset[str]
    bands: frozenset[str]
    vectors: np.ndarray
    result: IngestResult
    raw_hash: str | None


# what an update that leaves them out keeps of the stored document (a title left out is the new
# text's headline)
KEPT_METADATA = ("source", "url", "published_at")


def given_metadata(item: DocumentIn) -> frozenset[str]:
    return frozenset(f for f in KEPT_METADATA if isinstance(v := getattr(item, f), str) and v.strip())


def with_stored_metadata(doc: Document, stored: Document, given: frozenset[str]) -> Document:
    """doc with the stored version's source, url and publication date where the submission gave none
    (a .txt re-ingested, an update sent without them)."""
    kept = {f: getattr(stored, f) for f in KEPT_METADATA if f not in given}
    if "published_at" in kept:
        kept["published_ts"] = stored.published_ts
    return replace(doc, **kept)


def _stored(doc: Document, item: DocumentIn, raw: str) -> Prepared:
    """A document whose text is stored already: nothing chunked or fingerprinted (the write re-checks,
    and prepares `item` in full if the stored copy was deleted meanwhile or this is new text for
    another stored document)."""
    return Prepared(
        doc=doc,
        chunks=[],
        shingles=frozenset(),
        bands=[],
        item=item,
        raw_hash=raw,
        given=given_metadata(item),
    )


def _cleaning_input(item: DocumentIn) -> str:
    """What cleaning depends on: the cleaner's version, whether the text is HTML, the raw text."""
    return f"{CLEANER_VERSION}\0{bool(item.is_html)}\0{item.text}"


def raw_fingerprint(item: DocumentIn) -> str:
    return hashlib.sha256(_cleaning_input(item).encode()).hexdigest()


def input_fingerprint(item: DocumentIn) -> str:
    """Everything a stored document is made from: what cleaning depends on and the given metadata.
    Taken before the item is checked: a lone surrogate (which the ingest refuses) is hashed too."""
    given = (item.id, item.title, item.source, item.url, item.published_at)
    return hashlib.sha256(f"{_cleaning_input(item)}\0{given!r}".encode("utf-8", "surrogatepass")).hexdigest()


def _label(value: str | None) -> str | None:
    return (" ".join(visible_text(value).split()) or None) if value is not None else None


def prepare(
    item: DocumentIn,
    *,
    max_tokens: int,
    overlap_tokens: int,
    max_chars: int,
    is_stored: Callable[[str], bool] = lambda content_hash: False,
    cleaned_before: Callable[[str], str | None] = lambda raw_hash: None,
) -> Prepared:
    """Raw submission -> cleaned document with chunk spans (raises InvalidInput). When the cleaned
    text is already stored, chunking and fingerprinting are skipped; when this very input was cleaned
    before (`cleaned_before` maps its raw fingerprint to the cleaned text's hash) and that text is
    stored, cleaning is skipped too: re-ingesting unchanged articles costs a hash and two lookups."""
    if not isinstance(item.text, str) or not item.text.strip():
        raise InvalidInput("text is empty")
    if len(item.text) > max_chars:
        raise InvalidInput(f"text is longer than {max_chars} characters")
    if "\x00" in item.text:
        raise InvalidInput("text contains NUL bytes (binary data?)")
    for what, value in (
        ("text", item.text),
        ("title", item.title),
        ("source", item.source),
        ("url", item.url),
        ("published_at", item.published_at),
    ):
        if isinstance(value, str):
            check_unicode(value, what)
    # labels shown beside a citation (the chat page, MCP, the CLI): no control characters or bidi
    # overrides, as a title has none
    item = replace(item, source=_label(item.source), url=_label(item.url))
    raw = raw_fingerprint(item)
    known = cleaned_before(raw)
    if known is not None and is_stored(known):
        published_ts = parse_published(item.published_at)  # still rejects a bad date, as below
        doc_id = validate_id(item.id) if item.id else f"doc-{known[:16]}"
        doc = Document(
            id=doc_id,
            title=short_title(visible_text(item.title or "").strip()) or doc_id,
            text="",
            content_hash=known,
            created_at=time.time(),
            published_ts=published_ts,
        )
        return _stored(doc, item, raw)
    cleaned = clean_article(item.text, is_html=item.is_html)
    text = cleaned.text
    if not text.strip():
        raise InvalidInput("nothing left after cleaning (no article text)")
    h = dedup.content_hash(text)
    doc_id = validate_id(item.id) if item.id else f"doc-{h[:16]}"
    given = visible_text(item.title or "").strip()  # a page's own title is as raw as a client's
    title = (
        short_title((given or visible_text(heading_text(cleaned.title or _headline_from(text)))).strip())
        or doc_id
    )
    published_at = normalise_published(item.published_at or accepted_date(cleaned.published))
    published_ts = parse_published(published_at)
    doc = Document(
        id=doc_id,
        title=title,
        text=text,
        content_hash=h,
        source=item.source,
        url=item.url,
        published_at=published_at,
        created_at=time.time(),
        published_ts=published_ts,
    )
    if is_stored(h):
        return _stored(doc, item, raw)
    spans = chunk_text(text, max_tokens=max_tokens, overlap_tokens=overlap_tokens)
    chunks = [
        Chunk(
            id=chunk_id(doc_id, i),
            document_id=doc_id,
            index=i,
            start=s.start,
            end=s.end,
            text=text[s.start : s.end],
            tokens=s.tokens,
        )
        for i, s in enumerate(spans)
    ]
    sh = dedup.shingles(text)
    return Prepared(
        doc=replace(doc, chunks=len(chunks)),
        chunks=chunks,
        shingles=frozenset(sh),
        bands=dedup.band_keys(dedup.minhash(sh)),
        raw_hash=raw,
        given=given_metadata(item),
    )


class Ingestor:
    def __init__(
        self,
        catalog: AnyCatalog,
        vectors: VectorStore,
        embedder: CachedEmbedder,
        *,
        data_dir: Path,
        max_tokens: int = 160,
        overlap_tokens: int = 40,
        max_chars: int = 2_000_000,
        near_duplicate_threshold: float = 0.8,
    ) -> None:
        self.catalog = catalog
        self.vectors = vectors
        self.embedder = embedder
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.max_chars = max_chars
        self.near_duplicate_threshold = near_duplicate_threshold
        self._lock = threading.RLock()
        self._lock_path = data_dir / "write.lock"
        # what recovery and repair finished, for /healthz and doctor (since this process started)
        self.recovered = {
            "revisions_rolled_back": 0,
            "legacy_rows_rolled_back": 0,
            "stale_vectors_dropped": 0,
            "orphan_vectors_dropped": 0,
            "vectors_reembedded": 0,
            "lexical_rows_reindexed": 0,
            "files_set_aside": 0,
        }
        self.counters = {
            "created": 0,
            "updated": 0,
            "unchanged": 0,
            "duplicate": 0,
            "rejected": 0,
            "deleted": 0,
        }

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One writer at a time: across threads (RLock) and across processes (the catalog's lock: a
        flock on the data dir, or PostgreSQL's advisory lock across replicas).
        A data dir opened read-only (permissions, a full disk) refuses here, before any work."""
        if self.catalog.read_only is not None:
            raise refusal(self.catalog.read_only, "the data dir")
        with self._lock, self.catalog.exclusive(self._lock_path):
            yield

    # ---- ingest ----
    def ingest(
        self, items: Iterable[DocumentIn], progress: Callable[[IngestResult], None] | None = None
    ) -> list[IngestResult]:
        """Ingest documents; embedding is batched across documents, writes go one document at a time.
        Results are in the order of `items` (progress is called in the order they are decided).

        A pipeline of three stages: while the model embeds one group (in a worker thread; torch
        releases the GIL), this thread writes the group before it and then prepares the next.
        Groups are written in order, so near-duplicate checks see every earlier document.

        A text already stored under another id (a renamed file) is decided last, or just before a
        later item of its own id: an item after it may replace the id that holds the text, and the
        text is then stored under its own id, not reported unchanged and lost."""
        results: list[IngestResult | None] = []
        group: list[Prepared] = []
        slots: list[int] = []  # where each of group's results goes in `results`
        held_elsewhere: list[tuple[int, Prepared]] = []  # (slot, item) waiting for the call's end
        notes: dict[int, tuple[str, ...]] = {}  # slot -> its item's warnings, for its result
        embedding: list[tuple[Future, list[Prepared], list[int]]] = []  # at most one group in the model

        def write(job: tuple[Future, list[Prepared], list[int]]) -> None:
            future, prepared, where = job
            for i, r in zip(where, self._write_group(prepared, future.result())):
                results[i] = r = _noted(r, notes.pop(i, ()))
                if progress:
                    progress(r)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="factdesk-embed") as model:

            def flush(last: bool = False) -> None:
                if group:
                    embedding.append((model.submit(self._embed_group, list(group)), list(group), list(slots)))
                    group.clear()
                    slots.clear()
                # one group stays in the model while this thread writes the one before it
                while len(embedding) > (0 if last else 1):
                    write(embedding.pop(0))

            for item in items:
                try:
                    prepared = self._prepare(item, skip_stored=True)
                except InvalidInput as e:
                    r = IngestResult(id=item.id or "-", status=f"rejected: {e.message}", title=item.title)
                    r = _noted(r, item.warnings)
                    self.counters["rejected"] += 1
                    results.append(r)
                    if progress:
                        progress(r)
                    continue
                slot = len(results)
                results.append(None)
                if item.warnings:
                    notes[slot] = item.warnings
                # only a text found stored when prepared can be another id's (no lookup for new text)
                holder = None if prepared.complete else self.catalog.find_by_hash(prepared.doc.content_hash)
                if holder is not None and holder.id != prepared.doc.id:
                    held_elsewhere.append((slot, prepared))
                    continue
                for waiting in [w for w in held_elsewhere if w[1].doc.id == prepared.doc.id]:
                    held_elsewhere.remove(waiting)  # the earlier item of this id is decided first
                    slots.append(waiting[0])
                    group.append(waiting[1])
                slots.append(slot)
                group.append(prepared)
                if sum(len(p.chunks) for p in group) >= EMBED_GROUP_CHUNKS:
                    flush()
            for slot, prepared in held_elsewhere:
                slots.append(slot)
                group.append(prepared)
            flush(last=True)
        return [r for r in results if r is not None]

    def _embed_group(self, group: list[Prepared]) -> dict[tuple[str, str], np.ndarray]:
        """Vectors of the group's new documents, by (id, content hash): one id may come twice with
        two texts. Text already stored under some id is "unchanged" and needs none (checked again
        when written)."""
        fresh = [p for p in group if self.catalog.find_by_hash(p.doc.content_hash) is None]
        vecs = embed_chunks(self.embedder, [(p.doc.text, p.chunks) for p in fresh])
        return {(p.doc.id, p.doc.content_hash): v for p, v in zip(fresh, vecs)}

    def _write_group(
        self, group: list[Prepared], by_doc: dict[tuple[str, str], np.ndarray]
    ) -> list[IngestResult]:
        """Write a group's documents: each is checked and staged in turn, then all their vectors go to
        Chroma in one upsert (one call costs ~6 ms whatever its size: 40 documents written one by one
        spent 0.25 s there, 0.07 s together) and one transaction switches them in (_land). A failure
        rolls back every new revision of the batch. Checks see the batch as if written one by one:
        the same text twice is "unchanged", a near-copy of an earlier one is a duplicate."""
        out: list[IngestResult] = []
        with self.writing():
            self._abandon(self.catalog.reserved())  # under the lock, any is a leftover of a failed write
            batch: list[_Staged] = []
            changing = {q.doc.id for q in group if self._replaces_stored_text(q)}
            for i, p in enumerate(group):
                if any(b.doc.id == p.doc.id for b in batch):  # the same id again: the first lands first
                    self._land(batch)
                    batch = []
                # stored documents a later item of the group gives another text (two swapping texts)
                later = ({q.doc.id for q in group[i + 1 :]} & changing) - {p.doc.id}
                staged = self._stage(p, by_doc.get((p.doc.id, p.doc.content_hash)), batch, later)
                if isinstance(staged, IngestResult):
                    out.append(staged)
                else:
                    batch.append(staged)
                    out.append(staged.result)
            self._land(batch)
        for r in out:
            self.counters["duplicate" if r.status.startswith("duplicate of") else r.status] += 1
        return out

    def _replaces_stored_text(self, p: Prepared) -> bool:
        """Whether p may give its id another text. New text (prepared in full) always does when the id
        is stored, and an id not stored frees nothing either way, so only a text stored already is
        looked up: it changes nothing when its own id holds it."""
        if p.complete:
            return True
        holder = self.catalog.find_by_hash(p.doc.content_hash)
        if holder is not None and holder.id == p.doc.id:
            return False
        stored = self.catalog.get(p.doc.id)  # the text may be stored twice, this id one of its holders
        return stored is not None and stored.content_hash != p.doc.content_hash

    def _stage(  # type: ignore[no-untyped-def]
        self, p: Prepared, vecs, batch: list[_Staged], later: frozenset[str] | set[str] = frozenset()
    ) -> _Staged | IngestResult:
        """Checks, and the document staged in memory; nothing is written until _land. The version
        stored under this id (if any) stays readable until the new one replaces it there."""
        # the same text already stored: "unchanged" under the id that holds it, unless this is new text
        # for another stored document, which then takes it as a duplicate of that one (reporting the
        # other id as unchanged would drop the update without a word)
        copy_of: str | None = None
        stored = self.catalog.get(p.doc.id)
        same = self.catalog.find_by_hash(p.doc.content_hash)
        if same is not None and (same.id in later or any(b.doc.id == same.id for b in batch)):
            # the document that holds this text gets another text in this very batch: this copy is
            # about to be the only one, so it is stored (reporting it unchanged would lose the text)
            same = None
        if same is not None:  # checked again under the lock: another writer may have just added it
            # the same text again is unchanged whatever else came with it (the contract): a title or
            # date is corrected by deleting the document and sending it anew
            if stored is None or same.id == p.doc.id:
                return IngestResult(id=same.id, status="unchanged", chunks=same.chunks, title=same.title)
            copy_of = same.duplicate_of or same.id
        for b in batch:
            if copy_of is None and b.doc.content_hash == p.doc.content_hash and b.doc.id != p.doc.id:
                if stored is None:
                    return IngestResult(
                        id=b.doc.id, status="unchanged", chunks=len(b.chunks), title=b.doc.title
                    )
                copy_of = b.doc.duplicate_of or b.doc.id
        if not p.complete:  # it was stored when prepared, and has been deleted since: chunk it now
            assert p.item is not None
            p, vecs = self._prepare(p.item, skip_stored=False), None
        if vecs is None:  # raced with a delete of the identical text: embed now (cache makes it cheap)
            vecs = embed_chunks(self.embedder, [(p.doc.text, p.chunks)])[0]
        doc = replace(p.doc, duplicate_of=copy_of or self._near_duplicate_of(p, batch, later))
        if stored is not None:
            doc = with_stored_metadata(doc, stored, p.given)
        if doc.duplicate_of:
            status = f"duplicate of {doc.duplicate_of}"
        else:
            status = "updated" if stored is not None else "created"
        result = IngestResult(
            id=doc.id, status=status, chunks=len(p.chunks), title=doc.title, source=doc.source
        )
        return _Staged(doc, p.chunks, p.shingles, frozenset(p.bands), vecs, result, p.raw_hash)

    def _land(self, batch: list[_Staged]) -> None:
        """The batch's new revisions: reserved in one commit, their vectors put in Chroma in one upsert
        (beside the current revisions'), then ONE commit switches every document of the batch to its
        new revision. The replaced revisions' vectors are dropped last."""
        if not batch:
            return
        with self.catalog.transaction() as db:
            revisions = [self.catalog.reserve(db, b.doc.id, len(b.chunks)) for b in batch]
        try:
            docs = [replace(b.doc, revision=r) for b, r in zip(batch, revisions)]
            chunks = [[replace(c, revision=r) for c in b.chunks] for b, r in zip(batch, revisions)]
            keys = [c.key for cs in chunks for c in cs]
            if keys:
                self.vectors.upsert(
                    keys,
                    np.concatenate([b.vectors for b in batch if b.chunks]).astype(np.float32, copy=False),
                    [chunk_metadata(d, c) for d, cs in zip(docs, chunks) for c in cs],
                )
            with self.catalog.transaction() as db:
                for b, d, cs in zip(batch, docs, chunks):
                    self.catalog.switch_revision(db, d, cs, sorted(b.bands), b.raw_hash)
        except Exception:
            self._abandon([(r, b.doc.id, len(b.chunks)) for b, r in zip(batch, revisions)])
            raise
        self._collect_stale()

    def _prepare(self, item: DocumentIn, skip_stored: bool) -> Prepared:
        return prepare(
            item,
            max_tokens=self.max_tokens,
            overlap_tokens=self.overlap_tokens,
            max_chars=self.max_chars,
            is_stored=(lambda h: self.catalog.find_by_hash(h) is not None)
            if skip_stored
            else (lambda h: False),
            cleaned_before=self.catalog.content_hash_of_raw if skip_stored else (lambda raw: None),
        )

    def _near_duplicate_of(
        self, p: Prepared, batch: Sequence[_Staged] = (), later: frozenset[str] | set[str] = frozenset()
    ) -> str | None:
        """The stored (or earlier in this batch) document p reworded or lightly edited, if any. A stored
        text a later item replaces is not compared: that item is compared with p when it comes."""
        best, best_score, best_original = None, 0.0, None
        mine, threshold = p.shingles, self.near_duplicate_threshold

        def copies(score: float, text: str) -> bool:
            return score >= threshold and score > best_score and not dedup.adds_names(p.doc.text, text)

        candidates = self.catalog.candidates_by_bands(p.bands, exclude=p.doc.id)
        replaced = {
            b.doc.id for b in batch
        } | later  # their stored text is going; the batch's is compared below
        for doc_id, text in self.catalog.texts([c for c in candidates if c not in replaced]).items():
            score = dedup.overlap(mine, dedup.shingles(text))
            if copies(score, text):
                best, best_score, best_original = doc_id, score, None
        for b in batch:  # pending, so not in the catalog's answers yet; the same LSH gate as above
            if b.bands.isdisjoint(p.bands):
                continue
            score = dedup.overlap(mine, b.shingles)
            if copies(score, b.doc.text):
                best, best_score, best_original = b.doc.id, score, b.doc.duplicate_of
        if best is None:
            return None
        if best_original is None:
            best_original = self.catalog.titles([best]).get(best, (None, None))[1]
        return best_original or best  # point at the original, not at another copy

    # ---- delete ----
    def delete(self, doc_id: str) -> None:
        """Gone from every reader in one commit; its vectors are dropped from Chroma after it (if
        Chroma fails there, they stay listed as stale, unseen, for recover() or doctor). An id that
        no document has is said so first, even when writes are refused (a read-only data dir)."""
        if self.catalog.get(doc_id) is None:
            raise NotFound(f"no document with id {doc_id!r}")
        with self.writing():
            with self.catalog.transaction() as db:
                if self.catalog.get(doc_id) is None or not self.catalog.retire(db, doc_id):
                    raise NotFound(f"no document with id {doc_id!r}")
            self.counters["deleted"] += 1
            self._collect_stale()

    def _collect_stale(self, strict: bool = False) -> int:
        """Drop from Chroma the vectors of replaced and deleted revisions; how many were dropped. They
        are invisible already, so a failure here (Chroma down) loses nothing: unless strict, the keys
        wait for the next try."""
        keys = self.catalog.stale_keys()
        if not keys:
            return 0
        try:
            self.vectors.delete_ids(keys)
        except Exception as e:
            if strict:
                raise
            log.warning("%d stale vectors left in Chroma for later: %s", len(keys), e)
            return 0
        with self.catalog.transaction() as db:
            self.catalog.forget_stale(db, keys)
        return len(keys)

    def _abandon(self, revisions: list[tuple[int, str, int]]) -> None:
        """Undo reserved revisions now rather than at the next start; if Chroma is what failed, they
        stay reserved (invisible) and recover()/doctor finish the job once it is back."""
        try:
            self._drop_reserved(revisions)
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass

    def _drop_reserved(self, revisions: list[tuple[int, str, int]]) -> None:
        if not revisions:
            return
        keys = [k for rev, doc, n in revisions for k in revision_keys(doc, rev, n)]
        if keys:
            self.vectors.delete_ids(keys)
        with self.catalog.transaction() as db:
            for rev, _, _ in revisions:
                self.catalog.forget_revision(db, rev)
        self.recovered["revisions_rolled_back"] += len(revisions)

    # ---- crash recovery and consistency ----
    def recover(self) -> list[str]:
        """Finish what a crash (or a failed store) left: reserved revisions are rolled back, rows of
        the protocol before revisions ('pending', 'deleting') removed, stale vectors dropped. Returns
        the ids of the documents whose unfinished writes were rolled back."""
        with self.writing():
            unfinished = self.catalog.unfinished()
            self._finish(strict=False)  # stale vectors are unseen: a Chroma outage need not stop a start
            return list(dict.fromkeys(doc_id for doc_id, _ in unfinished))

    def _finish(self, strict: bool) -> None:
        """Roll back reserved revisions and legacy rows (Chroma must answer), then drop stale vectors
        (strict: Chroma must answer there too)."""
        legacy = self.catalog.uncommitted_rows()
        if legacy:
            with self.catalog.transaction() as db:
                for doc_id in legacy:
                    self.catalog.retire(db, doc_id)  # their keys join the stale ones
            self.recovered["legacy_rows_rolled_back"] += len(legacy)
        self._drop_reserved(self.catalog.reserved())
        # counted here, where recovery or a repair finds what a crash or an outage left, not after
        # every update and delete
        self.recovered["stale_vectors_dropped"] += self._collect_stale(strict=strict)

    def doctor(self, repair: bool = False) -> dict:
        """Compare the catalog, the lexical index and Chroma, and check the files; with repair, make
        them agree again. A store that cannot be read is a line in `problems`, not a traceback."""
        lock: contextlib.AbstractContextManager[None]
        if repair or self.catalog.read_only is None:
            lock = self.writing()  # refuses a repair on a read-only data dir, with the reason
        else:
            lock = contextlib.nullcontext()  # read-only: nobody can be writing through this data dir
        with lock:
            report = self._examine()
            if repair and not report["consistent"]:
                self._repair(report)
                report["repaired"] = True
            report.pop("_keys")
            report["recovered"] = dict(self.recovered)
            return report

    def _examine(self) -> dict:
        problems: list[str] = []
        catalog_problem = self.catalog.check()
        if catalog_problem:
            problems.append(f"catalog.sqlite: corrupted ({catalog_problem})")
        cache_problem = self.embedder.cache.check()
        if cache_problem:
            problems.append(
                f"embeddings.sqlite: corrupted and skipped ({cache_problem}); --repair sets it aside "
                "and starts an empty cache"
            )
        unfinished = self.catalog.unfinished()
        stale = self.catalog.stale_keys()
        current = self.catalog.current_keys()
        accounted = current | self.catalog.unfinished_keys() | set(stale)  # recover() handles the rest
        store_problem = self.vectors.problem()
        chroma_ids = set() if store_problem else self.vectors.all_ids()
        if store_problem:
            problems.append(f"vector store not checked: {store_problem}")
        missing_vectors = sorted(current - chroma_ids) if not store_problem else []
        orphan_vectors = sorted(chroma_ids - accounted)
        missing_lexical = self.catalog.chunks_missing_lexical()
        orphan_lexical = self.catalog.orphan_lexical_rows()
        # the counts below say how many; these say what it means for answers and what --repair does
        if missing_vectors:
            problems.append(
                f"{len(missing_vectors)} of {len(current)} stored chunks have no vector: dense search misses "
                "them; --repair embeds them again"
            )
        if orphan_vectors and not current:
            problems.append(
                f"the vector store holds {len(orphan_vectors)} vectors and the catalog no chunk: was "
                "catalog.sqlite lost? restore it before --repair, which deletes vectors no chunk owns"
            )
        report = {
            "documents": self.catalog.count()[0],
            "chunks": len(current),
            "vectors": None if store_problem else len(chroma_ids),
            "lexical_rows": self.catalog.lexical_row_count(),
            "unfinished_documents": list(dict.fromkeys(d for d, _ in unfinished)),
            "stale_vectors": len(stale),
            "missing_vectors": len(missing_vectors),
            "orphan_vectors": len(orphan_vectors),
            "documents_missing_lexical": missing_lexical,
            "orphan_lexical_rows": orphan_lexical,
            "embedding_cache": f"corrupted: {cache_problem}" if cache_problem else "ok",
            "problems": problems,
            # 'read_only' or 'full': checked without writing; a repair is refused until it can write.
            # A disk with a few pages free is no "full" disk to the catalog, but Chroma may say it is.
            "data_dir": self.catalog.read_only
            or ("full" if isinstance(self.vectors.last_fault, InsufficientStorage) else "writable"),
            "_keys": (missing_vectors, orphan_vectors, missing_lexical, orphan_lexical, cache_problem),
        }
        report["consistent"] = not (
            unfinished
            or stale
            or missing_vectors
            or orphan_vectors
            or missing_lexical
            or orphan_lexical
            or problems
        )
        return report

    def _repair(self, report: dict) -> None:
        missing_vectors, orphan_vectors, missing_lexical, orphan_lexical, cache_problem = report["_keys"]
        if cache_problem:  # a cache: set aside (kept) and started anew; it fills as text is embedded
            aside = self.embedder.cache.rebuild()
            self.recovered["files_set_aside"] += aside is not None
            log.warning("embedding cache set aside as %s and started anew", aside.name if aside else "-")
        self._finish(strict=True)
        if orphan_vectors:
            self.vectors.delete_ids(orphan_vectors)
            self.recovered["orphan_vectors_dropped"] += len(orphan_vectors)
        if missing_vectors:
            self._reembed(missing_vectors)
            self.recovered["vectors_reembedded"] += len(missing_vectors)
        if missing_lexical or orphan_lexical:
            self.catalog.reindex_lexical(missing_lexical)
            self.recovered["lexical_rows_reindexed"] += len(missing_lexical) + orphan_lexical

    def _reembed(self, keys: list[str]) -> None:
        """Vectors for chunks of current revisions that Chroma lost, with the metadata ingest gives."""
        wanted = set(keys)
        for doc_id in sorted({doc for _, doc, _, _ in self.catalog.visible_chunks(wanted).values()}):
            doc = self.catalog.get(doc_id)
            if doc is None:
                continue
            chunks = [c for c in self.catalog.chunks_of(doc_id) if c.key in wanted]
            vecs = embed_chunks(self.embedder, [(doc.text, chunks)])[0]
            self.vectors.upsert([c.key for c in chunks], vecs, [chunk_metadata(doc, c) for c in chunks])
