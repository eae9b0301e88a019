"""Wiring: one Factdesk object per data dir, shared by the CLI, the API and the evals.

Everything that answers a user goes through these methods, so the three front ends cannot drift.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from answers.engine import AnswerEngine, build_engine
from answers.language import NOT_ENGLISH, reads_as_english
from answers.models import Answer, Summary
from answers.telemetry import Telemetry
from factdesk.settings import Settings
from prompts import PromptSet, load_prompts
from retrieval.bm25 import LexicalIndex
from retrieval.catalogs import open_catalog
from retrieval.embed import build_embedder
from retrieval.errors import CorruptVectors, InsufficientStorage, InvalidInput, NotFound, StoreUnavailable
from retrieval.faults import data_dir_gone, refusal, unwritable
from retrieval.file_ids import FileIds
from retrieval.ingest import (
    Ingestor,
    check_unicode,
    input_fingerprint,
    parse_published,
    parse_until,
    validate_id,
)
from retrieval.loaders import (
    Loaded,
    PageIds,
    is_feed_file,
    keep_validators,
    load_feed_file,
    load_paths,
    load_url,
    names_url,
)
from retrieval.markdown import without_front_matter
from retrieval.models import Document, DocumentIn, IngestResult, SearchHit
from retrieval.search import Filters, SearchConfig, Searcher
from retrieval.sentence_index import SentenceIndex
from retrieval.redact import redact_text
from retrieval.store import VectorStore

log = logging.getLogger("factdesk.service")


@dataclass(frozen=True)
class DocumentPage:
    documents: list[Document]
    next_cursor: str | None  # hand back to get the page after this one; None on the last page


def _invisible_class() -> str:
    """Spaces and the invisible format and control characters (zero-width spaces, a BOM, a bidi
    override, NUL) as a regex class of \\uXXXX ranges, which ECMA 262 (the OpenAPI document's
    patterns) and Python read alike. Only the BMP's: ECMA without its u flag reads a character
    beyond it as two halves, so the few invisible ones there count as text on both sides."""
    chars = [c for c in range(0x10000) if chr(c).isspace() or unicodedata.category(chr(c)) in ("Cf", "Cc")]
    ranges: list[list[int]] = []
    for c in chars:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


# "has something to read": the served schema states it with this pattern, so a request the schema
# calls valid is never refused as empty
NON_BLANK = f"[^{_invisible_class()}]"
_NON_BLANK = re.compile(NON_BLANK)


def blank(text: str) -> bool:
    """Nothing to read: spaces, or invisible format and control characters alone, are as empty as
    spaces."""
    return _NON_BLANK.search(text) is None


def encode_cursor(last_id: str) -> str:
    """A page's cursor: the last id it listed (pages are in id order) and a check of it, opaque to
    clients: a cut or edited cursor is refused, not read as another id to list after."""
    return base64.urlsafe_b64encode(f"{last_id}\n{_cursor_check(last_id)}".encode()).decode().rstrip("=")


def _cursor_check(last_id: str) -> str:
    return hashlib.sha256(f"factdesk cursor\0{last_id}".encode()).hexdigest()[:8]


def decode_cursor(cursor: str) -> str:
    try:
        last_id, check = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("\n")
        if check != _cursor_check(last_id):
            raise ValueError("cursor check")
        return validate_id(last_id)
    except (binascii.Error, UnicodeDecodeError, ValueError, InvalidInput):
        raise InvalidInput("cursor is not one this server handed out (use next_cursor as given)") from None


class Factdesk:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        data_dir = Path(settings.data_dir)
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # not "read-only" (a permission, a file in the way): nothing to read yet
            raise StoreUnavailable(
                f"the data dir {data_dir} cannot be created ({e.strerror}): create it, or set "
                "FACTDESK_DATA_DIR to a folder this user may write"
            ) from None
        self._counted: tuple[tuple[int, int], tuple[int, int]] | None = None  # counts(): (version, counts)
        self.catalog = open_catalog(
            data_dir,
            settings.database_url,
            pool_size=settings.database_pool_size,
            timeout_s=settings.database_timeout_s,
            write_wait_s=settings.database_write_wait_s,
            statement_timeout_s=settings.database_statement_timeout_s,
        )
        # compiled OpenVINO models (the embedder's, the reader's), kept for the next process
        self.model_cache_dir = data_dir / "model-cache"
        self.embedder = build_embedder(
            settings.embedder,
            cache_path=data_dir / "embeddings.sqlite",
            precision=settings.embed_precision,
            batch_size=settings.embed_batch_size,
            threads=settings.torch_threads,
            query_encoder=settings.query_encoder,
            bulk_encoder=settings.bulk_encoder,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            model_cache_dir=self.model_cache_dir,
            tuned=settings.embedder_weights,
        )
        self.vectors = VectorStore(
            data_dir=data_dir,
            chroma_url=settings.chroma_url,
            collection=settings.collection,
            space=self.embedder.name,
        )
        self.ingestor = Ingestor(
            self.catalog,
            self.vectors,
            self.embedder,
            data_dir=data_dir,
            max_tokens=settings.chunk_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
            max_chars=settings.max_document_chars,
            near_duplicate_threshold=settings.near_duplicate_threshold,
        )
        search_config = SearchConfig(
            use_dense=settings.search_mode != "lexical", use_lexical=settings.search_mode != "dense"
        )
        self.searcher = Searcher(
            self.catalog,
            self.vectors,
            self.embedder,
            search_config,
            lexical_index=LexicalIndex(self.catalog, data_dir / "lexical-index.npz"),
            sentence_index=SentenceIndex(
                self.catalog,
                self.embedder,
                search_config.sentence_index_chunks,
                data_dir / "sentence-index.npz",
            ),
        )
        self.prompts: PromptSet = load_prompts(settings.prompts_dir)
        self.telemetry = Telemetry()  # the engines' stage times, tokens and fallbacks (/metrics)
        self.engine: AnswerEngine = build_engine(self, settings, self.prompts)
        # why answers may miss articles right now (the server's start-up ingest still running): said
        # in each answer's and summary's warnings; None when nothing is pending
        self.incomplete: Callable[[], str | None] = lambda: None
        # a crash may have left a reserved revision, or stale vectors of a replaced one; a vector store
        # that cannot answer now must not stop a start (the server retries: retry_recovery)
        self.recovered: list[str] = []
        self.recovery_problem: str | None = None
        self.retry_recovery()

    def retry_recovery(self) -> bool:
        """Finish what a crash left unfinished (Ingestor.recover). False while it cannot, with the
        reason in `recovery_problem`; readers never see unfinished writes, so they answer meanwhile."""
        if not (self.catalog.unfinished() or self.catalog.stale_keys()):
            self.recovery_problem = None
            return True
        if self.catalog.read_only is not None:
            self.recovery_problem = "unfinished writes wait for a writable data dir"
            return False
        try:
            self.recovered += self.ingestor.recover()
        except (StoreUnavailable, InsufficientStorage, CorruptVectors) as e:
            self.recovery_problem = f"recovery of unfinished writes is waiting: {e.message}"
            log.warning("%s", self.recovery_problem)
            return False
        self.recovery_problem = None
        log.info("recovered unfinished writes: %s", json.dumps(self.ingestor.recovered))
        return True

    def readiness(self) -> tuple[list[str], list[str]]:
        """(problems, degraded): what keeps this service from answering (for /readyz: 503), and
        what it answers without (a read-only data dir: writes refused, dense search off; an LLM
        endpoint whose latest call failed). Redacted."""
        problems: list[str] = []
        degraded: list[str] = []
        data_dir = Path(self.settings.data_dir)
        if not data_dir.is_dir():  # deleted under the server: its files are gone
            problems.append(data_dir_gone(data_dir).message)
        catalog_down = self.catalog.unavailable()
        if catalog_down:
            problems.append(catalog_down)
        if self.catalog.problem:
            problems.append(f"catalog.sqlite is corrupted ({self.catalog.problem}): run `factdesk doctor`")
        if (embedder := self.embedder.problem()) is not None:
            problems.append(embedder)
        if self.embedder.cache.problem:
            problems.append(
                f"embeddings.sqlite is corrupted ({self.embedder.cache.problem}): answers skip the cache; "
                "`factdesk doctor --repair` rebuilds it"
            )
        store = None
        if not self.vectors.ping():
            store = self.vectors.last_problem or f"the {self.vectors.mode} vector store is unreachable"
        if store and self.catalog.read_only is not None and not self.vectors.chroma_url:
            degraded.append(f"dense search is off: {store}")
        elif store:
            problems.append(store)
        elif not problems and (chunks := self.counts()[1]) > self.vectors.last_count:
            # every write stores a chunk's vector before the catalog shows the chunk, and deletes it
            # after: fewer vectors than chunks are lost ones (a collection deleted or reset)
            degraded.append(
                f"the vector store holds {self.vectors.last_count} vectors for {chunks} stored chunks: "
                "dense search misses the rest until `factdesk doctor --repair` restores them"
            )
        if self.catalog.read_only is not None:
            degraded.append(refusal(self.catalog.read_only, "the data dir").message)
        elif not self.settings.database_url and data_dir.is_dir() and (since := unwritable(data_dir)):
            degraded.append(refusal(since, "the data dir").message)  # it became so while serving
        if self.recovery_problem:
            (degraded if self.catalog.read_only else problems).append(self.recovery_problem)
        degraded += self.engine.degraded()  # answers still come, extractive: not a reason to leave rotation
        return [redact_text(p, paths=True) for p in problems], [redact_text(d, paths=True) for d in degraded]

    def counts(self) -> tuple[int, int]:
        """(documents, chunks) committed, counted again only when a commit may have changed them (the
        catalog's version moved): /readyz probes and /metrics scrapes ask every few seconds."""
        version = self.catalog.version()
        if self._counted is None or self._counted[0] != version:
            self._counted = (version, self.catalog.count())
        return self._counted[1]

    def recovery_counts(self) -> dict[str, int]:
        """What recovery and repair finished since this process started (/healthz, doctor)."""
        return dict(self.ingestor.recovered)

    def close(self) -> None:
        self.catalog.close()
        self.embedder.cache.close()

    # ---- documents ----
    def ingest_documents(
        self, items: Iterable[DocumentIn], progress: Callable[[IngestResult], None] | None = None
    ) -> list[IngestResult]:
        return self.ingestor.ingest(map(without_front_matter, items), progress)

    def ingest_paths(
        self,
        paths: list[Path],
        progress: Callable[[IngestResult], None] | None = None,
        changed_only: bool = False,
    ) -> list[IngestResult]:
        """changed_only (`serve`'s start): a file that holds what it held when it was last stored in
        this archive is not read again, so a document edited or deleted through the API since stays
        as it is; a file that changed, or is new, is ingested."""
        results: list[IngestResult] = []
        catalog = self.catalog.identity()
        with self._file_ids() as ids:
            # (file, stem, fingerprint) and id per document, in order
            named: list[tuple[tuple[Path, str, str] | None, str | None]] = []
            replaces: dict[str, str] = {}  # id -> the other file it was given to before

            def documents() -> Iterator[DocumentIn]:
                for loaded in load_paths(paths, self.settings.max_file_bytes, ids):
                    read = file_read(loaded)
                    if loaded.document is None:
                        r = IngestResult(id=loaded.label, status=f"rejected: {loaded.error}")
                    elif changed_only and ids and read and ids.read_before(read[0], read[2], catalog):
                        r = self._read_before(loaded.document.id or loaded.label)
                    else:
                        named.append((read, loaded.document.id))
                        if read and ids and (other := ids.other_file(read[1], read[0])):
                            replaces[read[1]] = other
                        yield loaded.document
                        continue
                    results.append(r)
                    if progress:
                        progress(r)

            def told(r: IngestResult) -> IngestResult:
                """An update from another file of the same name says so: by the id rule it is the same
                article's new version, but an unrelated story of a common name would be lost unseen."""
                if not (r.status == "updated" or r.status.startswith("duplicate of")) or r.id not in replaces:
                    return r
                note = f"replaced the text from {replaces[r.id]} (another file of this name)"
                return replace(r, warnings=(*r.warnings, note))

            landed = [
                told(r) for r in self.ingestor.ingest(documents(), progress and (lambda r: progress(told(r))))
            ]
            results.extend(landed)
            if ids is not None:  # a file whose text is stored under another id (renamed) has none yet
                ids.remember(
                    (file for (file, doc_id), r in zip(named, landed) if file and stored_as(r, doc_id)),
                    catalog,
                )
        return results

    def _read_before(self, doc_id: str) -> IngestResult:
        """A file as it was when last stored (ingest_paths' changed_only): its document is left as the
        archive holds it now."""
        stored = self.catalog.heading(doc_id)
        if stored is None:
            return IngestResult(
                id=doc_id,
                status="unchanged",
                warnings=(
                    "not stored again: deleted since the file was last ingested (ingest the file by hand, "
                    "or change it, to bring it back)",
                ),
            )
        title, source, chunks = stored
        return IngestResult(id=doc_id, status="unchanged", chunks=chunks, title=title, source=source)

    @contextmanager
    def _file_ids(self) -> Iterator[FileIds | None]:
        """The ids files were given in earlier calls; None where the data dir cannot hold them (read
        only: the ingest then refuses on its own)."""
        try:
            ids = FileIds(Path(self.settings.data_dir) / "file-ids.sqlite", self.catalog.get)
        except sqlite3.Error:
            yield None
            return
        try:
            yield ids
        finally:
            ids.close()

    def ingest_sources(
        self, sources: list[str], progress: Callable[[IngestResult], None] | None = None
    ) -> list[IngestResult]:
        """Files, folders and http(s) URLs (feeds or article pages), and feeds saved to files, in the
        order given. A URL that fails, or one item of a feed, is its own `rejected` result; the rest
        goes on."""
        from retrieval.fetch import Fetcher, ValidatorStore

        feeds = {source for source in sources if not names_url(source) and is_feed_file(Path(source))}
        if not feeds and not any(names_url(source) for source in sources):
            # files only: nothing to fetch, so no fetch state to open (a read-only data dir still
            # gets the ingestor's own one-line refusal)
            return self.ingest_paths([Path(source) for source in sources], progress)
        s = self.settings
        fetcher = Fetcher(
            timeout_s=s.fetch_timeout_s,
            max_bytes=s.fetch_max_bytes,
            max_redirects=s.fetch_max_redirects,
            user_agent=s.fetch_user_agent,
            any_address=s.fetch_any_address,
        )
        cache = ValidatorStore(Path(s.data_dir) / "fetch.sqlite")
        results: list[IngestResult] = []
        fetched: dict[str, Loaded] = {}  # document id -> the page it came from, until it lands

        with self._file_ids() as ids:
            named: dict[str, tuple[Path, str, str]] = {}  # document id -> its file_read, until it lands

            def loaded_items() -> Iterator[Loaded]:
                pages = PageIds(self.catalog.get)
                for source in sources:
                    if names_url(source):
                        yield from load_url(source, fetcher, cache, pages)
                    elif source in feeds:
                        yield from load_feed_file(Path(source), s.max_file_bytes, fetcher, cache, pages)
                    else:
                        yield from load_paths([Path(source)], s.max_file_bytes, ids)

            def documents() -> Iterator[DocumentIn]:
                for loaded in loaded_items():
                    if loaded.unchanged is not None:
                        r = self._unchanged(loaded.unchanged)
                    elif loaded.document is None:
                        r = IngestResult(id=loaded.label, status=f"rejected: {loaded.error}")
                    else:
                        if loaded.validators is not None and loaded.document.id:
                            fetched[loaded.document.id] = loaded
                        if (read := file_read(loaded)) is not None and loaded.document.id:
                            named[loaded.document.id] = read
                        yield loaded.document
                        continue
                    results.append(r)
                    if progress:
                        progress(r)

            def landed(r: IngestResult) -> None:
                page = fetched.pop(r.id, None)
                if page is not None and r.status.startswith("rejected"):
                    r = replace(r, id=page.label)  # the URL says which item failed better than its slug
                elif page is not None:
                    keep_validators(cache, page)  # only now: a page that did not land is fetched whole again
                file = named.pop(r.id, None)
                if file is not None and ids is not None and stored_as(r, r.id):
                    ids.remember([file], self.catalog.identity())
                results.append(r)
                if progress:
                    progress(r)

            try:
                self.ingestor.ingest(documents(), landed)
            finally:
                fetcher.close()
                cache.close()
        return results

    def _unchanged(self, doc_id: str) -> IngestResult:
        doc = self.catalog.get(doc_id)
        return IngestResult(
            id=doc_id,
            status="unchanged",
            chunks=doc.chunks if doc else 0,
            title=doc.title if doc else None,
            source=doc.source if doc else None,
        )

    def list_documents(self) -> list[Document]:
        """Every document, in id order."""
        return self.catalog.list()

    def document_page(self, limit: int | None = None, cursor: str | None = None) -> DocumentPage:
        """Documents in id order, `limit` at a time from where `cursor` (a page's next_cursor) left off."""
        n = self.settings.documents_page_size if limit is None else limit
        if not 1 <= n <= self.settings.documents_max_page_size:
            raise InvalidInput(f"limit must be between 1 and {self.settings.documents_max_page_size}")
        docs = self.catalog.list(limit=n + 1, after=decode_cursor(cursor) if cursor else None)
        return DocumentPage(docs[:n], encode_cursor(docs[n - 1].id) if len(docs) > n else None)

    def get_document(self, doc_id: str) -> Document:
        doc = self.catalog.get(doc_id)
        if doc is None:
            raise NotFound(f"no document with id {doc_id!r}")
        return doc

    def delete_document(self, doc_id: str) -> None:
        self.ingestor.delete(doc_id)

    # ---- retrieval and answers ----
    def filters(
        self,
        document_ids: list[str] | None = None,
        sources: list[str] | None = None,
        published_after: str | None = None,
        published_before: str | None = None,
    ) -> Filters:
        if document_ids is not None:
            self._check_known(document_ids)
        after, before = parse_published(published_after), parse_until(published_before)
        return Filters(
            document_ids=tuple(document_ids) if document_ids is not None else None,
            sources=tuple(sources) if sources is not None else None,
            published_after=after,
            published_before=before,
        )

    def _check_known(self, document_ids: list[str]) -> None:
        """NotFound for an id no stored document has, in one catalog query: a typo'd or deleted id is
        said as such, rather than answered "the articles do not cover this" from an empty selection."""
        for d in document_ids:
            validate_id(d)
        known = self.catalog.titles(document_ids)
        missing = next((d for d in document_ids if d not in known), None)
        if missing is not None:
            raise NotFound(f"no document with id {missing!r}")

    def check_top_k(self, top_k: int | None) -> int:
        k = self.settings.default_top_k if top_k is None else top_k
        if not 1 <= k <= self.settings.max_top_k:
            raise InvalidInput(f"top_k must be between 1 and {self.settings.max_top_k}")
        return k

    def check_text(self, text: str, what: str = "question") -> str:
        if not isinstance(text, str) or blank(text):
            raise InvalidInput(f"{what} is empty")
        if len(text) > self.settings.max_question_chars:
            raise InvalidInput(f"{what} is longer than {self.settings.max_question_chars} characters")
        return check_unicode(text, what).strip()

    def search(self, query: str, top_k: int | None = None, filters: Filters | None = None) -> list[SearchHit]:
        return self.searcher.search(self.check_text(query, "query"), self.check_top_k(top_k), filters)

    def ask(
        self,
        question: str,
        top_k: int | None = None,
        filters: Filters | None = None,
        history: list[str] | None = None,
    ) -> Answer:
        question = self.check_text(question)
        answer = self.engine.ask(
            question, top_k=self.check_top_k(top_k), filters=filters, history=history or []
        )
        answer.warnings += self.answer_notices(question, answer.abstained, filters)
        return answer

    def ask_stream(
        self,
        question: str,
        top_k: int | None = None,
        filters: Filters | None = None,
        history: list[str] | None = None,
    ) -> Iterator[dict]:
        """Events: {"delta": str} pieces, then {"done": True, **answer}. With a model, an empty delta
        comes first, once retrieval is done and the model is being asked."""
        question = self.check_text(question)
        events = self.engine.ask_stream(
            question, top_k=self.check_top_k(top_k), filters=filters, history=history or []
        )
        return self._with_notices(question, events, filters)

    def _with_notices(self, question: str, events: Iterator[dict], filters: Filters | None) -> Iterator[dict]:
        for event in events:
            if event.get("done") and (
                notices := self.answer_notices(question, event.get("abstained", False), filters)
            ):
                event = {**event, "warnings": [*event.get("warnings", []), *notices]}
            yield event

    def answer_notices(self, question: str, abstained: bool, filters: Filters | None = None) -> list[str]:
        """An answer's notices: the startup ingest's while it is pending; for a declined question,
        that the archive is empty when it is (a mistyped data dir, an ingest not run yet: the decline
        is not about the articles), or that the filters keep no document, and, when it does not read
        as English, that questions are read in English."""
        notices = [n for n in [self.incomplete()] if n is not None]
        if abstained and self.is_empty():
            notices.append(EMPTY_ARCHIVE)
        elif abstained and filters is not None and (notice := self.filters_notice(filters)) is not None:
            notices.append(notice)
        if abstained and not reads_as_english(question):
            notices.append(NOT_ENGLISH)
        return notices

    def filters_notice(self, filters: Filters) -> str | None:
        """Why a declined question's filters may be the reason: they keep no stored document (a date
        range keeps only documents with a published_at, which files without a date lack)."""
        if filters == Filters() or self.catalog.filtered_ids(*filters.sql("?")):
            return None
        notice = "no stored document matches the filters"
        if filters.published_after is not None or filters.published_before is not None:
            undated = self.catalog.filtered_ids("AND d.published_ts IS NULL", [])
            if undated:
                notice += (
                    f"; a date filter keeps only dated documents, and {len(undated)} of "
                    f"{self.catalog.count()[0]} have no published_at"
                )
        return notice

    def is_empty(self) -> bool:
        """Whether the archive holds no document."""
        return not self.catalog.list(limit=1)

    def summarize(
        self, document_ids: list[str] | None = None, query: str | None = None, max_words: int | None = None
    ) -> Summary:
        if document_ids:
            self._check_known(document_ids)
        if query is not None:
            query = self.check_text(query, "query")
        mw = self.settings.summary_max_words if max_words is None else max_words
        if not 10 <= mw <= 2000:
            raise InvalidInput("max_words must be between 10 and 2000")
        summary = self.engine.summarize(document_ids=document_ids, query=query, max_words=mw)
        if (notice := self.incomplete()) is not None:
            summary.warnings.append(notice)
        if not summary.citations and self.is_empty():
            summary.warnings.append(EMPTY_ARCHIVE)
        return summary


def file_read(loaded: Loaded) -> tuple[Path, str, str] | None:
    """A file's document as file_ids keeps it: (file, stem, input fingerprint); None for others."""
    if loaded.named is None or loaded.document is None:
        return None
    return (*loaded.named, input_fingerprint(loaded.document))


EMPTY_ARCHIVE = (
    "the archive holds no documents: ingest articles first (`factdesk ingest PATH`, POST /v1/documents, "
    "or `factdesk serve`, which ingests FACTDESK_ARTICLES_DIR), or check FACTDESK_DATA_DIR"
)


def stored_as(result: IngestResult, doc_id: str | None) -> bool:
    """Whether the result is its document stored under doc_id (not refused, not another's text)."""
    return result.id == doc_id and not result.status.startswith("rejected")
