"""Follow-up questions made standalone before retrieval and reading (pure).

"Where was he captured?" after "When was the first prisoner born?" becomes "Where was the first
prisoner captured?": a pronoun or a demonstrative ("that offer") is replaced by what the previous
turn was about. A follow-up with nothing to replace ("And the other one?") keeps the previous turn's
content words in brackets, so retrieval still finds the topic.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from retrieval.lexical import STOPWORDS, query_terms, stem

_REFERENCE = re.compile(
    r"\b(he|she|they|him|her|them|his|hers|their|theirs|it|its|that|this|those|these|"
    r"there|the same|the other|the two|the men|the soldier|the soldiers)\b",
    re.I,
)
_ELLIPTIC_START = re.compile(r"^\s*(and|but|so|also|what about|how about|then)\b", re.I)
_ENTITY = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][A-Za-z-]+|\b[A-Z]{2,}\b")

# a name: capitalised words in a row ("the Ruritanian leader", "Syldavia's spy agency" gives "Syldavia")
_NAME = re.compile(r"\b[A-Z][\w-]*(?:\s+(?:of\s+)?[A-Z][\w-]*)*")
# "the first prisoner", "the captured soldiers", "the spy agency": the, then up to four words
# a nationality or a people ("Ruritanian", "Syldavian", "Chinese", "British"), which often qualifies a noun
_DEMONYM = re.compile(r"(?:an|ese|ish)$")
_THE_PHRASE = re.compile(r"\b(?:the|a|an)\s+((?:[\w-]+\s+){0,3}[\w-]+)", re.I)
# words that end a noun phrase: function words, and verb forms a question puts after its subject
_VERBS_AFTER_SUBJECT = frozenset(
    "born told held sent taken given shown seen made known found kept brought caught captured killed "
    "wounded say said tell think believe want happen happened mean react respond".split()
)
_PHRASE_END = STOPWORDS | _VERBS_AFTER_SUBJECT
WH_WORDS = frozenset("what when where who whom whose why how which".split())
_QUESTION_WORDS = WH_WORDS | frozenset("did does do was were is are has have".split())
_DO_SUPPORT = re.compile(r"\b(?:did|does|do)\s*$", re.I)
_WHAT_ABOUT = re.compile(r"^\s*(?:and|but|so|also)?\s*(?:what|how)\s+about\s+(?P<x>[^?]+?)\s*\??\s*$", re.I)
# a pronoun that stands for a thing, not followed by the noun it points at
_LEFT_OPEN = re.compile(r"\b(?:it|its|them|this|that|these|those)\b(?!\s+[a-z])(?!\s+[A-Z])", re.I)
_PERSONAL = re.compile(r"\b(he|she|him|her|they|them)\b", re.I)
_POSSESSIVE = re.compile(r"\b(his|her|their)\b", re.I)
# "her" before a content word is a possessive ("her first match"); at the end, or before a function
# word ("fined her", "gave her the award"), it is the object
_NEXT_WORD = re.compile(r"\s+([\w'’-]+)")
_OBJECT_PRONOUNS = frozenset({"him", "her", "them"})
# a name right after one of these is a place ("captured in Syldavia"), which "he" or "they" never is
_PLACE_BEFORE = re.compile(r"\b(?:in|at|near|into|inside|outside|from)\s*$", re.I)
# pronouns that stand for a person; a question that asked for one
_GENDERED = re.compile(r"\b(?:he|she|him|her|his|hers)\b", re.I)
_ASKS_WHO = re.compile(r"^\s*(?:and\s+)?(?:who|whom|which)\b", re.I)
# ... that names someone after its auxiliary ("Who did Marta Vidal offer ...?", "Who is Priya Sandhu?"):
# "he" is then that person, the question's own subject, not the one the answer names
_NAMES_ASKER = re.compile(
    r"^\s*(?i:and\s+)?(?i:who|whom|which(?:\s+[a-z]+)?)\s+"
    r"(?i:did|does|do|will|would|can|could|should|has|have|had|is|was|are|were)\s+"
    r"(?>[A-Z][\w-]*(?:\s+[A-Z][\w-]*)*)(?!['’])"  # not "Who is Harbour United's director?"
)
# capitalised words in a row, none of them a sentence's function word ("The", "A")
_NAME_WORD = r"[A-Z][\w’'-]*[a-z][\w-]*"
# lowercase words inside a name ("Henk de Vries", "Ludwig van Beethoven")
_NAME_PARTICLE = r"(?:de|da|di|du|del|della|der|den|van|von|la|le|bin|ibn|al|dos|das|ter|ten)"
_FULL_NAME = re.compile(rf"\b{_NAME_WORD}(?:\s+(?:{_NAME_PARTICLE}\s+)*{_NAME_WORD})+")
# words that open a name but are no part of it
_NAME_ROLES = frozenset("the a an mr mrs ms dr".split())
# a count that opens a sentence ("One Belgian diver ..."): what follows describes, not names
_COUNTS = frozenset(
    "one two three four five six seven eight nine ten another each every both some several".split()
)
_DEMONSTRATIVE_NOUN = re.compile(r"\b(?:that|this|these|those)\s+(?P<noun>[a-z][\w-]*(?:['’]s)?)", re.I)


# emoji and pictographs (dingbats, the emoji planes, their joiner and presentation selector): the
# embedder and the reader read them as unknown tokens, and "🙂 Who was captured?" was declined
_EMOJI = re.compile("[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff\ufe0f\u200d]+")


def as_question(text: str) -> str:
    """The question as the reader learned questions, and as search reads it: without emoji, ending in
    one "?" (the reader's training and calibration questions nearly all do; typed without one, the
    same question scored higher, and its vector found other passages, so its answer depended on the
    punctuation). One that holds a "?" before other words is left as it is: a follow-up with the
    earlier turn's words after it (rewrite_follow_up)."""
    if (plain := _EMOJI.sub(" ", text)) != text:
        text = " ".join(plain.split())
    text = text.rstrip()
    if text.endswith("?"):
        return text.rstrip("?").rstrip() + "?"
    return text if "?" in text else text.rstrip(".!。").rstrip() + "?"


def is_follow_up(question: str) -> bool:
    has_entity = bool(_ENTITY.search(question.strip()))
    refers = bool(_REFERENCE.search(question))
    elliptic = bool(_ELLIPTIC_START.match(question))
    few_words = len(query_terms(question)) <= 3
    return (refers or elliptic or few_words) and not (has_entity and not refers)


def _name_words(m: re.Match[str]) -> list[str]:
    """A `_NAME` match's words without the question words and function words before it ("How",
    "Did")."""
    words = m.group(0).split()
    while words and (words[0].lower() in _QUESTION_WORDS or words[0].lower() in STOPWORDS):
        words = words[1:]
    return words


def _phrase_words(m: re.Match[str]) -> list[str]:
    """A `_THE_PHRASE` match's noun phrase: its words up to the first that ends one (after one)."""
    words: list[str] = []
    for w in m.group(1).split():
        if w.lower() in _PHRASE_END and words:
            break
        words.append(w)
    return words


def referent(previous: str) -> str | None:
    """What a question is about: its first name or noun phrase ("Doe", "the first prisoner")."""
    found: list[tuple[int, str]] = []
    for m in _NAME.finditer(previous):
        name = _name_words(m)
        if name:
            found.append(
                (m.start(), " ".join(name).removesuffix("'s").removesuffix("’s") + _people(previous, m))
            )
            break
    for m in _THE_PHRASE.finditer(previous):
        words = _phrase_words(m)
        after = re.findall(r"[\w'’-]+|[^\w\s]", previous[m.start(1) :])[len(words) :]
        qualifier, verb_seen = _qualifier(after) if words else ([], False)
        do_support = _DO_SUPPORT.search(previous[: m.start()]) is not None
        if qualifier:
            # "did the head of the agency resign?": after do-support the verb ends the phrase, unless
            # one of the verbs a question puts after its subject stopped it first ("... jaw say")
            ends_in_verb = do_support and not verb_seen
            ends_in_verb |= qualifier[-1].endswith("ed") and not verb_seen
            if ends_in_verb and len(qualifier) > 2:
                qualifier = qualifier[:-1]
        # "did the captured soldiers belong to": after do-support the subject ends before the verb
        elif len(words) > 1 and do_support:
            words = words[:-1]
        # "where were the two smugglers arrested?": a participle that ends the question is its verb
        elif len(words) > 1 and words[-1].endswith("ed") and not previous[m.end() :].strip(" ?"):
            words = words[:-1]
        words += qualifier
        if words:
            found.append((m.start(), "the " + " ".join(words)))
            break
    return min(found)[1] if found else None


def _qualifier(tokens: list[str]) -> tuple[list[str], bool]:
    """A "with" or "of" phrase that qualifies the noun before it ("the soldier with the injured jaw",
    "the head of the agency"), up to three words after its article; and whether a verb that a
    question puts after its subject ended it ("say"), else its last word may be the question's verb."""
    if len(tokens) < 2 or tokens[0].lower() not in ("with", "of"):
        return [], False
    out = [tokens[0]]
    if tokens[1].lower() in ("the", "a", "an", "his", "her", "their", "its"):
        out.append(tokens[1])
    for t in tokens[len(out) : len(out) + 3]:
        if not re.match(r"[\w'’-]", t) or t.lower() in _PHRASE_END:
            if len(out) == 1 or out[-1].lower() in STOPWORDS:
                return [], False
            return out, t.lower() in _VERBS_AFTER_SUBJECT
        out.append(t)
    return out, False


def _people(text: str, name: re.Match[str]) -> str:
    """The plural noun a nationality or group name qualifies: " soldiers" after "Ruritanian" in
    "How many Ruritanian soldiers died?", so that "they" is the soldiers, not the country."""
    if not _DEMONYM.search(name.group(0)):
        return ""
    nxt = re.match(r"\s+([a-z][a-z-]*[^s'’]s)\b", text[name.end() :])
    if nxt is None or nxt.group(1) in _PHRASE_END or stem(nxt.group(1)) in _PHRASE_END:
        return ""
    return " " + nxt.group(1)


def _pronoun(pattern: re.Pattern[str], question: str, possessive: bool) -> re.Match[str] | None:
    """The first match of a pronoun pattern that is used as `possessive` says ("her" is either)."""
    for m in pattern.finditer(question):
        if m.group(0).lower() != "her":
            return m
        nxt = _NEXT_WORD.match(question, m.end())
        if (nxt is not None and nxt.group(1).lower() not in STOPWORDS) == possessive:
            return m
    return None


def resolve(question: str, previous: str, person: str | None = None) -> str | None:
    """The question with its pronoun or demonstrative replaced by the previous turn's referent (the
    person its answer named, when given, for "he" or "she"), or None when it has neither or the
    previous turn names nothing."""
    about = person if person and _GENDERED.search(question) else referent(previous)
    if about is None:
        return None
    personal = _pronoun(_PERSONAL, question, possessive=False)
    possessive = _pronoun(_POSSESSIVE, question, possessive=True)
    pronoun = personal or possessive
    if (
        pronoun
        and pronoun.group(0).lower() not in _OBJECT_PRONOUNS
        and referent(question[: pronoun.start()]) is not None
    ):
        # "what about the other prisoner: when was he born?": he is named in the question. An object
        # pronoun is never its own clause's subject ("which units caught them" would say "themselves"),
        # so it still points back at the previous turn.
        return None
    if personal and _PLACE_BEFORE.search(previous[: previous.find(about)] if about in previous else ""):
        return None  # "he" after "who was captured in Syldavia?" is not Syldavia: a place is no person
    if personal:
        return question[: personal.start()] + about + question[personal.end() :]
    if possessive:
        owner = about + ("'" if about.endswith("s") else "'s")
        return question[: possessive.start()] + owner + question[possessive.end() :]
    if m := _DEMONSTRATIVE_NOUN.search(question):
        # "that organization" -> the previous turn's phrase for it ("the Ruritanian military
        # organization"); a thing it did not name -> "the offer", with what that turn was about
        named = _phrase_ending_in(previous, m.group("noun"))
        if named:
            owner = (
                m.group("noun")[len(m.group("noun").rstrip("'’s")) :]
                if re.search(r"['’]s$", m.group("noun"))
                else ""
            )
            return question[: m.start()] + "the " + named + owner + question[m.end() :]
        out = question[: m.start()] + "the " + m.group("noun") + question[m.end() :]
        return out if about.lower() in out.lower() else f"{out.rstrip('?').rstrip()} ({about})?"
    return None


def _phrase_ending_in(text: str, noun: str) -> str | None:
    """The words of text up to and including `noun` (matched by stem), back to the last function word:
    "which Ruritanian military organization" for "organization"."""
    words = re.findall(r"[\w'’-]+", text)
    target = stem(re.sub(r"['’]s$", "", noun))
    for i, w in enumerate(words):
        if stem(re.sub(r"['’]s$", "", w)) == target:
            j = i
            while j > 0 and i - j < 3 and words[j - 1].lower() not in _PHRASE_END | _QUESTION_WORDS:
                j -= 1
            return " ".join(words[j : i + 1])
    return None


# "And in Japan?", "And the Herald's?": an elliptic follow-up that is only a phrase; one with a
# question word of its own ("And how many were wounded?") is a question, resolved as such
_AND_X = re.compile(r"^\s*(?:and|but|also|or)\s+(?P<x>[^?]+?)\s*\??\s*$", re.I)
_PREPOSITION = re.compile(
    r"^(?:in|on|at|for|from|during|since|before|after|by|near|under|over|outside|inside|across)$", re.I
)
# a preposition of two words ("And according to the union?" asks the previous question of another source)
_TWO_WORD_PREPOSITION = re.compile(
    r"^(?:according to|because of|instead of|ahead of|next to|outside of|out of)\s+", re.I
)
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
# the embedder's cosine of two names of one kind of thing (two countries, two years, two roads); a
# person and a company, or two people, rarely come this close, so "what about" a person keeps to the
# question's first name (its subject), as before
SAME_KIND = 0.5

Similarity = Callable[[str, list[str]], list[float]]


def _elliptic_phrase(question: str) -> str | None:
    """X of "What about X?", "How about X?", "And X?" (a short phrase, no question of its own)."""
    if (m := _WHAT_ABOUT.match(question)) is not None:
        return m.group("x")
    m = _AND_X.match(question)
    if m is None:
        return None
    words = m.group("x").split()
    first = words[0]
    opens_phrase = (
        bool(_PREPOSITION.match(first))
        or _TWO_WORD_PREPOSITION.match(m.group("x")) is not None
        or first.lower() in ("the", "a", "an")
        or first[0].isupper()
        or first[0].isdigit()
    )
    if not opens_phrase or any(w.lower() in _QUESTION_WORDS for w in words):
        return None  # (a phrase of more than six words is no swap either: `swap`)
    return m.group("x")


def _preposition_and_rest(x: str) -> tuple[str, str] | None:
    """("in", "Japan") of "in Japan", ("according to", "the union") of "according to the union"; None when x
    does not open with a preposition or holds nothing after it."""
    if (m := _TWO_WORD_PREPOSITION.match(x)) is not None:
        return (m.group(0).strip(), x[m.end() :]) if x[m.end() :].strip() else None
    first, *rest = x.split(maxsplit=1)
    return (first, rest[0]) if _PREPOSITION.match(first) and rest else None


def _slots(previous: str) -> list[tuple[int, int]]:
    """Spans of the previous question a "what about" phrase may stand in for: its names, numbers and
    "the ..." phrases, in order."""
    spans = []
    for m in _NAME.finditer(previous):
        if words := _name_words(m):
            name = " ".join(words)
            start = m.end() - len(name)
            if previous[start : m.end()] != name:
                continue
            spans.append((start, start + len(name.removesuffix("'s").removesuffix("’s"))))
    spans += [(m.start(), m.end()) for m in _NUMBER.finditer(previous)]
    for m in _THE_PHRASE.finditer(previous):
        if words := _phrase_words(m):
            spans.append((m.start(), m.start(1) + len(" ".join(words))))
    return sorted(set(spans))


def _after_preposition(
    previous: str, spans: list[tuple[int, int]], preposition: str
) -> tuple[int, int] | None:
    """The last slot right after this preposition ("in Germany", "on the A64"), its article included."""
    found = None
    for start, end in spans:
        m = re.search(rf"\b{re.escape(preposition)}\s+((?:the|a|an)\s+)?$", previous[:start], re.I)
        if m is not None:
            found = (m.start(1) if m.group(1) else start, end)
    return found


def swap(question: str, previous: str, similar: Similarity | None = None) -> str | None:
    """ "What about X?" / "And in X?": the previous question, asked about X instead of what X stands
    for there: what follows the same preposition ("in Germany" for "in Japan"), else the phrase the
    embedder (`similar`: cosines of X to each option) puts of one kind with X, else what the previous
    question was about (its first name or noun phrase)."""
    x = _elliptic_phrase(question)
    if x is None:
        return None
    if not re.fullmatch(r"[\w'’ .-]+", x) or len(x.split()) > 6:
        return None  # "what about the other one: when was he born?" asks a question of its own
    spans = _slots(previous)
    if (split := _preposition_and_rest(x)) is not None:
        preposition, rest = split
        span = _after_preposition(previous, spans, preposition)
        if span is None:  # "And in Japan?" after a question that named no place: asked there
            return f"{previous.rstrip().rstrip('?').rstrip()} {x}?"
        return previous[: span[0]] + rest + previous[span[1] :]
    texts = [previous[a:b] for a, b in spans]
    if similar is not None and len(set(texts)) > 1:
        cosines = similar(x, texts)
        best = max(range(len(texts)), key=lambda i: cosines[i])
        if cosines[best] >= SAME_KIND:
            a, b = spans[best]
            return previous[:a] + x + previous[b:]
    about = referent(previous)
    if about is None or about not in previous:
        return None
    before = previous[: previous.find(about)].split()
    if before and x.split()[0].lower() == before[-1].lower() and len(x.split()) > 1:
        x = x.split(maxsplit=1)[1]  # "what about on the M62?" after "drivers on the A64": one "on"
    return previous.replace(about, x, 1)


def asks_for_person(question: str, previous: str) -> bool:
    """Whether "he" or "she" in the question is likely the person the previous turn asked for ("Who
    is the club's sporting director?" / "Which auditor found the fraud?"), not one it names ("Who did
    Marta Vidal offer to exchange ...?": "she" is Marta Vidal)."""
    return (
        bool(_GENDERED.search(question))
        and bool(_ASKS_WHO.match(previous))
        and not _NAMES_ASKER.match(previous)
        and is_follow_up(question)
    )


_BRACKETED_NAME = re.compile(r"\((?:[A-Z][\w&.'’-]*\s*)+\)")


def named_person(quotes: list[str], asked: str) -> str | None:
    """The first full name (two or more capitalised words: "Helen Marsh", "Detective Sergeant Priya
    Quill"; a counted description, "One Belgian diver", as "the Belgian diver") that the question
    it answered does not hold, in the answer's cited sentence that
    repeats most of the question's words (the one that says who; the others add to it), then in the
    next."""
    # "Teachers'" and "Teachers's" are the question's "Teachers"
    known = {re.sub(r"['’]s?$", "", w.casefold()) for w in re.findall(r"[\w'’-]+", asked)}
    wanted = set(query_terms(asked))
    for quote in sorted(quotes, key=lambda q: -len(wanted & set(query_terms(q)))):  # stable: ties keep order
        # a name alone in brackets is a credit, not the sentence's subject: the dateline's
        # "TESSALY, Nov 3 (Meridian Press) - Julia Navarro won ..."
        quote = _BRACKETED_NAME.sub(lambda b: " " * len(b.group(0)), quote)
        for m in _FULL_NAME.finditer(quote):
            words = [w for w in m.group(0).split() if w.casefold() not in _NAME_ROLES]
            if words and words[0].casefold() in _COUNTS:
                # "One Belgian diver": a description, with the noun it describes
                noun = re.match(r"\s+([a-z][a-z-]+)", quote[m.end() :])
                if noun and len(words) >= 2:
                    return " ".join(["the", *words[1:], noun.group(1)])
                continue
            if len(words) >= 2 and not all(w.casefold() in known for w in words):
                return " ".join(words)
    return None


def rewrite_follow_up(
    question: str, history: list[str], person: str | None = None, similar: Similarity | None = None
) -> str:
    """The follow-up as a standalone question (unchanged when it is not a follow-up); `person`: whom
    the previous turn's answer named (asks_for_person, named_person); `similar`: the embedder's
    cosines of a phrase to others (swap)."""
    if history and (swapped := swap(question, history[-1], similar)) is not None:
        return swapped
    if not history or not is_follow_up(question):
        return question
    standalone = resolve(question, history[-1], person)
    if standalone is not None and not _LEFT_OPEN.search(standalone):
        return standalone
    # nothing to resolve, or a reference left ("what did the agency say about it?"): the previous turn's
    # content words the question lacks go with it
    base = standalone or question
    have = set(query_terms(base))
    carried = [w for w in words_as_written(history[-1]) if w.lower() not in have]
    return f"{base} ({' '.join(carried)})" if carried else base


def words_as_written(turn: str) -> list[str]:
    """A turn's content words (`query_terms`) as it wrote them, so that the names it holds stay names
    ("Harbor Logistics", for compose's `on_what_is_named`); its first word lower-cased, since any
    sentence starts with a capital."""
    wanted = set(query_terms(turn))
    out: dict[str, str] = {}
    for i, m in enumerate(re.finditer(r"[^\W_]+", turn)):
        word = m.group(0) if i else m.group(0).lower()
        if word.lower() in wanted:
            out.setdefault(word.lower(), word)
    return list(out.values())
