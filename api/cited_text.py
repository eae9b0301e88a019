"""A cited answer as plain text: the text with its [n] markers, then a "Sources:" list.

What a chat client shows is text, so the citations are written into it. The OpenAI-compatible chat
reply and the MCP tools both use this, so a UI shows the same sources whichever way it connects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def sources_block(citations: Sequence[Mapping[str, Any]]) -> str:
    """The "Sources:" list, one `[n] title — "quote"` line per citation; "" when there is none."""
    if not citations:
        return ""
    lines = [f'[{c["marker"]}] {c["title"]} — "{" ".join(c["quote"].split())}"' for c in citations]
    return "\n\nSources:\n" + "\n".join(lines)


def cited_text(text: str, citations: Sequence[Mapping[str, Any]]) -> str:
    return text + sources_block(citations)
