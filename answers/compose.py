"""The answer from the reader's verdicts: the sentences it accepts, grouped, ordered, cited.

Every accepted sentence is kept (a question of several parts needs each part), except one that
says again what an accepted sentence says. Sentences from other articles that say the same thing
are cited with it, and the group is shown in its cleanest wording: an article's own text before a
near-duplicate copy of it, or a machine-reworded one (it reads badly; found by answers/wording.py,
whose aligned sentences also count as saying the same thing). Nothing the reader did not accept
is added to fill the answer out; if it accepts nothing, the answer is to decline.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from answers.candidates import Candidate
from answers.definitions import defining_the_acronyms_asked, explaining_the_term_asked
from answers.models import ABSTAIN_TEXT, Answer, CitationNumbers
from answers.speakers import (
    HONORIFICS,
    SPEAKER_NAME,
    SPEECH,
    name_words,
    naming_speaker,
    speaker,
    speakers_at,
    same_person,
)
from answers.people import (
    age_of_the_person_asked,
    holder_of_the_role_asked,
    naming_the_person_asked,
    naming_who_does_what_is_asked,
    sentences_where,
)
from answers.wording import names, restatements
from retrieval.lexical import STOPWORDS, analyze, stem, stems
from retrieval.sentences import quotation


@dataclass
class ComposeConfig:
    max_groups: int = 4
    # a further sentence must reach this share of the best one's probability: drops the stragglers
    # of a clear answer (chosen on held-out written news and questions.yaml: fewer uncited padding
    # sentences, the same facts; docs/evals.md)
    keep_ratio: float = 0.7
    same_above: float = 0.8  # cosine of two sentence vectors that say the same thing
    # an answer's statement must come from an article whose best passage scored at least this share
    # of the best passage's score in search (`on_the_story_asked`); 0: off
    story_ratio: float = 0.5


def accepted(
    cands: list[Candidate],
    threshold: float,
    cfg: ComposeConfig,
    relevance: Mapping[str, float] | None = None,
) -> list[int]:
    """Indexes of the sentences the reader accepts, most probable first. With relevance, only those
    of the articles on the story asked (`on_the_story_asked`) when one of them clears the threshold:
    another story's sentence must not set the floor that the story's own answer is held to."""
    order = sorted(range(len(cands)), key=lambda i: -cands[i].probability)
    if relevance:
        on = on_the_story(relevance, cfg.story_ratio)
        on_story = [i for i in order if on(cands[i].document_id)]
        if on_story and cands[on_story[0]].probability >= threshold:
            order = on_story
    if not order or cands[order[0]].probability < threshold:
        return []
    floor = max(threshold, cfg.keep_ratio * cands[order[0]].probability)
    return [i for i in order if cands[i].probability >= floor]


def _shown_first(group: list[Candidate]) -> list[Candidate]:
    """The group's own article before any near-duplicate copy; then by probability."""
    return sorted(group, key=lambda c: (c.duplicate_of is not None, -c.probability))


def group(
    cands: list[Candidate], chosen: list[int], same: np.ndarray, cfg: ComposeConfig
) -> list[list[Candidate]]:
    """Accepted sentences as groups of one statement each, with every other article's sentence that
    restates it (accepted or not) cited beside it; same[i, j]: candidates i and j say the same thing."""
    groups: list[list[int]] = []
    for i in chosen:
        home = next((g for g in groups if same[i, g[0]]), None)
        if home is None:
            if len(groups) < cfg.max_groups:
                groups.append([i])
        elif all(cands[j].document_id != cands[i].document_id for j in home):
            home.append(i)
    for j in range(len(cands)):
        for g in groups:
            if j not in g and all(cands[k].document_id != cands[j].document_id for k in g) and same[j, g[0]]:
                g.append(j)
                break
    return [_shown_first([cands[i] for i in g]) for g in groups]


def with_quotations(groups: list[list[Candidate]], texts: Mapping[str, str]) -> list[list[Candidate]]:
    """Each sentence that is part of a quotation of several sentences as the whole quotation
    (retrieval/sentences.py `quotation`): a quoted sentence cited alone reads as the article's own
    voice. A group whose first sentence falls in a quotation an earlier group already shows joins it."""
    out: list[list[Candidate]] = []
    for g in groups:
        wide = []
        for c in g:
            text = texts.get(c.document_id)
            a, b = quotation(text, c.start, c.end) if text is not None else (c.start, c.end)
            wide.append(
                c
                if text is None or (a, b) == (c.start, c.end)
                else replace(c, start=a, end=b, text=text[a:b])
            )
        home = next((h for h in out if _overlaps(h[0], wide[0])), None)
        if home is None:
            out.append(wide)
            continue
        for c in wide:
            if all(c.document_id != k.document_id for k in home):
                home.append(c)
    return out


def _overlaps(a: Candidate, b: Candidate) -> bool:
    return a.document_id == b.document_id and a.start < b.end and b.start < a.end


class Cited(Protocol):
    """What a citation is built from (a reader candidate, the extractive engine's, a summary's
    sentence): read-only, so a property serves as well as a field."""

    @property
    def document_id(self) -> str: ...
    @property
    def chunk_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def content_hash(self) -> str: ...


# "[1]" in an article's own text would read as one of the answer's markers: shown as "(1)" (the
# citation's quote keeps the article's text as it is)
_MARKER_LIKE = re.compile(r"\[(\d+)\]")


def answer_from_groups(
    groups: Sequence[Sequence[Cited]], generator: str, prompt_version: str, preface: str = ""
) -> Answer:
    """Each group's first sentence, followed by the markers of every source that states it; the
    markers are numbered here and nowhere else. A span that restates two groups' sentences keeps
    its one number."""
    numbers = CitationNumbers()
    parts: list[str] = []
    for g in groups:
        marks = "".join(
            f"[{numbers.number(c.document_id, c.chunk_id, c.title, c.text, c.start, c.end, c.content_hash)}]"
            for c in g
        )
        parts.append(_MARKER_LIKE.sub(r"(\1)", g[0].text) + f" {marks}")
    return Answer(
        answer=preface + " ".join(parts),
        abstained=False,
        citations=numbers.citations,
        generator=generator,
        prompt_version=prompt_version,
    )


def abstain(generator: str, prompt_version: str, warnings: list[str] | None = None) -> Answer:
    return Answer(
        answer=ABSTAIN_TEXT,
        abstained=True,
        citations=[],
        generator=generator,
        prompt_version=prompt_version,
        warnings=list(warnings or []),
    )


def on_what_is_named(
    groups: list[list[Candidate]], question: str, texts: Mapping[str, str]
) -> list[list[Candidate]]:
    """Without the groups from articles that name none of the names the question gives, when another
    group's article names all of them: "the Lerwick fleet" is not answered with Fraserburgh's figure
    from a brief of the same template. No group at all (a decline) when no group's article names any
    of them while a retrieved article (texts) names all: the answer would be another's ("Zorvathc17"
    recorded, asked about "Zorvathc7"; Northbridge Energy's loss, asked about Norbridge Energy). A
    name counts whole: an article with "Northbridge Energy" does not name "Norbridge Energy".
    Otherwise the groups are left as they are."""
    # each name (answers/wording.py `names`) as its run of keyword stems; a name counts whole and in
    # order: "Northbridge Energy" shares "Energy" with "Norbridge Energy" asked, and an article with
    # "an old man" and "the Kiln Quay" does not name "the Old Quay"
    whole = [f" {n} " for n in (analyze(name) for found in names(question).values() for name in found) if n]
    if not whole:
        return groups

    def holds_all(held: str) -> bool:
        return all(n in held for n in whole)

    cited = {c.document_id: c for g in groups for c in g}  # each article stemmed once
    held = {d: f" {analyze(c.title)} {analyze(texts.get(d, c.text))} " for d, c in cited.items()}
    if any(holds_all(h) for h in held.values()):
        return [g for g in groups if any(any(n in held[c.document_id] for n in whole) for c in g)]
    if any(n in h for n in whole for h in held.values()):
        return groups
    others = (f" {analyze(t)} " for doc_id, t in texts.items() if doc_id not in held)
    return [] if any(holds_all(h) for h in others) else groups


# "What did Callum Whitaker say ...?": a question about what a named person said
# a role in lower case may come first: "What did finance minister Tomas Reiner say ...?"
_ROLE = r"(?:the\s+)?(?:[a-z][\w’'-]*\s+){0,3}?"
_ASKS_WHAT_SAID = re.compile(
    rf"\b(?:did|does|do|has|have|had)\s+{_ROLE}(?P<who>[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*)\s+"
    r"(?:say|tell|add|warn|claim|write|announce|admit|insist)\b"
)


# "According to Ada Quill, why did the talks fail?": her account is asked for, not another speaker's
_ACCORDING_TO_NAME = re.compile(rf"^\s*[Aa]ccording\s+to\s+(?P<who>{SPEAKER_NAME})\s*,")


def said_by_whom_asked(
    groups: list[list[Candidate]], question: str, texts: Mapping[str, str]
) -> list[list[Candidate]]:
    """Without the groups attributed to someone else when the question asks what a named person
    said ("What did Callum Whitaker say ...?", "According to Callum Whitaker, ...?" are not
    answered with another player's quote that follows "Mendes said ..."). A group whose speaker is
    not found, or is a role ("the manager said"), stays; when every group is someone else's, none
    is left (a decline): "What did the singer write?" is not answered with her lawyer's words about
    her."""
    m = _ASKS_WHAT_SAID.search(question) or _ACCORDING_TO_NAME.match(question)
    if m is None:
        return groups
    asked = name_words(m.group("who"))

    def someone_else(c: Candidate) -> bool:
        text = texts.get(c.document_id)
        who = speaker(text, c.start, c.end) if text is not None else None
        return who is not None and not same_person(asked, who)

    kept = [g for g in groups if not someone_else(g[0])]
    return kept


# "Who said ...?", "Who warned that ...?"
_ASKS_WHO_SAID = re.compile(rf"^\s*[Ww]ho\s+(?:{SPEECH}|described|called|promised)\b")


def who_said_asked(question: str) -> bool:
    """Whether a question asks who said something ("Who said ...?", "Who warned that ...?")."""
    return _ASKS_WHO_SAID.match(question) is not None


def speakers_named(
    question: str, cands: list[Candidate], threshold: float, texts: Mapping[str, str]
) -> list[tuple[str, int, int]]:
    """For "Who said ...?": (document id, start, end) of the sentence that names the speaker of each
    sentence the reader accepts whose statement says only "he said" or "the minister said": the
    answer to "who" is a name. Empty for any other question."""
    if not who_said_asked(question):
        return []
    found = []
    for c in cands:
        text = texts.get(c.document_id)
        if c.probability >= threshold and text is not None:
            span = naming_speaker(text, c.start, c.end)
            if span is not None:
                found.append((c.document_id, *span))
    return list(dict.fromkeys(found))


def with_speakers_named(
    cands: list[Candidate], chosen: list[int], question: str, texts: Mapping[str, str]
) -> list[int]:
    """For "Who said ...?": the chosen, each whose statement says only "he said" after the candidate
    that names its speaker (`speakers_named`), when there is one. The chosen for any other question."""
    if not who_said_asked(question):
        return chosen
    out: list[int] = []
    for i in chosen:
        c, text = cands[i], texts.get(cands[i].document_id)
        span = naming_speaker(text, c.start, c.end) if text is not None else None
        if span is not None:
            out += [
                j
                for j, d in enumerate(cands)
                if d.document_id == c.document_id and d.start <= span[0] < d.end and j not in out
            ][:1]
        out += [i] if i not in out else []
    return out


# "What did Anna Berg say?": all a named person said, nothing narrower (no "about ...")
_ASKS_ALL_SAID = re.compile(
    rf"^\s*[Ww]hat\s+(?:did|has|had)\s+{_ROLE}(?P<who>{SPEAKER_NAME})\s+"
    r"(?:say|said|tell\s+reporters)\s*[?.!]*\s*$"
)
# "What did Anna Berg say about the levy?", "What has the HSB told lawmakers about its findings?"
_ASKS_SAID_ABOUT = re.compile(
    rf"^\s*[Ww]hat\s+(?:did|does|do|has|have|had)\s+{_ROLE}(?P<who>{SPEAKER_NAME})\s+"
    r"(?:say|said|tell|told|add|added|write|written)\b(?:\s+(?!about\b)[\w’'-]+){0,3}\s+about\s+"
    r"(?P<topic>[^?]+?)\s*[?.!]*\s*$"
)


def _speakers(c: Candidate, texts: Mapping[str, str]) -> list[set[str]]:
    """The names (their words) a candidate's statement is attributed to: "Name said", "said Name",
    "according to Name" in it, and its quotation's speaker (`speaker`)."""
    return speakers_at(c.text, texts.get(c.document_id), c.start, c.end)


# "What did Anna Berg deny?", "What has Anna Berg promised the nurses?": what a named person said
# with that verb (any form of it: "Berg denied that ...", "She denied ...")
_REPORTING_VERBS = (
    "warn admit deny announce promise pledge vow claim confirm insist argue reveal predict concede "
    "acknowledge"
).split()
_REPORTING_STEMS = stems(" ".join(_REPORTING_VERBS))
_ASKS_VERBED = re.compile(
    rf"^\s*[Ww]hat\s+(?:did|has|had)\s+{_ROLE}(?P<who>{SPEAKER_NAME})\s+(?P<verb>[a-z]+)\b"
    r"(?P<rest>[^?]*?)\s*[?.!]*\s*$"
)


@dataclass(frozen=True)
class StatementAsked:
    """What "What did <name> say?" or "... <verb> ...?" asks: the name's words (titles left out), the
    verb's stems (none for "say": all they said) and the stems of the words after it."""

    who: frozenset[str]
    verb: frozenset[str] = frozenset()
    rest: frozenset[str] = frozenset()

    def said_with_the_verb(self, text: str) -> bool:
        return not self.verb or bool(self.verb & stems(text))

    def by_them(self, speakers: Sequence[AbstractSet[str]]) -> bool:
        """Whether one of a statement's speakers (their names' words) is the person asked of."""
        return any(same_person(self.who, w) for w in speakers)


def statement_asked(question: str) -> StatementAsked | None:
    """None for any question that is not "What did <name> say?" or "What did <name> <verb> ...?"."""
    m = _ASKS_ALL_SAID.match(question)
    if m is not None:
        who = frozenset(name_words(m.group("who")) - HONORIFICS)
        return StatementAsked(who) if who else None
    m = _ASKS_VERBED.match(question)
    verb = stems(m.group("verb")) & _REPORTING_STEMS if m is not None else frozenset()
    if m is None or not verb:
        return None
    who = frozenset(name_words(m.group("who")) - HONORIFICS)
    return StatementAsked(who, verb, stems(m.group("rest")) - stems(m.group("who"))) if who else None


def statements_in_articles(question: str, texts: Mapping[str, str]) -> list[tuple[str, int, int]]:
    """For "What did <name> say?" (or "deny", "promise" ...): (document id, start, end) of every
    sentence of these articles attributed to that person (with that verb), in article order: search
    returns a person's statement from one passage, and the rest of what they said lies in others.
    Empty for any other question."""
    asked = statement_asked(question)
    if asked is None:
        return []
    naming = {d: t for d, t in texts.items() if any(w in t.lower() for w in asked.who)}

    def theirs(text: str, start: int, end: int) -> bool:
        return asked.said_with_the_verb(text[start:end]) and asked.by_them(
            speakers_at(text[start:end], text, start, end)
        )

    return sentences_where(naming, theirs)


def statements_of_the_person_asked(
    cands: list[Candidate], question: str, texts: Mapping[str, str]
) -> list[int]:
    """For "What did <name> say?": the candidates that report what that person said ("Dr Peter
    Walsh, who will run it, said ...", '"...," he said' after "Walsh said"), most probable first.
    Every statement of theirs answers the question, however the reader scores it: it reads such
    bare questions poorly. For "What did <name> deny?", their statements with that verb; with words
    after it ("promise the nurses"), those that share one of them when some do. Empty for any other
    question, and where that person said nothing with that verb (the reader's answer stands)."""
    asked = statement_asked(question)
    if asked is None:
        return []
    theirs = [
        i
        for i, c in enumerate(cands)
        if asked.said_with_the_verb(c.text) and asked.by_them(_speakers(c, texts))
    ]
    on_the_rest = [i for i in theirs if asked.rest & stems(cands[i].text)]
    return sorted(on_the_rest or theirs, key=lambda i: -cands[i].probability)


# "The agency (HSB) instructed lawmakers that ...": a statement reported with a verb of its own
_REPORTS_THAT = re.compile(
    rf"(?:^|[,;]\s+)(?:[Tt]he\s+)?(?P<a>{SPEAKER_NAME})\s+(?:[a-z]+ly\s+)?[a-z]+ed\b[^.;\"“”]{{0,120}}?\bthat\b"
)


def statements_on_the_topic_asked(
    cands: list[Candidate], question: str, texts: Mapping[str, str]
) -> list[int]:
    """For "What did <name> say about <topic>?" when the reader accepts no sentence: the candidates
    that hold at least half of the topic's words and report that person's words ("Name said",
    "according to Name", '"...," she said', "The agency (HSB) briefed lawmakers that ..."), most
    probable first. The reader reads a statement poorly when it is reported rather than quoted. A
    sentence that only names the person is not theirs ("... shared on a TikTok account"). Empty for
    any other question."""
    m = _ASKS_SAID_ABOUT.match(question)
    if m is None:
        return []
    asked = name_words(m.group("who")) - HONORIFICS
    topic = stems(m.group("topic"))
    if not asked or not topic:
        return []
    enough = (len(topic) + 1) // 2

    def theirs(c: Candidate) -> bool:
        if len(stems(c.text) & topic) < enough:
            return False
        reporters = [name_words(r.group("a")) for r in _REPORTS_THAT.finditer(c.text)]
        return any(same_person(asked, w) for w in [*_speakers(c, texts), *reporters])

    return sorted((i for i, c in enumerate(cands) if theirs(c)), key=lambda i: -cands[i].probability)


_PLACE_PREPOSITIONS = frozenset("in at from for on near".split())
# "in December", "on Monday": a time after the preposition, not a place
_CALENDAR = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)


def _after_prepositions(text: str) -> dict[str, set[str]]:
    """The names a text puts right after a preposition, by that preposition ("in" -> {"japan"});
    not the months and days ("in December")."""
    out: dict[str, set[str]] = {}
    first = text.split(maxsplit=1)[0].lower() if text.strip() else ""
    if first in _PLACE_PREPOSITIONS:  # "In Germany, ...": the capital is the sentence's, not a name's
        text = text.lstrip()[0].lower() + text.lstrip()[1:]
    for (before, _), found in names(text).items():
        # a run of capitals can go on past the comma: "In December, Anna Berg said"
        places = {n for n in found if n.split()[0] not in _CALENDAR}
        if before in _PLACE_PREPOSITIONS and places:
            out.setdefault(before, set()).update(places)
    return out


def on_the_place_asked(groups: list[list[Candidate]], question: str) -> list[list[Candidate]]:
    """Without the groups whose sentence gives another place's figure ("Sales in Norway ... grew 4
    percent" for "How much did sales in Japan grow?"): a name after the preposition the question
    puts its own after, and not the question's, when another group's sentence names the question's.
    Otherwise the groups are left as they are."""
    asked = _after_prepositions(question)
    if not asked:
        return groups

    def names_asked(g: list[Candidate]) -> bool:
        text = g[0].text.lower()
        return any(n in text for found in asked.values() for n in found)

    def another_place(g: list[Candidate]) -> bool:
        said = _after_prepositions(g[0].text)
        return not names_asked(g) and any(said.get(p, set()) - found for p, found in asked.items())

    if not any(names_asked(g) for g in groups):
        return groups
    return [g for g in groups if not another_place(g)]


# a thing named by a number ("district 7", "Section 9", "flights 370 and 371", "stage 5"): a word
# right before a number, a list of numbers or a code
_NUMBERED = re.compile(
    r"\b(?P<noun>[^\W\d_]+)\s+(?:[Nn]o\.\s*|[Nn]umber\s+|#\s*)?"
    # or by a code of letters and digits: "case 14-K-2307", "flight NA418"
    r"(?:(?P<code>(?=[A-Za-z0-9-]*[A-Za-z])(?=[A-Za-z0-9-]*\d)(?:[A-Za-z0-9]+-)+[A-Za-z0-9]+|[A-Z]{1,4}\d+[A-Za-z]?)"
    r"(?![\w-])"
    r"|(?P<numbers>\d+(?![.,]?\d)(?:(?:,\s+|\s+(?:and|or|to)\s+|\s*[-–]\s*)\d+(?![.,]?\d))*)(?![^\W_]))",
)
_NUMBER = re.compile(r"\d+")
# words before a number that give an amount, not a name: "nearly 30", "over 200", "some 40"
_AMOUNT_WORDS = frozenset(
    "almost around approximately roughly nearly over than least some only just top up".split()
)


_ORDINAL_WORDS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
    "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
).split()
# "the third quarter", "a second soldier", "the 5th stage": a thing named by its place in a series
_ORDINAL = re.compile(
    rf"\b(?P<ordinal>{'|'.join(_ORDINAL_WORDS)}|\d+(?:st|nd|rd|th))(?:\s+|-)(?P<noun>[^\W\d_]+)",
    re.IGNORECASE,
)


def numbered(text: str) -> dict[str, set[str]]:
    """The things a text names by number ("district 7") or by ordinal ("the third quarter"), as {stem
    of the word that names the kind: the numbers}."""
    out: dict[str, set[str]] = {}
    for m in _NUMBERED.finditer(text):
        noun = m.group("noun").lower()
        if noun in STOPWORDS or noun in _AMOUNT_WORDS or noun.endswith("ly"):
            continue
        found = {m.group("code").upper()} if m.group("code") else set(_NUMBER.findall(m.group("numbers")))
        out.setdefault(stem(noun), set()).update(found)
    for m in _ORDINAL.finditer(text):
        noun, ordinal = m.group("noun").lower(), m.group("ordinal").lower()
        if noun in STOPWORDS:  # "first said", "second to none"
            continue
        n = str(_ORDINAL_WORDS.index(ordinal) + 1) if ordinal in _ORDINAL_WORDS else ordinal[:-2]
        out.setdefault(stem(noun), set()).add(n)
    return out


def on_the_number_asked(groups: list[list[Candidate]], question: str) -> list[list[Candidate]]:
    """Without the groups whose sentence names by another number what the question names by its
    number ("District 1317 recorded ..." for "What did district 7 record?", "Section 3 costs ..."
    for "How much does section 9 cost?", "the first quarter" for "the third quarter"): they are
    about something else. No group at all (a decline)
    when that leaves none: the answer would be another's."""
    asked = numbered(question)
    if not asked:
        return groups
    return [g for g in groups if not numbers_another(asked, g[0].text)]


def numbers_another(asked: Mapping[str, set[str]], text: str) -> bool:
    """Whether text names by another number a kind of thing asked about by number (numbered())."""
    said = numbered(text)
    return any(noun in said and not said[noun] & numbers for noun, numbers in asked.items())


def years(text: str) -> set[str]:
    return set(_YEAR.findall(text))


def mentions_asked(text: str, asked_years: set[str], asked: Mapping[str, set[str]]) -> bool:
    """Whether text mentions a year asked about, or names a thing by the number asked (numbered())."""
    if asked_years & years(text):
        return True
    named = numbered(text) if asked else {}
    return any(named.get(noun, set()) & numbers for noun, numbers in asked.items())


_YEAR = re.compile(r"(?<![\d.,])(?:1[89]|20)\d\d(?![\d.,]?\d)")


def on_the_year_or_number_asked(
    groups: list[list[Candidate]], question: str, texts: Mapping[str, str]
) -> list[list[Candidate]]:
    """Without the groups from articles that never mention the year, or the thing named by number,
    that the question asks about ("2023", "the third quarter", "case 14-K-2307"), when another
    group's article does: reports of one template ("Profit reached 131 million euros.", "Operating
    margin fell to 9.4 percent") are told apart by what their article is about, not by the sentence.
    No group at all (a decline) when no group's article mentions it while a retrieved article (texts)
    does: the answer would be another's ("Sales rose 5.3 percent in 2022." for 2023). Otherwise the
    groups are left as they are."""
    asked_years, asked = years(question), numbered(question)
    if not asked_years and not asked:
        return groups

    def mentions(title: str, text: str) -> bool:
        return mentions_asked(f"{title}\n{text}", asked_years, asked)

    kept = [g for g in groups if mentions(g[0].title, texts.get(g[0].document_id, g[0].text))]
    if kept:
        return kept
    cited = {c.document_id for g in groups for c in g}
    return [] if any(mentions("", t) for d, t in texts.items() if d not in cited) else groups


def on_the_story_asked(
    groups: list[list[Candidate]], relevance: Mapping[str, float], ratio: float
) -> list[list[Candidate]]:
    """Without the groups from articles that search found far less relevant than the best one: the
    reader, reading one sentence at a time, accepts a sentence of another story that has the shape of
    an answer ("The average household will pay about 68 pounds more a year." beside "the regional
    government would pay 10,000 euros to the family of each victim", when the question's words are
    all in the ferry story's passage). If every group would go, none does."""
    on = on_the_story(relevance, ratio)
    kept = [g for g in groups if any(on(c.document_id) for c in g)]
    return kept or groups


def on_the_story(relevance: Mapping[str, float], ratio: float) -> Callable[[str], bool]:
    """Whether search found an article (its id) at least ratio times as relevant as the best one;
    every article is, when ratio is 0 or nothing scored."""
    best = max(relevance.values(), default=0.0)
    if ratio <= 0 or best <= 0:
        return lambda _document_id: True
    return lambda document_id: relevance.get(document_id, 0.0) >= ratio * best


def compose(
    cands: list[Candidate],
    vecs: np.ndarray,
    threshold: float,
    cfg: ComposeConfig,
    generator: str,
    prompt_version: str,
    same: np.ndarray | None = None,
    texts: Mapping[str, str] | None = None,
    question: str | None = None,
    relevance: Mapping[str, float] | None = None,
) -> Answer:
    """Pure: the answer (or the decline) from candidates the reader has scored. same[i, j]: i and j
    say the same thing (default: answers/wording.py's restatements()). texts: {document id: text},
    for quotations of several sentences to be shown whole and, with the question, for the articles
    that name what it names. relevance: {document id: its best passage's search score}."""
    chosen = accepted(cands, threshold, cfg, relevance)
    if texts is not None and question is not None:
        chosen = (
            statements_of_the_person_asked(cands, question, texts)
            or age_of_the_person_asked(cands, question)
            or defining_the_acronyms_asked(cands, question)
            or explaining_the_term_asked(cands, question)
            or naming_who_does_what_is_asked(cands, question)
            or naming_the_person_asked(cands, chosen, question)
            or statements_on_the_topic_asked(cands, question, texts)
            or holder_of_the_role_asked(cands, question, texts)
        )
        chosen = with_speakers_named(cands, chosen, question, texts)
    if not chosen:
        return abstain(generator, prompt_version)
    if same is None:
        same = restatements(vecs, [c.text for c in cands], cfg.same_above)
    groups = group(cands, chosen, same, cfg)
    if relevance:
        groups = on_the_story_asked(groups, relevance, cfg.story_ratio)
    if texts is not None:
        if question is not None:
            groups = on_what_is_named(groups, question, texts)
            if not groups:
                return abstain(generator, prompt_version)
            groups = said_by_whom_asked(groups, question, texts)
            groups = on_the_place_asked(groups, question)
            groups = on_the_number_asked(groups, question)
            groups = on_the_year_or_number_asked(groups, question, texts)
            if not groups:
                return abstain(generator, prompt_version)
        groups = with_quotations(groups, texts)
    return answer_from_groups(groups, generator, prompt_version)
