"""Sentence splitting with character offsets into the text (pure).

Shared by chunking, the extractive engine and summaries, so a sentence is the same span everywhere.
"""

from __future__ import annotations

import re
from functools import lru_cache

from retrieval.models import Span

# Words that end with a period without ending a sentence ("Jan. 3", "Rep. Hale", "Gen. Ortiz").
ABBREVIATIONS = frozenset(
    """
mr mrs ms dr prof sr jr st mt rev gen lt col maj capt cpt sgt cmdr adm gov sen rep pres amb sec
supt insp det no nos vol fig pp p jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues
wed thu thur thurs fri sat sun inc corp ltd co bros dept univ assn est approx vs etc al e.g i.e
cf ca op ft km mi
""".split()
)

# A terminator run, closing quotes/brackets glued to it, then whitespace (Arabic's question mark and
# full stop, the Devanagari danda among them); or a CJK full stop, question or exclamation mark, which
# needs no space after it.
# A match starts only where a run starts, and takes the run whole (possessive): tried at each dot of
# "........" and given back one dot at a time, a run with no space after it cost quadratic time.
_CANDIDATE = re.compile(r"(?<![.!?…؟۔।])[.!?…؟۔।]++[\"'”“»’)\]]*+(?=\s)|[。！？]+[」』）\"”’]*")
_OPENERS = "\"'“„«‘([「『（"
_LEADING_JUNK = " \t\u00a0.,;:-–—|•*"


def _word_before(text: str, end: int) -> str:
    """The word that ends at `end` (exclusive), without leading quotes or brackets."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:end].lstrip(_OPENERS)


def _is_abbreviation(word: str) -> bool:
    w = word.rstrip(".").lower()
    if not w:
        return False
    if w in ABBREVIATIONS:
        return True
    # single initials ("N. Dakota", "J. Smith") and dotted acronyms ("U.S.", "U.N.")
    return bool(re.fullmatch(r"[a-z]", w) or re.fullmatch(r"(?:[a-z]\.)+[a-z]", w))


def _starts_sentence(ch: str) -> bool:
    """Whether a sentence can start with ch: a capital, a figure, an opening quote, or a letter of a
    script without capitals (Arabic, Hebrew, Chinese, Thai...), where no case tells."""
    return ch.isupper() or ch.isdigit() or ch in _OPENERS or (ch.isalpha() and not ch.islower())


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while True:
        while start < end and text[start].isspace():
            start += 1
        # a bullet or rule ("- ", "• ", "---") is dropped; a glued sign or dot ("-5", ".NET") is text
        junk = start
        while junk < end and text[junk] in _LEADING_JUNK and not text[junk].isspace():
            junk += 1
        if junk == start or (junk < end and not text[junk].isspace()):
            break
        start = junk
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# Longer than this, a "sentence" is a run-on (a page's text with no stops, a table flattened into one
# line) and is cut into pieces, so that a citation quotes the part that holds the fact, not the whole
# run. Well above news prose: no sentence of the seed, written-news or wire articles comes near it.
MAX_SENTENCE_CHARS = 600
# Where a run-on is cut, best first: after a clause's punctuation, then at a space.
_CLAUSE_END = re.compile(r"[;:,)\]]\s|\s[–—-]\s")


def _bounded(text: str, start: int, end: int) -> list[Span]:
    """text[start:end] (one trimmed sentence) as pieces of at most MAX_SENTENCE_CHARS: each cut at the
    last clause end in the second half of the window, else at its last space, else (a script written
    without spaces, a long token) at the window's end."""
    pieces: list[Span] = []
    while end - start > MAX_SENTENCE_CHARS:
        limit = start + MAX_SENTENCE_CHARS
        half = start + MAX_SENTENCE_CHARS // 2
        cut = max((m.start() + 1 for m in _CLAUSE_END.finditer(text, half, limit + 1)), default=-1)
        if cut == -1:
            cut = text.rfind(" ", half, limit + 1)
        if cut == -1:
            cut = limit
        s, e = _trim(text, start, cut)
        if e > s:
            pieces.append(Span(s, e))
        start, end = _trim(text, cut, end)
    if end > start:
        pieces.append(Span(start, end))
    return pieces


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentences of text[start:end] as spans of `text`; line breaks always end a sentence, and a run-on
    longer than MAX_SENTENCE_CHARS is cut into pieces."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    line_start = start
    while line_start < end:
        nl = text.find("\n", line_start, end)
        line_end = end if nl == -1 else nl
        seg_start = line_start
        for m in _CANDIDATE.finditer(text, line_start, line_end):
            boundary = m.end()
            nxt = boundary
            while nxt < line_end and text[nxt].isspace():
                nxt += 1
            if nxt >= line_end or not _starts_sentence(text[nxt]):
                continue
            punct = text[m.start() : m.end()].rstrip("\"'”“»’)]")
            if punct == "." and _is_abbreviation(_word_before(text, m.start() + 1)):
                continue
            s, e = _trim(text, seg_start, boundary)
            if e > s:
                spans.extend(_bounded(text, s, e))
            seg_start = boundary
        s, e = _trim(text, seg_start, line_end)
        if e > s:
            spans.extend(_bounded(text, s, e))
        line_start = line_end + 1
    return spans


def sentence_texts(text: str, start: int, end: int) -> list[str]:
    """The sentences of text[start:end] (a chunk), or the chunk whole if it has none. Ingest embeds
    exactly these, so search's re-ranker and the answer engine find them all in the vector cache."""
    return [text[s.start : s.end] for s in split_sentences(text, start, end)] or [text[start:end]]


_HEADING_MARKS = re.compile(r"^#{1,6}\s+")


def heading_text(line: str) -> str:
    """A line without the Markdown heading marks it may open with ("# Ferry cancelled")."""
    return _HEADING_MARKS.sub("", line) or line


def is_headline(sentence: str, title: str) -> bool:
    """The article's headline repeated in its text: a label for the story, whose facts the body
    states in full sentences with their sources. (A title cut short with an ellipsis is not matched:
    such a title is usually a stand-in made from the text's first sentence, which is body, not label.)
    A sentence that is the whole text (`whole_text`) is its body whatever the title (an untitled
    one-line article is titled by that line): callers that have the text ask that too."""
    return " ".join(heading_text(sentence).casefold().split()) == " ".join(title.casefold().split())


_VISIBLE = re.compile(r"\S")


def whole_text(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is all of text but its whitespace, found without reading the rest
    (asked for every candidate sentence: normalising a 2,000,000-character text each time was not)."""
    return _VISIBLE.search(text, 0, start) is None and _VISIBLE.search(text, end) is None


MAX_QUOTE_SENTENCES = 4  # a longer quotation is cited sentence by sentence, as before
MAX_QUOTE_CHARS = 700


def _inside_quote(text: str, start: int, end: int, inside: bool) -> bool:
    """Whether a double quotation is open after text[start:end], given whether one was at start."""
    for ch in text[start:end]:
        if ch in "“«":
            inside = True
        elif ch in "”»":
            inside = False
        elif ch == '"':
            inside = not inside
    return inside


def quotation(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentences of a direct quotation that text[start:end] (one sentence) is part of, from the one
    that opens it to the one that closes it, so that a quoted sentence is never cited without its
    speaker or as the article's own voice. The span itself when it opens and closes no quotation,
    when the quotation is not closed within its paragraph (one quoted over several paragraphs), or
    when it runs past MAX_QUOTE_SENTENCES or MAX_QUOTE_CHARS."""
    lo = text.rfind("\n", 0, start) + 1
    hi = text.find("\n", end)
    hi = len(text) if hi == -1 else hi
    return _line_quotations(text, lo, hi).get((start, end), (start, end))


@lru_cache(maxsize=64)
def _line_quotations(text: str, lo: int, hi: int) -> dict[tuple[int, int], tuple[int, int]]:
    """{(start, end) of each sentence of the line text[lo:hi]: its `quotation`}: a line is split
    once, however many of its sentences are asked of (a long article's is read sentence by sentence
    for what a person said)."""
    spans = split_sentences(text, lo, hi)
    return {(s.start, s.end): q for s, q in zip(spans, _quotations(text, lo, spans))}


def quoted_sentences(text: str) -> list[tuple[Span, tuple[int, int]]]:
    """Every sentence of text (split_sentences) with its `quotation`, each paragraph read once: a
    summary of a long article asks for them all, and asked one by one, each re-read its paragraph."""
    out: list[tuple[Span, tuple[int, int]]] = []
    lo = 0
    while lo <= len(text):
        hi = text.find("\n", lo)
        hi = len(text) if hi == -1 else hi
        spans = split_sentences(text, lo, hi)
        out.extend(zip(spans, _quotations(text, lo, spans)))
        lo = hi + 1
    return out


def _quotations(text: str, lo: int, spans: list[Span]) -> list[tuple[int, int]]:
    """`quotation` of each of a paragraph's sentences (spans, from split_sentences of its line, which
    starts at lo), in one pass each way."""
    states = [False]  # whether a quotation is open at each sentence's start, then after the last
    pos = lo
    for s in spans:
        states[-1] = _inside_quote(text, pos, s.start, states[-1])
        states.append(_inside_quote(text, s.start, s.end, states[-1]))
        pos = s.end
    k = len(spans)
    # the quotation a sentence is part of runs back to the nearest sentence that starts outside one,
    # and on to the nearest after which none is open
    first, opened = [0] * k, 0
    for i in range(k):
        opened = i if not states[i] else opened
        first[i] = opened
    last, closed = [k - 1] * k, k - 1
    for i in reversed(range(k)):
        closed = i if not states[i + 1] else closed
        last[i] = closed
    out = []
    for i, s in enumerate(spans):
        f, g = first[i], last[i]
        a, b = spans[f].start, spans[g].end
        unclosed = states[f] or states[g + 1]
        too_long = g - f + 1 > MAX_QUOTE_SENTENCES or b - a > MAX_QUOTE_CHARS
        out.append((s.start, s.end) if unclosed or too_long else (a, b))
    return out
