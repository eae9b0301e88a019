"""Who a news sentence's statement is attributed to: the name at its "said" ("Anna Berg said",
'," said Anna Berg', "according to Anna Berg"), the person "he" or "she" means, the holder of the
role "the minister said" names; and the sentence that names a statement's speaker.

News gives a statement its speaker in a few fixed ways, in any English corpus; what these read
decides whose words a "What did <name> say?" answer may show (answers/compose.py).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Set as AbstractSet
from functools import lru_cache

from answers.people import holder_before
from retrieval.sentences import quotation, split_sentences

SPEECH = (
    r"(?:said|says|added|told|warned|wrote|explained|insisted|admitted|argued|stated|noted|claimed|"
    r"announced|confirmed|urged|denied|acknowledged|conceded|replied|responded|commented|promised|pledged|"
    r"vowed|revealed|predicted)"
)
# "Anna Berg", "the Harbour Safety Board (HSB)": the acronym in brackets is part of the name.
# A name keeps to one line, and a word of it ends with a full stop only when it is an initial or an
# abbreviation of up to three letters ("J.", "Dr.", "Mrs."): "in Toronto. Rusk said" names Rusk.
_NAME_WORD = r"[A-Z](?:[\w’'-]|\.(?=\w))*(?:\.(?:(?<=\b[A-Z]\.)|(?<=\b[A-Z][a-z]\.)|(?<=\b[A-Z][a-z]{2}\.)))?"
SPEAKER_NAME = rf"{_NAME_WORD}(?:[ \t]+{_NAME_WORD})*(?:[ \t]+\([A-Z][\w&.-]*\))?"
# the speaker after the verb: "said Anna Berg", "said retired nurse Anna Berg", "said its leader,
# Councillor Anna Berg" (a role of a few lower-case words first; not "told Anna Berg": she is told,
# nor "said on Monday" or "said that Berg ...": no speaker follows those)
_AFTER_SPEECH = (
    r"\b(?:said|says|added|warned|wrote|explained|insisted|admitted)\s+"
    r"(?:(?!(?:that|on|in|at|to|of|for|by|from|with|about|after|before|during|when|while|which|who|if|as|"
    r"and|but|or|it|he|she|they|there|this|then|than)\b)[a-z][\w’'-]*,?\s+){0,4}"
)
# a person named by role: "the minister", "the company's chief executive"
_BY_ROLE = r"(?:[a-z][\w’'-]*\s+){0,3}?[a-z][\w’'-]*"
# '," Whitaker said', '," said Whitaker', '," he said', '," the minister said', '," said the
# mayor.'; or a sentence that opens "Mendes said" or "The minister said"
_QUOTE_SPEAKER = re.compile(
    rf"[”\"]\s+(?:(?P<a>he|she|{SPEAKER_NAME})\s+{SPEECH}\b|{_AFTER_SPEECH}(?P<b>{SPEAKER_NAME})"
    rf"|the\s+(?P<r>{_BY_ROLE})\s+{SPEECH}\b|\b(?:said|says|added)\s+the\s+(?P<s>{_BY_ROLE})\s*[,.])"
)
_OPENS_WITH_SPEAKER = re.compile(rf"^(?:(?P<a>{SPEAKER_NAME})|The\s+(?P<r>{_BY_ROLE}))\s+{SPEECH}\b")
# "Anna Berg said", "Peter Walsh, who runs it, said", "The head, Mary Lowe, said", "Anna Berg, who
# ran it, defended the plan, saying", "said Anna Berg" (not "told Anna Berg": she is told),
# "according to Anna Berg"
_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
SPEAKS = re.compile(
    rf"(?!(?:{_DAYS}|{_MONTHS})\b)(?P<a>{SPEAKER_NAME})"
    rf"(?:[ \t]+of[ \t]+(?:the[ \t]+)?{SPEAKER_NAME})?"  # "Sara Mikkelsen of the Liberal Union said"
    # "The president of the Rowing Association, Karl Weber, confirmed": the name between
    # the commas is the speaker's
    rf"(?:,[ \t]+(?P<d>{SPEAKER_NAME}),|,[^,;\"“”]{{1,80}},|,)?"
    rf"(?:\s+(?:on|late|early)\s+(?:{_DAYS}))?"  # "Anna Berg on Friday said"
    r"(?:\s+(?:also|later|earlier|then|again|separately|[a-z]+ly))?"  # "Anna Berg also said"
    rf"\s+(?:{SPEECH}\b|[a-z]+ed\b[^.;\"“”]{{0,100}}?,\s+saying\b)"
    rf"|{_AFTER_SPEECH}(?P<b>{SPEAKER_NAME})"
    rf"|\b[Aa]ccording\s+to\s+(?:the\s+)?(?P<c>{SPEAKER_NAME})"
)


def speaker_of(m: re.Match[str]) -> str:
    """The name a `SPEAKS` match gives the speaker."""
    return m.group("d") or m.group("a") or m.group("b") or m.group("c") or ""


def name_words(name: str) -> set[str]:
    return {w.lower().strip(".()").removesuffix("'s").removesuffix("’s") for w in name.split()}


# capitalised words that name no one a statement can be given to
_NO_ONE = frozenset("the a an he she it they we i you this that these those".split())


def _unquoted(text: str) -> str:
    """The text with its quotations blanked out ('"Rafael told me ...," he said': he is not Rafael)."""
    return re.sub(r"[\"“][^\"”]*[\"”]", lambda q: " " * len(q.group(0)), text)


@lru_cache(maxsize=32)  # a whole article's, asked of each of its sentences
def _article_people(text: str) -> tuple[tuple[frozenset[str], ...], frozenset[str]]:
    """(the words of every name the text gives a statement to: "Name said", "said Name", ...; the
    last words of its names of two words or more: "Castellane" of "Maria Castellane")."""
    unquoted = _unquoted(text)
    speakers = tuple(frozenset(name_words(speaker_of(m))) for m in SPEAKS.finditer(unquoted))
    surnames = frozenset(
        name_words(m.group(0).split()[-1]).pop()
        for m in re.finditer(SPEAKER_NAME, unquoted)
        if len(m.group(0).split()) > 1
    )
    return speakers, surnames


_LOOK_BACK = 2_000  # characters back from a statement that its "he" or "she" is looked for in


def _paragraph_start(text: str, at: int) -> int:
    """Where the paragraph that holds `at` opens (after the last blank line before it)."""
    return max(text.rfind("\n\n", 0, at), text.rfind("\r\n\r\n", 0, at), 0)


_PRONOUN_OPENS = re.compile(r"\s*[\"“]?(?P<p>He|She)\b")


def _named_before(text: str, at: int, depth: int = 0) -> str:
    """Whom the "he" or "she" of a statement at `at` means: the speaker of the sentence before it in
    its paragraph ("Torvald Minerals chief executive Lena Marchetti said ..."); else the person that
    sentence names, when one is a speaker of the article ("Opposition councillor Declan Moray voted
    against. He said ..." is Moray's, though Taverner spoke last) or opens it as a person the
    article names in full ("Castellane rejected that figure. She said ..."); that sentence's own
    "he" or "she" when it opens with one; else the last "Name said" (or "said Name") of the text
    before it."""
    # the sentence before, from a window back from `at` (a long paragraph is not split again for
    # each of its sentences)
    lo = max(_paragraph_start(text, at), at - _LOOK_BACK)
    previous = [s for s in split_sentences(text, lo, at) if s.end <= at][-1:]
    if previous:
        speakers, surnames = _article_people(text)
        sentence = _unquoted(text[previous[0].start : previous[0].end])
        # the first it gives a statement to: "Torvald Minerals chief executive Lena Marchetti said";
        # "according to Ivo Lund, ..., who said the Harbour Board was ..." is Lund's
        said = [m for m in SPEAKS.finditer(sentence) if name_words(speaker_of(m)) - _NO_ONE]
        if said:
            return speaker_of(said[0])
        for m in re.finditer(SPEAKER_NAME, sentence):
            if re.match(r"[’']s\b", sentence[m.end() :]) or m.group(0).endswith(("'s", "’s")):
                continue  # an owner ("Brook's lawyer, Ann Pike, said"), not the one who speaks
            words = name_words(m.group(0)) - HONORIFICS - _NO_ONE
            opens = m.start() == len(sentence) - len(sentence.lstrip())
            if words and (
                any(same_person(words, spoke) for spoke in speakers)
                or (opens and len(words) == 1 and words <= surnames)
            ):
                return m.group(0)
        if depth < 3 and _PRONOUN_OPENS.match(text, previous[0].start):
            return _named_before(text, previous[0].start, depth + 1)
    ends, names = _named_speakers(text)
    i = bisect_right(ends, at)
    return names[i - 1] if i else ""


@lru_cache(maxsize=32)  # a whole article's, asked of each of its sentences
def _named_speakers(text: str) -> tuple[list[int], list[str]]:
    """(where each "Name said" of the text ends, its name), in text order, quotations left out and
    no "He said": the speakers a "he" or "she" may fall back on."""
    found = [m for m in SPEAKS.finditer(_unquoted(text)) if name_words(speaker_of(m)) - _NO_ONE]
    return [m.end() for m in found], [speaker_of(m) for m in found]


def speaker(text: str, start: int, end: int) -> set[str] | None:
    """The words of the name a sentence's statement is attributed to (lower-cased), or None when it
    names none: a quote's '," Name said' or '," said Name', a sentence opening "Name said"; for '," he
    said', whom the sentences before it mean (`_named_before`); for '," the minister said' or
    "The minister said", the minister the article last named before it (answers/people.py); a
    quotation with no attribution goes on with the last quotation's of its paragraph; a sentence of
    a quotation of several is the quotation's."""
    sentence = text[start:end]
    m = _QUOTE_SPEAKER.search(sentence) or _OPENS_WITH_SPEAKER.match(sentence)
    if m is None and (whole := quotation(text, start, end)) != (start, end):
        # a sentence of a quotation of several: the quotation's speaker
        start, end = whole
        sentence = text[start:end]
        m = _QUOTE_SPEAKER.search(sentence) or _OPENS_WITH_SPEAKER.match(sentence)
    at = start
    if m is None and sentence[:1] in '"“' and sentence.rstrip()[-1:] in '"”':
        paragraph = max(text.rfind("\n", 0, start) + 1, start - _LOOK_BACK)
        quotes = list(_QUOTE_SPEAKER.finditer(text[paragraph:start]))
        m, at = (quotes[-1], paragraph + quotes[-1].end()) if quotes else (None, start)
    if m is None:
        return None
    found = m.groupdict()
    who = found.get("a") or found.get("b") or ""
    if who.lower() in ("he", "she"):
        # from where its quotation opens: '"They found the money. They can find it," she said.'
        who = _named_before(text, min(at, quotation(text, start, end)[0]))
    elif role := found.get("r") or found.get("s"):
        who = holder_before(text, at, role)
    words = name_words(who)
    # "It said", "They said": an organisation or several people, not resolved here
    return None if not words or words <= _NO_ONE else words


# how a person may be named in a question but not beside every statement
HONORIFICS = frozenset(
    "dr mr mrs ms miss prof professor sir dame lord lady councillor cllr president minister senator judge "
    "captain detective sergeant inspector chief mayor governor general colonel rev father".split()
)


def same_person(asked: AbstractSet[str], named: AbstractSet[str]) -> bool:
    """Whether a speaker named by these words may be the person asked about: a word in common, and
    not each with a name of its own ("Helen Brandt" is not "Tomas Brandt"; "Brandt" may be either;
    titles do not count)."""
    asked, named = asked - HONORIFICS, named - HONORIFICS
    return bool(asked & named) and not (asked - named and named - asked)


def naming_speaker(text: str, start: int, end: int) -> tuple[int, int] | None:
    """For a statement that gives its speaker only as "he", "she" or a role ('"...," he said'): the
    (start, end) of the last sentence before it in its paragraph that names that speaker. None when
    the statement names its speaker itself, or no sentence of its paragraph does: "he" is read as
    the last speaker named, and across a paragraph's end that is too often someone else."""
    who = (speaker(text, start, end) or set()) - HONORIFICS
    if not who or who & {w.lower() for w in re.findall(r"[\w’'-]+", text[start:end])}:
        return None
    names = re.compile(rf"\b(?i:{'|'.join(map(re.escape, sorted(who)))})\b")
    lo = max(_paragraph_start(text, start), start - _LOOK_BACK)
    before = [s for s in split_sentences(text, lo, start) if names.search(text, s.start, s.end)]
    return (before[-1].start, before[-1].end) if before else None


def speakers_at(sentence: str, text: str | None, start: int, end: int) -> list[set[str]]:
    """The names (their words) a sentence at text[start:end] is attributed to: each "Name said",
    "said Name", "according to Name" in it, and its statement's `speaker`."""
    found = [name_words(speaker_of(s)) for s in SPEAKS.finditer(sentence)]
    who = speaker(text, start, end) if text is not None else None
    return [*found, *([who] if who is not None else [])]
