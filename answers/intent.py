"""What a message asks for: an answer, or a summary (pure).

"Summarize the articles", "Give me a summary of the prisoner swap", "What's the gist?" are requests
for the summarizer, not questions to answer from one passage. The table below is the whole rule:
a request verb or noun at the start, then optionally what to summarise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# each: a request for a summary, at the start of the message; what follows names its subject
_SUMMARY_REQUEST = re.compile(
    r"^\W*(?:please\s+|can you\s+|could you\s+|would you\s+)?(?:"
    r"(?:summari[sz]e|recap|sum up|condense|outline|brief me on)"
    r"|(?:give|show|write|make|tell|send) (?:me |us )?(?:a |an |the )?"
    r"(?:short |brief |quick )?(?:summary|recap|overview|gist|rundown|tl;?dr|digest)"
    r"|(?:what(?:'s|’s| is) )?(?:the |a )?(?:short |brief |quick )?(?:summary|gist|overview|tl;?dr|rundown|recap)"
    r")\b(?P<rest>.*)$",
    re.I | re.S,
)
# what names the whole collection rather than a topic: "the articles", "everything", "all of it"
_WHOLE = re.compile(
    r"^(?:(?:all|each|every|both)\s+(?:of\s+)?)?(?:the|these|those|this|my|our)?\s*"
    r"(?:(?:latest|recent|newest|new|today'?s)\s+)?"
    r"(?:articles?|stories|story|news|documents?|reports?|texts?|sources|everything|all|it|them|coverage)?\s*"
    r"(?:so far|here|above|please|for me|you have|in the archive)?$",
    re.I,
)


# the collection named before the subject: "the articles about herring", "what the stories say on X"
_COLLECTION_ON = re.compile(
    r"^(?:what\s+)?(?:(?:all|each|every|both)\s+(?:of\s+)?)?(?:the|these|those|this|my|our)?\s*"
    r"(?:articles?|stories|story|news|documents?|reports?|texts?|sources|coverage)\s+"
    r"(?:(?:say|says|said|report|reports|tell us|have)\s+)?"
    r"(?:of|on|about|for|regarding|covering|concerning|mentioning|that mention)\s+",
    re.I,
)
# the collection named after the subject: "the Zorbia bridge article", "the strike coverage"
_COLLECTION_AFTER = re.compile(r"(?<=\w)\s+(?:articles?|stories|story|news|reports?|coverage|pieces?)$", re.I)
# what points back at the conversation's last subject: "summarize it", "give me the gist of that"
_POINTS_BACK = re.compile(r"^(?:it|that|this|them|those|these)(?:\s+(?:for me|please))?$", re.I)


@dataclass(frozen=True)
class SummaryRequest:
    query: str | None  # what to summarise; None: everything
    # the query is the question just asked ("Summarize it" after it): the summary covers the articles
    # that question's answer cites, since "it" is what was just answered, not every article that shares
    # one of its words
    after_question: bool = False


def summary_request(message: str, history: Sequence[str] = ()) -> SummaryRequest | None:
    """A summary request and its subject, or None for a question to answer. "Summarize it" after an
    earlier turn is about that turn's subject (its question, or its own summary's subject)."""
    m = _SUMMARY_REQUEST.match(message.strip())
    if m is None:
        return None
    rest = m.group("rest").strip(" \t\n?.!:")
    rest = re.sub(r"^(?:of|on|about|for|regarding|covering)\s+", "", rest, flags=re.I).strip()
    rest = _COLLECTION_ON.sub("", rest).strip()
    if history and _POINTS_BACK.match(rest):
        earlier = summary_request(history[-1], history[:-1])
        return earlier if earlier is not None else SummaryRequest(history[-1].strip(), after_question=True)
    if not _WHOLE.match(rest):  # "the latest news" is everything; "the bridge story" is the bridge
        rest = _COLLECTION_AFTER.sub("", rest)
    return SummaryRequest(None if _WHOLE.match(rest) else rest)
