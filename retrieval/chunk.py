"""Token-aware, sentence-aligned chunking with overlap (pure).

Chunks are spans of the cleaned text; a chunk's text is always text[start:end].
"""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.sentences import split_sentences
from retrieval.tokens import encoding


@dataclass(frozen=True)
class ChunkSpan:
    start: int
    end: int
    tokens: int


def _split_long(text: str, start: int, end: int, max_tokens: int) -> list[ChunkSpan]:
    """Cut one over-long sentence at word boundaries into pieces of at most max_tokens."""
    enc = encoding()
    pieces: list[ChunkSpan] = []
    pos = start
    while pos < end:
        # a window of the rest, widened until it holds twice the tokens a piece takes (or is the
        # rest): encoding the whole rest for each piece made a long run-on cost quadratic time
        window = 8 * max_tokens
        while True:
            stop = min(end, pos + window)
            ids = enc.encode_ordinary(text[pos:stop])
            if stop == end or len(ids) >= 2 * max_tokens:
                break
            window *= 2
        if stop == end and len(ids) <= max_tokens:
            pieces.append(ChunkSpan(pos, end, len(ids)))
            break
        # decoded prefix of max_tokens tokens; byte-level tokens may split a character, so fall back
        prefix = enc.decode(ids[:max_tokens], errors="ignore")
        cut = pos + len(prefix)
        while cut > pos and cut < end and text[cut - 1] != "\ufffd" and not text[cut].isspace():
            cut -= 1
        if cut <= pos:  # one giant "word": cut inside it
            cut = pos + max(1, len(prefix))
        piece_end = cut
        while piece_end > pos and text[piece_end - 1].isspace():
            piece_end -= 1
        if piece_end > pos:
            pieces.append(ChunkSpan(pos, piece_end, len(enc.encode_ordinary(text[pos:piece_end]))))
        pos = cut
        while pos < end and text[pos].isspace():
            pos += 1
    return pieces


def chunk_text(text: str, max_tokens: int = 160, overlap_tokens: int = 40) -> list[ChunkSpan]:
    """Pack whole sentences into chunks of at most max_tokens, repeating up to overlap_tokens of
    trailing sentences at the start of the next chunk so a fact cut by a boundary stays whole."""
    enc = encoding()

    def count(start: int, end: int) -> int:
        return len(enc.encode_ordinary(text[start:end]))

    # bullets and rules that sentence trimming drops ("- ", "---") travel with the next sentence (or
    # end the last one), so every visible character of the text is in some chunk
    ends = [s.end for s in split_sentences(text)]
    tail = len(text.rstrip())
    if tail > (ends[-1] if ends else 0):
        ends.append(tail)
    units: list[ChunkSpan] = []
    prev_end = 0
    for end in ends:
        start = prev_end
        while text[start].isspace():
            start += 1
        prev_end = end
        n = count(start, end)
        units.extend(
            _split_long(text, start, end, max_tokens) if n > max_tokens else [ChunkSpan(start, end, n)]
        )
    chunks: list[ChunkSpan] = []
    i = 0
    while i < len(units):
        # the whitespace between sentences has tokens of its own ("\n\n"), so measure the joined span
        j = i + 1
        while j < len(units) and count(units[i].start, units[j].end) <= max_tokens:
            j += 1
        start, end = units[i].start, units[j - 1].end
        chunks.append(ChunkSpan(start, end, count(start, end)))
        if j >= len(units):
            break
        # step back over trailing sentences that fit the overlap budget, leaving room for the next
        # sentence so that every chunk reaches past the previous one
        k = j
        while (
            k - 1 > i
            and count(units[k - 1].start, units[j - 1].end) <= overlap_tokens
            and count(units[k - 1].start, units[j].end) <= max_tokens
        ):
            k -= 1
        i = k
    return chunks
