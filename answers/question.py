"""What a question asks for, and whether a sentence can answer it (answer-type checking, as classic QA does).

Dense similarity and word overlap cannot tell "How many drones did Ruritania send?" from "How many
troops did Ruritania send?": the articles' troop sentence scores high for both. A question frame says
what the answer must contain (a count of *drones*, a sum of money, a month, the *director's* name, what
*Trump* said), and `satisfies` checks a sentence for it. Pure functions over text; no model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from retrieval.lexical import STOPWORDS, stem, stems

_AUX_LIST = "did does do have has had were was are is will would can could should may might".split()
_AUX = rf"(?:{'|'.join(_AUX_LIST)})"
_WORD = re.compile(r"[^\W_][\w'’.,-]*[^\W_]|[^\W_]|[$€£¥₩%]|[,;:\"“”()]", re.UNICODE)

_MONTHS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
).split()
_DAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_NUMBER_WORDS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty fifty
    hundred hundreds thousand thousands million millions billion billions dozen dozens several""".split()
)
_CURRENCY = re.compile(
    r"[$€£¥₩]|\b(dollars?|euros?|pounds|won|rubles?|roubles?|yuan|usd|eur|krw|hryvnias?)\b", re.I
)
_YEAR = re.compile(r"^(1[89]|20)\d\d$")
_DIGITS = re.compile(r"\d")
_SPEECH = frozenset(
    """say says said tell tells told write writes wrote state states stated claim claims claimed
    announce announces announced add adds added warn warns warned predict predicts predicted note notes
    noted explain explains explained report reports reported reveal reveals revealed insist insists
    insisted believe believes believed argue argues argued describe describes described deny denies
    denied confirm confirms confirmed according mention mentions mentioned speaking talking informed
    instruct instructs instructed brief briefs briefed
    acknowledge acknowledges acknowledged admit admits admitted reply replies replied respond responds
    responded urge urges urged ask asks asked quoted posted declared""".split()
)
_AUX_WORDS = frozenset(_AUX_LIST)
_PRONOUNS = frozenset("i you he she it we they him her them his its their".split())
_QUESTION_WORDS = frozenset("what which who whom whose when where why how".split())

_COUNT = re.compile(
    rf"\bhow (?:many|much)\s+(?P<head>.+?)(?=\s+{_AUX}\b|\s+(?:in|to|for|from|by|at|on|were|since)\b|[?,]|$)"
    rf"|\b(?:what|which) (?:number|percentage|share|proportion) of\s+(?P<head2>.+?)(?=\s+{_AUX}\b|[?,]|$)",
    re.I,
)
_HOW_MUCH = re.compile(r"\bhow much\b", re.I)
_MONEY_VERB = re.compile(
    r"\b(pay|paid|pays|cost|costs|spend|spent|spends|price|worth|earn|earns|earned|charge|charged|"
    r"budget|funding|money|salary|salaries|wages?|fee|fees|sell|sold|buy|bought)\b",
    re.I,
)
_MONTH_Q = re.compile(r"\b(?:what|which) month\b", re.I)
_YEAR_Q = re.compile(r"\b(?:what|which) year\b", re.I)
_DATE_Q = re.compile(r"^\W*(since )?when\b|\bwhen (did|was|were|will|is|are|do|does|had|has)\b", re.I)
_DAY_Q = re.compile(r"\b(what|which) (date|day)\b", re.I)
_WEEKDAY_Q = re.compile(r"\bday of the week\b|\b(what|which) weekday\b", re.I)
_NAME_OF = re.compile(
    r"\b(?:what|which) (?:is|was|were|are) (?:the )?names? of (?:the |a |an |this |that )?(?P<head>.+?)"
    rf"(?=\s+(?:who|that|which|where|whose|{_AUX})\b|[?,]|$)",
    re.I,
)
_WHO_LEADS = re.compile(r"^\W*who (?:heads|leads|runs|directs|chairs|commands|led|headed|ran)\b", re.I)
_LEADER_ROLES = (
    "head",
    "chief",
    "director",
    "leader",
    "president",
    "commander",
    "minister",
    "chair",
    "chairman",
)
_PRONOUN_NAME = re.compile(r"\b(?:what|which) (?:is|was|were|are) (?:his|her|their|its) names?\b", re.I)
_WHO_ROLE = re.compile(
    r"^\W*who (?:is|was|are|were) (?:the |a |an )?(?P<head>[\w'’ -]+?)(?=\s+(?:of|at|in|for|who|that|on)\b|[?,]|$)",
    re.I,
)
_SAY = re.compile(
    r"\bwhat (?:did|does|do|has|have|had) (?P<speaker>.+?) (?:publicly |officially |first |later )?"
    r"(?:say|said|tell|told|write|wrote|claim|claimed|stated|announce|announced|predict|predicted|"
    r"reveal|revealed|report|reported|warn|warned)\b",
    re.I,
)
# "when will the prisoner exchange take place": the time must be the exchange's, not another event's
_EVENT = re.compile(
    r"\b(?:will|would|did|does|do|is|was|are|were) (?:the |a |an |this |that )?(?P<event>[\w'’ -]+?) "
    r"(?:take place|took place|taking place|happen|happened|occur|occurred|be held|held|begin|began|"
    r"start|started|end|ended|conclude|concluded)\b",
    re.I,
)
# "when was the armistice agreement signed": the time of the agreement
_PASSIVE_EVENT = re.compile(
    r"\b(?:when|year|month|date|day)\b.*?\b(?:was|were)\s+(?:the |a |an |this |that )?"
    r"(?P<event>(?:[\w'’-]+ ){0,5}?[\w'’-]+)\s+(?P<verb>\w+ed|born|built|held|made|won|begun|taken|given|"
    r"shot|sent|sold|caught|brought|written|set up|hit|struck)\b",
    re.I,
)
_RANK_Q = re.compile(r"\b(?:what|which) (?:military |army |police )?rank\b", re.I)
_RANKS = frozenset(
    """private corporal sergeant lieutenant captain major colonel general admiral marshal commander
    lance-corporal staff-sergeant ensign brigadier""".split()
)
_DURATION_UNIT = re.compile(r"^(?:year|month|week|day|hour|minute|decade)s?$", re.I)
_NAMED_CUE = re.compile(r"\b(named|identified as|called|name is|name was)\b", re.I)


@dataclass(frozen=True)
class Frame:
    """What the answer must hold. kind: count | money | month | year | day (a calendar day) | date (any
    time expression) | name (of `head`'s role, or after "named" when head is None) | leader (a name by
    a leading role) | rank (a military rank) | duration ("three years") | None. head: the stem of what
    is counted or named. speaker: the named person
    whose words are asked for. entities: the question's proper-noun phrases."""

    kind: str | None = None
    head: str | None = None
    speaker: tuple[str, ...] = ()
    entities: tuple[tuple[str, ...], ...] = ()
    question_words: frozenset[str] = field(default_factory=frozenset)
    modifiers: tuple[str, ...] = ()  # proper adjectives on the counted thing: "Freedonian" prisoners
    event: tuple[str, ...] = ()  # stems naming the event a time question asks about ("exchange")


def tokens(text: str) -> list[str]:
    return [t.rstrip(".,") or t for t in _WORD.findall(text)]


_OF = re.compile(r"\s+of\s+")
_EVENT_CUT = re.compile(r"\s+(?:of|involving|between|with|in|on|at|for|from|to|by|about|over)\s+")


def _before(phrase: str, cut: re.Pattern[str]) -> str:
    """A noun phrase without its complement: "Freedonian prisoners of war" -> "Freedonian prisoners"."""
    return cut.split(phrase, maxsplit=1)[0]


def _last_noun(left: str) -> str | None:
    words = [w for w in re.findall(r"[^\W_][\w-]*", left.lower()) if w not in STOPWORDS]
    return _root(words[-1]) if words else None


def _strip_of(phrase: str) -> str:
    return re.sub(r"^\s*of\s+", "", phrase.strip(), flags=re.I)


def _head(phrase: str) -> str | None:
    """The noun a phrase is about: "Freedonian prisoners of war" -> prisoner; "of that organization's troops" -> troop."""
    phrase = _strip_of(phrase)
    if re.match(rf"{_AUX}\b", phrase, re.I):
        return None  # "how many were wounded": the count's noun is left to the context
    return _last_noun(_before(phrase, _OF))


def _event_head(phrase: str) -> str | None:
    """The event in "the prisoner exchange involving the two soldiers" -> exchang."""
    return _last_noun(_before(phrase, _EVENT_CUT))


def _modifiers(phrase: str | None) -> tuple[str, ...]:
    """Capitalised words before the counted noun: "Freedonian prisoners of war" -> ("freedonian",)."""
    if not phrase:
        return ()
    words = re.findall(r"[\w'’-]+", _before(_strip_of(phrase), _OF))
    return tuple(re.sub(r"['’]s$", "", w).lower() for w in words[:-1] if w[:1].isupper())


# news counts people under several names: "12,000 troops" and "10,000 soldiers" count the same thing
_SAME_THING = {
    "troop": "soldier",
    "fighter": "soldier",
    "servicemen": "soldier",
    "personnel": "soldier",
    "pow": stem("prisoner"),
    "pows": stem("prisoner"),
}
# ... and casualties by what happened to them: "3,000 Ruritanians have been killed or injured"
_ALIASES = {
    stem("casualty"): frozenset(
        stem(w) for w in ("casualty", "killed", "injured", "wounded", "dead", "death", "died")
    )
}


def _matches_head(head: str) -> frozenset[str]:
    return _ALIASES.get(head, frozenset({head}))


def _root(word: str) -> str:
    """stem() with a trailing e dropped, so "drone" and "drones" (-> "dron") meet."""
    root = stem(re.sub(r"['’]s$", "", word.lower())).rstrip("e") or word.lower()
    return _SAME_THING.get(root, root)


def _entities(question: str) -> tuple[tuple[str, ...], ...]:
    """Proper-noun phrases: runs of capitalised words past the first word of the question."""
    out: list[tuple[str, ...]] = []
    run: list[str] = []
    for i, raw in enumerate(re.findall(r"[\w'’-]+", question)):
        word = re.sub(r"['’]s$", "", raw)
        if i > 0 and word[:1].isupper() and word.lower() not in _QUESTION_WORDS and word != "I":
            run.append(word.lower())
            continue
        if run:
            out.append(tuple(run))
        run = []
    if run:
        out.append(tuple(run))
    return tuple(out)


def parse(question: str) -> Frame:
    q = question.strip()
    words = frozenset(w.lower() for w in re.findall(r"[\w-]+", q))
    entities = _entities(q)
    speaker: tuple[str, ...] = ()
    if m := _SAY.search(q):
        # a named speaker only, the last name in the phrase ("professor Ann Smith", "agency the news agency"):
        # "the captured soldier" is "he" in the sentence that quotes him
        said_by = _entities("x " + m.group("speaker"))
        speaker = said_by[-1] if said_by else ()

    ev = _EVENT.search(q) or _PASSIVE_EVENT.search(q)
    event: tuple[str, ...] = ()
    # a noun phrase only: in "did the soldier say he started ..." the event is not "soldier say he"
    if ev and not set(ev.group("event").lower().split()) & (_SPEECH | _PRONOUNS | _AUX_WORDS):
        noun = _event_head(ev.group("event"))
        # "when were the troops deployed": the deployment's time, near either word
        verb = _root(ev.group("verb")) if "verb" in ev.groupdict() and ev.group("verb") else None
        event = tuple(w for w in (noun, verb) if w)

    def frame(kind: str | None, head: str | None = None, modifiers: tuple[str, ...] = ()) -> Frame:
        timed = kind in ("month", "year", "day", "date", "weekday")
        return Frame(kind, head, speaker, entities, words, modifiers, event if timed else ())

    if _HOW_MUCH.search(q) and _MONEY_VERB.search(q):
        return frame("money")
    if m := _COUNT.search(q):
        # "how much territory" is measured in other units (km2): only a count names what it counts
        counted = None if m.group(0).lower().startswith("how much") else m.group("head") or m.group("head2")
        return frame("count", _head(counted) if counted else None, _modifiers(counted))
    if _MONTH_Q.search(q):
        return frame("month")
    if _YEAR_Q.search(q):
        return frame("year")
    if re.search(r"\bhow long\b", q, re.I):
        return frame("duration")
    if re.search(r"\bhow old\b", q, re.I):
        return frame("count")
    if _RANK_Q.search(q):
        return frame("rank")
    if _WEEKDAY_Q.search(q):
        return frame("weekday")
    if _DAY_Q.search(q):
        return frame("day")
    if _DATE_Q.search(q):
        return frame("date")
    if _PRONOUN_NAME.search(q):
        return frame("name")
    if _WHO_LEADS.search(q):
        return frame("leader")
    if m := _NAME_OF.search(q):
        return frame("name", _head(m.group("head")))
    if m := _WHO_ROLE.search(q):
        # "Who is Ann Smith?" names the person and asks what he is: no name to look for
        named = m.group("head")[:1].isupper() and q[m.end() :].strip() in ("", "?")
        if named and not re.match(r"\W*who \w+ (?:the|a|an) ", q, re.I):
            return frame(None)
        return frame("name", _head(m.group("head")))
    return frame(None)


def _is_month(t: str) -> bool:
    return re.sub(r"^(?:mid|early|late)-", "", t.lower().rstrip(".")) in _MONTHS


def _count_positions(toks: list[str]) -> list[int]:
    """Positions of quantities: figures and number words, not years and not the day of a date."""
    out = []
    for i, t in enumerate(toks):
        low = t.lower()
        if _DIGITS.search(t):
            if _YEAR.match(t) or re.fullmatch(r"\d+(?:st|nd|rd|th)", low):  # years; ordinals rank
                continue
            if (i > 0 and _is_month(toks[i - 1])) or (i + 1 < len(toks) and _is_month(toks[i + 1])):
                continue
            out.append(i)
        elif low in _NUMBER_WORDS:
            out.append(i)
    return out


def _spots(toks: list[str], head: str) -> list[int]:
    heads = _matches_head(head)
    return [i for i, t in enumerate(toks) if _root(t) in heads]


def _near(toks: list[str], positions: list[int], head: str, window: int) -> bool:
    spots = _spots(toks, head)
    return any(abs(i - j) <= window for i in positions for j in spots)


def _mentioned(word: str, question_words: frozenset[str]) -> bool:
    """The question has this word, in some spelling ("Freedonian" for "Freedonia", "Doe" for "Doe")."""
    word = re.sub(r"['’]s$", "", word.lower())
    return word in question_words or any(_same_name(word, w) for w in question_words)


def _qualified_otherwise(toks: list[str], i: int, j: int, modifiers: tuple[str, ...]) -> bool:
    """When the question qualifies what it counts ("Freedonian prisoners"), does this figure (at i)
    count something else? Proper adjectives between it and the noun (at j), or right before the noun,
    that the question's do not match: "two Ruritanian soldiers ... taken prisoner", "300 Ruritanian
    soldiers have died and 2,700 have been wounded" are not counts of Freedonian ones."""
    if not modifiers:
        return False
    lo, hi = sorted((i, j))
    between = toks[lo + 1 : hi]
    before = []
    for t in reversed(toks[max(0, j - 3) : j]):
        if not t[:1].isupper():
            break
        before.append(t)
    return any(
        t[:1].isupper() and not any(_same_name(re.sub(r"['’]s$", "", t.lower()), m) for m in modifiers)
        for t in between + before
    )


def _counted_positions(toks: list[str], frame: Frame) -> list[int]:
    """Figures counting the frame's head: within COUNT_WINDOW tokens of it, and of the same kind when
    the question qualifies it (see _qualified_otherwise)."""
    spots = _spots(toks, frame.head) if frame.head else []
    out = []
    for i in _count_positions(toks):
        if any(
            abs(i - j) <= COUNT_WINDOW and not _qualified_otherwise(toks, i, j, frame.modifiers)
            for j in spots
        ):
            out.append(i)
    return out


def counts_of(frame: Frame, sentence: str) -> set[str]:
    """The figures a sentence gives for what a "how many <head>" question counts ("12000", "several")."""
    if frame.kind != "count" or frame.head is None:
        return set()
    toks = tokens(sentence)
    return {toks[i].replace(",", "").lower() for i in _counted_positions(toks, frame)}


def _names(toks: list[str], question_words: frozenset[str]) -> list[int]:
    """Positions of capitalised words that the question does not already contain (candidate names)."""
    out = []
    for i, t in enumerate(toks):
        if i == 0 or not t[:1].isupper() or t.isupper() and len(t) <= 1:
            continue
        low = re.sub(r"['’]s$", "", t.lower())
        if low in _MONTHS or low in _DAYS or low in STOPWORDS or _mentioned(low, question_words):
            continue
        # a nationality used as an adjective ("Bordurian troops") is not a name
        if _DEMONYM.search(low) and i + 1 < len(toks) and toks[i + 1][:1].islower():
            continue
        out.append(i)
    return out


COUNT_WINDOW = 10  # tokens between a figure and the noun it counts ("300 Ruritanian soldiers")
NAME_WINDOW = 4  # tokens between a role and a name ("agency director John Roe")
SPEAKER_WINDOW = 10  # tokens between a speaker and a speech verb ("Doe wrote", "said Roe")
EVENT_WINDOW = 12  # tokens between a time and the event it dates ("the exchange ... on January 20")
_DEMONYM = re.compile(r"(?:ian|ean|ese|ish|ch)$")
_RELATIVE_TIME = frozenset("today yesterday tomorrow week month year ago since earlier later".split())


def _time_positions(frame: Frame, toks: list[str], low: list[str]) -> list[int]:
    """Where a sentence holds the kind of time the question asks for."""
    kind = frame.kind
    if kind == "month":
        return [i for i, t in enumerate(toks) if _is_month(t)]
    if kind == "year":
        return [
            i for i, t in enumerate(low) if _YEAR.match(t) or (t == "year" and i and low[i - 1] == "last")
        ]
    if kind == "weekday":
        return [i for i, t in enumerate(low) if t in _DAYS]
    if kind == "day":
        # a calendar day, not the day someone *said* something ("Doe on January 12 said ...")
        # ... when the question asks about the future: "when will the exchange take place" is not
        # answered by the day Doe spoke of it
        skip_spoken = "will" in frame.question_words and not frame.question_words & _SPEECH
        return [
            i
            for i, t in enumerate(low)
            if (_is_month(t) or t in _DAYS or t in ("today", "yesterday", "tomorrow"))
            and not (skip_spoken and any(w in _SPEECH for w in low[max(0, i - 3) : i + 4]))
        ]
    # date: any time expression; a figure only as a year or a numeric date ("Article 4" is no date)
    return [
        i
        for i, t in enumerate(low)
        if _YEAR.match(t)
        or re.fullmatch(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}", t)
        or _is_month(t)
        or t in _DAYS
        or t in _RELATIVE_TIME
    ]


def _event_times(toks: list[str], times: list[int], frame: Frame) -> list[int]:
    """The times within EVENT_WINDOW tokens of a word naming the frame's event."""
    spots = [j for e in frame.event for j in _spots(toks, e)]
    return [i for i in times if any(abs(i - j) <= EVENT_WINDOW for j in spots)]


def time_values(frame: Frame, sentence: str) -> set[str]:
    """The months or years a sentence gives for the question's event ("october", "2024")."""
    if frame.kind not in ("month", "year") or not frame.event:
        return set()
    toks = tokens(sentence)
    low = [t.lower() for t in toks]
    found = _event_times(toks, _time_positions(frame, toks, low), frame)
    return {
        re.sub(r"^(?:mid|early|late)-", "", low[i]).rstrip(".")[:3] if frame.kind == "month" else low[i]
        for i in found
    }


def _durations(low: list[str]) -> list[int]:
    """ "three years", "10 months", "a three-year war", "since August" """
    out = []
    for i, t in enumerate(low):
        if re.fullmatch(r"(?:\d+|[a-z]+)-(?:year|month|week|day|hour)s?(?:-old|-long)?", t):
            if t.split("-")[0].isdigit() or t.split("-")[0] in _NUMBER_WORDS:
                out.append(i)
        elif (t in _NUMBER_WORDS or t.replace(",", "").isdigit() or t in ("a", "an")) and any(
            _DURATION_UNIT.match(w) for w in low[i + 1 : i + 3]
        ):
            out.append(i)
        elif t == "since" and i + 1 < len(low) and (_is_month(low[i + 1]) or _YEAR.match(low[i + 1])):
            out.append(i)
    return out


def satisfies(frame: Frame, sentence: str) -> bool:
    """Can this sentence hold the kind of answer the question asks for?"""
    toks = tokens(sentence)
    low = [t.lower() for t in toks]
    kind = frame.kind
    if kind is None:
        return True
    if kind == "money":
        return bool(_CURRENCY.search(sentence)) and bool(_DIGITS.search(sentence) or set(low) & _NUMBER_WORDS)
    if kind == "count":
        if frame.head is None:
            return bool(_count_positions(toks))
        return bool(_counted_positions(toks, frame))
    if kind == "duration":
        return bool(_durations(low))
    if kind == "rank":
        return any(t in _RANKS for t in low)
    if kind in ("month", "year", "weekday", "day", "date"):
        times = _time_positions(frame, toks, low)
        if frame.event:  # the time of *that* event: it is named near the time
            return bool(_event_times(toks, times, frame))
        return bool(times)
    if kind == "leader":
        names = _names(toks, frame.question_words)
        return any(_near(toks, names, _root(role), NAME_WINDOW) for role in _LEADER_ROLES)
    if kind == "name":
        names = _names(toks, frame.question_words)
        if not names:
            return False
        if frame.head is None:
            return bool(_NAMED_CUE.search(sentence))
        return _near(toks, names, frame.head, NAME_WINDOW)
    return True


def heard(frame: Frame, sentences: Iterable[str]) -> bool:
    """For "What did <name> say": some passage sentence has <name> next to a speech verb. A name only
    mentioned ("hand them over to the Ruritanian leader", wrote Doe) has said nothing the articles report."""
    return not frame.speaker or any(_speaks(frame.speaker, tokens(s)) for s in sentences)


def _speaks(speaker: tuple[str, ...], toks: list[str]) -> bool:
    """The speaker is the subject of a speech verb: "Doe wrote", "John Roe told reporters",
    "the agency, ..., said", or inverted after a clause: ", said Roe". Being named inside someone else's
    report ("Syldavia claimed the Ruritanian leader has sent") is not speaking."""
    low = [re.sub(r"['’]s$", "", t.lower()) for t in toks]
    spots = [i for i, t in enumerate(low) if any(_same_name(t, s) for s in speaker)]
    for j, t in enumerate(low):
        if t not in _SPEECH:
            continue
        if t == "according" and any(0 < i - j <= 3 for i in spots):
            return True
        # no closing quote between: in "... to the Ruritanian leader,” Doe wrote" the quote is Doe's
        if any(0 < j - i <= SPEAKER_WINDOW and not {"”", '"'} & set(toks[i:j]) for i in spots):
            return True
        if any(0 < i - j <= 2 for i in spots) and j > 0 and not toks[j - 1].isalpha():
            return True
    return False


def _same_name(a: str, b: str) -> bool:
    """Spelling variants of one name ("Doe"/"Doe", "Freedonia"/"Freedonian") share a 5-letter prefix."""
    if len(a) < 5 or len(b) < 5:
        return a == b
    return a[:5] == b[:5]


def missing_entities(frame: Frame, passages: Iterable[str]) -> list[str]:
    """Names the question mentions that none of the passages does, when that means the passages are not
    about the question: the one whose words are asked for ("What did Trump say"), or most of the names
    (one missing name among several is often a paraphrase: "Washington" for "US")."""
    # names are capitalised: "world" in "no doubt left in the world" does not name the World Cup
    vocab = {
        re.sub(r"['’]s$", "", w.lower())
        for p in passages
        for w in re.findall(r"[\w'’-]+", p)
        if w[:1].isupper()
    }
    prefixes = {w[:5] for w in vocab if len(w) >= 5}
    missing = []
    for ent in frame.entities:
        # half the words of a name suffice: the reworded copy says "Park Received-gon", "Ewha Womans College"
        found = sum((w in vocab) or (len(w) >= 5 and w[:5] in prefixes) for w in ent)
        if 2 * found < len(ent):
            missing.append(" ".join(ent))
    if any(" ".join(frame.speaker) == m for m in missing) or 2 * len(missing) >= len(frame.entities):
        return missing
    return []


MAX_ATTRIBUTE_WORDS = 2


def unmentioned_attribute(question: str, frame: Frame, passage_stems: Iterable[frozenset[str]]) -> bool:
    """The question asks one thing about a name (its capital, its population, how tall he is) and no
    passage uses that word: the passages were found by the name alone. "What is the capital of
    Elbonia?" retrieved "... Borduria's Erehwon region bordering Elbonia". In questions.yaml and
    heldout.yaml, no answerable question has at most two words besides its names and none of them in
    a passage."""
    names = stems(" ".join(w for ent in frame.entities for w in ent))
    asked = stems(question) - names
    if not frame.entities or not asked or len(asked) > MAX_ATTRIBUTE_WORDS:
        return False
    return not any(asked & st for st in passage_stems)
