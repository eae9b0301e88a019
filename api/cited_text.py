"""A cited answer as plain text: the text with its [n] markers, then a "Sources:" list.

What a chat client shows is text, so the citations are written into it. The OpenAI-compatible chat
reply and the MCP tools both use this, so a UI shows the same sources whichever way it connects,
with article markup made inert either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from api.inert import inert


def one_line(text: str) -> str:
    """text with its line breaks and runs of spaces as single spaces: one line of a list (a title
    stored before titles were kept to one line could otherwise start a line of its own)."""
    return " ".join(text.split())


def sources_block(citations: Sequence[Mapping[str, Any]]) -> str:
    """The "Sources:" list, one `[n] title — "quote"` line per citation; "" when there is none.
    Titles and quotes are article text, made inert (api/inert.py) as the answer is."""
    if not citations:
        return ""
    lines = [f'[{c["marker"]}] {one_line(c["title"])} — "{one_line(c["quote"])}"' for c in citations]
    return inert("\n\nSources:\n" + "\n".join(lines))


def cited_text(text: str, citations: Sequence[Mapping[str, Any]]) -> str:
    return inert(text) + sources_block(citations)
