r"""Article markup made inert in chat replies.

Chat UIs render an assistant message as Markdown, and many let raw HTML through. A reply quotes
article text, so an article could put a `<script>`, an `<img onerror=...>` or a
`[link](javascript:...)` in front of the user. In the message text: `<` and `>` become entities,
an `&` that would start an entity is escaped (so `jav&#x61;script:` cannot decode into a scheme),
and `javascript:`, `vbscript:` and `data:` lose their colon (`javascript[:]`, the usual defanging),
so no link with those schemes survives any renderer. A Markdown link or image an article writes
(`![pixel](http://…/t.png?q=secret)`, `[click here](http://…)`, a `[ref]: http://…` definition)
loses its syntax: `](` and `]:` become `]\(` and `]\:`, so a chat UI loads no image (a tracking
pixel) and shows the text as written, the address in plain sight. Only the message text is changed:
the reply's `citations` keep the exact quotes, `document.text[start:end]`.
"""

from __future__ import annotations

import re

__all__ = ["InertStream", "inert"]

_ENTITY_START_RE = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
# javascript:/vbscript: wherever they stand; data: only right before its payload ("data:text/html"),
# so that prose such as "the data: 5 percent" is left alone. (No whitespace inside: a Markdown link
# destination cannot hold any, and raw HTML cannot start without "<".)
_SCHEME_RE = re.compile(r"(?i)\b((?:java|vb)script|data(?=:\S)):")
# the end of a Markdown link's or image's text before its destination, or of a reference definition's
# label (the replies' own markers, "[1][2]", hold neither)
_LINK_RE = re.compile(r"\]([(:])")
# Nothing above spans whitespace, so a streamed piece is passed on up to its last whitespace and
# its trailing word waits for the next piece, which may complete a scheme or an entity.
_HELD_TAIL_RE = re.compile(r"\S*$")


def inert(text: str) -> str:
    """`text` with its HTML, its Markdown links and images and its dangerous link schemes neutralised."""
    text = _ENTITY_START_RE.sub("&amp;", text)
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    text = _LINK_RE.sub(r"]\\\1", text)
    return _SCHEME_RE.sub(r"\1[:]", text)


class InertStream:
    """`inert` over a text that arrives in pieces: a scheme or an entity split across two pieces is
    still caught, because a piece's tail that could be the start of one waits for the next piece."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        m = _HELD_TAIL_RE.search(text)
        cut = m.start() if m else len(text)  # always a match, possibly empty
        self._held = text[cut:]
        return inert(text[:cut])

    def flush(self) -> str:
        text, self._held = self._held, ""
        return inert(text)
