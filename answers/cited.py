"""The model's sentences checked against the passages they cite, then numbered for the reader.

A citation counts only if its quote occurs inside the passage it names; found, it becomes exact
offsets into the cleaned document, so a citation's quote is always document.text[start:end], never
the model's copy. A sentence left without a verified citation is dropped. Pure functions.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass

from answers.models import Citation, CitationNumbers
from answers.passages import Passage, passage_sentences
from answers.verify import locate_quote, strip_citation_marks, unsupported_markup, unsupported_numbers
from retrieval.lexical import stems
from retrieval.dedup import text_hash
from retrieval.sentences import split_sentences

# a shorter "quote" matches almost any passage, or is a photo credit ("[Ana Reyes/AFP]") or a
# dateline, and supports nothing: the offline engine's bar for a candidate sentence too
MIN_QUOTE_WORDS = 4


def _passage_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*\[?\s*(?:passage\s*)?(\d+)\s*\]?\s*", value, re.IGNORECASE)
        return int(m.group(1)) if m else None
    return None


@dataclass(frozen=True)
class Span:
    passage: Passage
    start: int
    end: int

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.passage.document_id, self.start, self.end)


@dataclass(frozen=True)
class Cited:
    """A sentence of the model's that survived verification, with its verified spans."""

    text: str
    spans: tuple[Span, ...]


def sentence_spans(passages: list[Passage]) -> dict[str, Span]:
    """Each rendered sentence id to its span: citing an id cites that sentence's exact text."""
    return {i: Span(p, a, b) for p in passages for i, a, b in passage_sentences(p)}


def verify_sentence(
    raw: object, passages: Mapping[int, Passage], sentences: Mapping[str, Span] | None = None
) -> Cited | None:
    """The sentence with its verified citations, or None when nothing it cites checks out.

    A citation is a sentence id that was given (`sentences`: its span is that sentence), or a
    (passage, quote) pair whose quote occurs inside the passage it names. The sentence must also be
    about each quote it keeps (a shared content word) and state no figure that those quotes lack (the
    quotes are what a reader checks it against, not the rest of their passages), so a real citation
    cannot lend support to an unrelated claim, nor hold a link or markup those quotes lack. A question (the model repeating the one asked) states
    nothing. Character references the model copied from the prompt's escaped titles ("&#x27;") are
    read as the characters they stand for.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        return None
    text = html.unescape(strip_citation_marks(raw["text"]))
    citations = raw.get("citations")
    if not text or not isinstance(citations, list) or text.rstrip().endswith("?"):
        return None
    spans: list[Span] = []
    for c in citations:
        span = _cited_span(c, passages, sentences or {})
        if span is not None and all(s.key != span.key for s in spans):
            spans.append(span)
    # a citation that shares no content word with the sentence supports nothing in it: left off,
    # so that a real citation cannot lend its marker to an unrelated claim
    own = stems(text)
    spans = [s for s in spans if not own or own & stems(s.passage.doc_text[s.start : s.end])]
    if not spans:
        return None
    evidence = " ".join(s.passage.doc_text[s.start : s.end] for s in spans)
    if unsupported_numbers(text, evidence) or unsupported_markup(text, evidence):
        return None
    return Cited(text, tuple(spans))


def _cited_span(c: object, passages: Mapping[int, Passage], sentences: Mapping[str, Span]) -> Span | None:
    if isinstance(c, str):  # a sentence id, as "2.3" or "[2.3]"
        span = sentences.get(c.strip().strip("[]").strip())
        if span is None:
            return None
        text = span.passage.doc_text[span.start : span.end]
        return span if len(text.split()) >= MIN_QUOTE_WORDS else None
    if not isinstance(c, dict):
        return None
    p = passages.get(_passage_number(c.get("passage")) or 0)
    quote = c.get("quote")
    if p is None or not isinstance(quote, str) or len(quote.split()) < MIN_QUOTE_WORDS:
        return None
    found = locate_quote(quote.replace("&lt;", "<"), p.doc_text, p.start, p.end)
    return Span(p, *found) if found else None


def verify_sentences(
    raws: list, passages: Mapping[int, Passage], sentences: Mapping[str, Span] | None = None
) -> tuple[list[Cited], int]:
    """(verified sentences in order, how many were dropped)."""
    verified = [c for c in (verify_sentence(r, passages, sentences) for r in raws) if c is not None]
    kept = [c for i, c in enumerate(verified) if all(c.text != v.text for v in verified[:i])]  # said once
    return kept, len(raws) - len(verified)


def dropped_warnings(n: int) -> list[str]:
    return ["dropped an unsupported sentence"] * n


def words_of(c: Cited) -> int:
    return len(c.text.split()) + 1  # + its markers, which read as one more word


def trim_to_words(cited: list[Cited], max_words: int) -> list[Cited]:
    """Whole sentences, in order, within max_words (a sentence that would overflow is left out)."""
    out, used = [], 0
    for c in cited:
        if used + words_of(c) <= max_words:
            out.append(c)
            used += words_of(c)
    return out


class Assembler:
    """Numbers citations 1..M in reading order (a span cited twice keeps its marker)."""

    def __init__(self) -> None:
        self._numbers = CitationNumbers()

    @property
    def citations(self) -> list[Citation]:
        return self._numbers.citations

    def markers(self, c: Cited) -> str:
        out: list[str] = []
        for s in c.spans:
            p = s.passage
            quote = p.doc_text[s.start : s.end]
            n = self._numbers.number(
                p.document_id, p.chunk_id, p.title, quote, s.start, s.end, text_hash(p.doc_text)
            )
            if f"[{n}]" not in out:
                out.append(f"[{n}]")
        return "".join(out)


def assemble(cited: list[Cited]) -> tuple[str, list[Citation]]:
    a = Assembler()
    text = " ".join(f"{c.text} {a.markers(c)}" for c in cited)
    return text, a.citations


def evidence_passages(cited: list[Cited]) -> list[Passage]:
    """The sentences around each verified quote, as passages over the original documents (reduce step)."""
    out: list[Passage] = []
    seen: set[tuple[str, int, int]] = set()
    for c in cited:
        for s in c.spans:
            p = s.passage
            around = [
                x for x in split_sentences(p.doc_text, p.start, p.end) if x.start < s.end and x.end > s.start
            ]
            a, b = (around[0].start, around[-1].end) if around else (s.start, s.end)
            a, b = min(a, s.start), max(b, s.end)
            if (p.document_id, a, b) not in seen:
                seen.add((p.document_id, a, b))
                out.append(Passage(len(out) + 1, p.document_id, p.chunk_id, p.title, a, b, p.doc_text))
    return out
