"""What news says of a person in a few fixed forms, for the questions the reader reads poorly: who
holds a role ("Who is the chief executive of Northbridge Energy?", "What is the name of Harrowby's
mayor?", "What did the interior minister say?") and how old someone is ("How old is Julia Navarro?").

The reader, taught to find an answer's words in a sentence about them, scores low a sentence that
names the role's holder in passing ("Chief executive Martin Rusk said the job cuts ...") while the
name beside the role is the answer. News names a role's holder in a few fixed ways, in any English
corpus: the role before the name ("Chief executive Martin Rusk", "Brindle's chief executive,
Sarah Olden,"), the name before the role ("Sarah Olden, Brindle's chief executive,"), or a verb
between them ("Marsh was elected mayor"); and an age beside the name ("Navarro, 39, a former
engineer", "the 39-year-old Navarro").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from answers.candidates import Candidate
from retrieval.lexical import article_stems, stems
from retrieval.sentences import split_sentences

MAX_ARTICLE_CHARS = 100_000  # a longer text is not read through for what it says of a person
MAX_FOUND = 20

_NAME = r"[A-Z][\w’'-]+(?:\s[A-Z][\w’'-]+){0,3}"
# the owner of a role, before "'s": "Brindle's", "Northbridge Energy's", "the council's"
_OWNER = r"(?:the\s+)?(?P<owner>[A-Za-z][\w’'.-]*(?:\s+[A-Z][\w’'.-]*){0,3})[’']s"
_ROLE_WORDS = r"(?P<role>[a-z][\w-]*(?:\s+[a-z][\w-]*){0,3})"
_ASKS = (
    # "Who is the chief executive of Northbridge Energy?", "Who was the mayor of Harrowby?"
    re.compile(
        rf"^\s*[Ww]ho\s+(?:is|was|are|were)\s+(?:the\s+|its\s+)?{_ROLE_WORDS}\s+(?:of|at|for|in)\s+"
        r"(?:the\s+)?(?P<org>[A-Z][^?]*?)\s*[?.!]*\s*$"
    ),
    # "Who is Brindle's chief executive?", "Who is the council's finance officer?"
    re.compile(rf"^\s*[Ww]ho\s+(?:is|was|are|were)\s+{_OWNER}\s+{_ROLE_WORDS}\s*[?.!]*\s*$"),
    # "What is the name of Harrowby's mayor?"
    re.compile(rf"^\s*[Ww]hat\s+(?:is|was)\s+the\s+name\s+of\s+{_OWNER}\s+{_ROLE_WORDS}\s*[?.!]*\s*$"),
    # "What is the name of the mayor of Harrowby?"
    re.compile(
        rf"^\s*[Ww]hat\s+(?:is|was)\s+the\s+name\s+of\s+the\s+{_ROLE_WORDS}\s+(?:of|at|for|in)\s+"
        r"(?:the\s+)?(?P<org>[A-Z][^?]*?)\s*[?.!]*\s*$"
    ),
    # "Who chairs the Northvale Transport Authority?": the role a verb names (_VERB_ROLES)
    re.compile(
        r"^\s*[Ww]ho\s+(?:now\s+|currently\s+)?(?P<verb>chairs|heads|leads|manages|coaches|directs|governs|"
        r"owns|edits|captains)\s+(?:the\s+)?(?P<org>[A-Z][^?]*?)\s*[?.!]*\s*$"
    ),
)
# the titles of whoever a verb says holds a role, as news names them ("chairman Oscar Lindqvist")
_VERB_ROLES = {
    "chairs": "chair|chairman|chairwoman|chairperson",
    "heads": "head|chief",
    "leads": "leader|head",
    "manages": "manager",
    "coaches": "coach|head coach",
    "directs": "director",
    "governs": "governor",
    "owns": "owner",
    "edits": "editor",
    "captains": "captain",
}


@dataclass(frozen=True)
class RoleAsked:
    role: str  # lower-case words: "chief executive"; titles that are one role split by "|"
    holder_of: str  # whose role it is, as asked ("Northbridge Energy"); "" when not said


def role_asked(question: str) -> RoleAsked | None:
    """The role a question asks the holder of, or None for any other question."""
    for pattern in _ASKS:
        m = pattern.match(question)
        if m is not None:
            found = m.groupdict()
            role = _VERB_ROLES[found["verb"]] if found.get("verb") else found["role"].lower()
            return RoleAsked(role, (found.get("org") or found.get("owner") or "").strip())
    return None


def holders(sentence: str, role: str) -> list[str]:
    """The names a sentence gives as this role's holder now: "Chief executive Martin Rusk",
    "Brindle's chief executive, Sarah Olden", "Sarah Olden, Brindle's chief executive", "Marsh was
    elected mayor"; not a deputy's, a former or an acting holder's ("deputy interior minister Tariq
    Osman", "Novak, who was finance minister until May"), unless the role asked is theirs."""
    return [name for _, name in holders_at(sentence, role)]


@lru_cache(maxsize=64)  # a whole article's, asked of each of its sentences
def holders_at(text: str, role: str) -> tuple[tuple[int, str], ...]:
    """(where the name starts, the name) of each holder of this role the text names (`holders`),
    in text order."""
    words = "|".join(r"\s+".join(map(re.escape, title.split())) for title in role.split("|"))
    # the role in any case ("Mayor Tom Marsh"), with a word that ends its title ("chief executive
    # officer"), not one that goes on ("chief executive after Okafor exit")
    r = rf"(?P<role>(?i:\b(?:{words})(?:s|es)?))(?:\s+(?:officer|designate|elect))?"
    patterns = (
        rf"{r},?\s+(?P<name>{_NAME})",
        # "The head of the National Emergency Agency, Tomas Brenner, said"
        rf"{r}\s+(?:of|at|for|on|in)\s+(?:the\s+)?(?:[\w’'-]+\s+){{0,4}}?[\w’'-]+,\s+(?P<name>{_NAME})",
        rf"(?P<name>{_NAME}),\s+(?:(?:the|a|its|their|his|her)\s+|{_OWNER}\s+)?(?P<between>(?:[a-z][\w-]*\s+){{0,3}}?){r}\b",
        # "Marsh was elected mayor" (not "Lind was transport minister for three years": a past one)
        # "Ivo Brenner, has served as interim chief executive", "Lee took over as mayor"
        rf"(?P<name>{_NAME}),?\s+(?:is|has\s+been|became|was\s+(?:elected|appointed|named|made)|"
        rf"(?:has\s+served|serves|is\s+serving|took\s+over|stepped\s+in)\s+as)\s+"
        rf"(?:as\s+)?(?:the\s+|a\s+|its\s+)?(?:[a-z][\w-]*\s+){{0,2}}?{r}\b",
        # "Corvell Energy on Monday appointed Marcus Dahl as its chief executive"
        rf"\b(?:appoint(?:ed|s)?|name[ds]?|elect(?:ed|s)?|hire[ds]?|chose|picked)\s+(?P<name>{_NAME})\s+"
        rf"(?:as\s+)?(?:(?:its|the|their|a|new)\s+)*(?:[a-z][\w-]*\s+){{0,2}}?{r}\b",
    )
    asked = set(re.split(r"[\s|]+", role.lower()))
    found = []
    for p in patterns:
        for m in re.finditer(p, text):
            name = m.group("name")
            # the word before the role, in its sentence; and a title word before that ("former
            # managing director" is no director now)
            lead = re.split(r"[.!?\n]", text[max(0, m.start("role") - 40) : m.start("role")])[-1]
            leading = re.findall(r"[a-z]+", lead.lower())
            before = leading[-1:] + [w for w in leading[-2:-1] if w in _TITLE_WORDS]
            between = set(re.findall(r"[a-z]+", (m.groupdict().get("between") or "").lower()))
            if (
                # a name is no sentence-opening common word ("The chief executive ...")
                name.split()[0].lower() not in _NOT_NAMES
                and not (set(before) | between) & (_NOT_NOW - asked)
                # the role beside the name, not after a verb ("Ada Quill, said in her report")
                and not between & _NOT_BETWEEN
            ):
                found.append((m.start("name"), name))
    return tuple(sorted(found))


def holder_before(text: str, at: int, role: str) -> str:
    """The holder of a person's role ("the minister", "the company's chief executive") the text
    last names before `at`: whom "the minister said" means. "" when it names none, or the role is
    a body's or several people's ("the police", "the prosecutors")."""
    role = re.sub(r"^.*[’']s\s+", "", role.lower())  # "the company's chief executive": its role
    if not role or not one_persons(role):
        return ""
    named = [name for start, name in holders_at(text, role) if start < at]
    return re.sub(r"[’']s$", "", named[-1]) if named else ""


# what makes a role another's than its holder's now: "deputy", "former", "acting"; "who was"
_NOT_NOW = frozenset(
    "deputy vice former acting interim outgoing incoming previous ex assistant associate late then "
    "was were had until".split()
)


# the words of _NOT_NOW that make a title another's a word away from its role ("former managing
# director"), not only right before it
_TITLE_WORDS = frozenset(
    "deputy vice former acting interim outgoing incoming previous ex assistant associate".split()
)


# what the words between a name and its role are not: "Sarah Olden, the company's new chief
# executive", not "Ada Quill, said in her report" nor "the Teachers' Union, whose general
# secretary" (the union is not its secretary)
_NOT_BETWEEN = frozenset(
    "said says told added wrote warned in on at of to for with by from into about after before and or "
    "but who whose which that when while as".split()
)


# what opens a run of capitals that names no person: a sentence's first word, a day, a month
_NOT_NAMES = frozenset(
    "the a an its their his her this that these those he she it they we "
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june "
    "july august september october november december".split()
)


def holder_answered(quotes: list[str], question: str) -> str | None:
    """For "Who is the <role> of <X>?", the holder the first cited sentence that names one gives
    ("Tomas Reyland" of "the Teachers' Union, whose general secretary, Tomas Reyland, addressed
    ..."): whom a follow-up's "he" or "she" means. None for any other question, or when none does."""
    asked = role_asked(question)
    found = [n for q in quotes for n in _holders_named(q, asked.role)] if asked is not None else []
    return re.sub(r"[’']s$", "", found[0]) if found else None


def _holders_named(sentence: str, role: str) -> list[str]:
    """`holders`, and for a role of several words whose first the sentence has as an owner, the
    holders of the rest: "the county environment officer" is "the county's environment officer"."""
    found = holders(sentence, role)
    first, _, rest = role.partition(" ")
    if found or not rest or "|" in role:
        return found
    return holders(sentence, rest) if re.search(rf"(?i)\b{re.escape(first)}[’']s\b", sentence) else []


def holder_of_the_role_asked(cands: list[Candidate], question: str, texts: Mapping[str, str]) -> list[int]:
    """For "Who is the <role> of <X>?": the candidate that names a holder of that role, from the
    sentence that names X too if one does, else from an article whose title names X, else from any
    article that names X (or any, when X is not said); the reader's most probable among them. Empty
    for any other question, or when no candidate names the role's holder."""
    asked = role_asked(question)
    if asked is None:
        return []
    naming = [i for i, c in enumerate(cands) if _holders_named(c.text, asked.role)]
    if not naming:
        return []
    of = stems(asked.holder_of)
    if of:
        tiers = (
            [i for i in naming if of <= stems(cands[i].text)],
            [i for i in naming if of <= stems(cands[i].title)],
            [
                i
                for i in naming
                if of <= article_stems(f"{cands[i].title}\n{texts.get(cands[i].document_id, cands[i].text)}")
            ],
        )
        naming = next((t for t in tiers if t), [])
    return sorted(naming, key=lambda i: -cands[i].probability)[:1]


# "What did the interior minister say about ...?", "What has the head of the agency told reporters?"
_ASKS_ROLE_SAID = re.compile(
    r"^\s*[Ww]hat\s+(?:did|does|do|has|have|had)\s+(?P<the>the\s+(?P<role>[a-z][\w’'-]*(?:\s+[a-z][\w’'-]*){0,3}?)"
    r"(?:\s+(?:of|at|for|on|in)\s+(?:the\s+)?(?P<org>[\w’'-]+(?:\s+[\w’'-]+){0,4}?))?)\s+"
    r"(?:say|said|tell|told|add|added|write|written|promise|promised)\b"
)


# a body that speaks as itself ("Police said", "the company said"), not through one person: a
# question of what it said is not one of what a person named beside it said
_BODIES = frozenset(
    "police company government ministry department union council agency court committee club team board "
    "army military party group firm bank authority service office commission federation association "
    "school university hospital airline league organisation organization state city country "
    "administration parliament senate congress embassy family campaign coalition opposition".split()
)


def one_persons(role: str) -> bool:
    """Whether a role is one person's ("interior minister", "police chief"), not a body's ("the
    police", "the company") or several people's ("the prosecutors")."""
    last = role.split()[-1].lower()
    plural = last.endswith("s") and not last.endswith(("ss", "us", "is"))
    return last not in _BODIES and not plural


def _role_said(question: str) -> re.Match[str] | None:
    """The match of "What did the <role> say ...?" when the role is one person's; None otherwise."""
    m = _ASKS_ROLE_SAID.match(question)
    return m if m is not None and one_persons(m.group("role")) else None


def role_said_asked(question: str) -> str | None:
    """The role "What did the <role> say ...?" asks a statement of, when it is one person's; None
    for any other question."""
    m = _role_said(question)
    return m.group("role") if m is not None else None


def holder_named(question: str, texts: Mapping[str, str], relevance: Mapping[str, float]) -> str:
    """The question with the role it asks a statement of ("What did the interior minister say ...?")
    put as the name of the role's holder ("What did Lidia Varga say ...?"), as the most relevant
    article that names one gives it (of those that name the role's organisation, when the question
    does); the question as it is when it asks no such thing or no article names the holder. News
    names a person by role once and by surname after: the statements are found by the name."""
    m = _role_said(question)
    if m is None:
        return question
    of = stems(m.group("org") or "")
    for doc in sorted(texts, key=lambda d: -relevance.get(d, 0.0)):
        text = texts[doc]
        if of and not of <= article_stems(text):
            continue
        found = [re.sub(r"[’']s$", "", n) for n in holders(text, m.group("role"))]
        if found:
            name = Counter(found).most_common(1)[0][0]
            return f"{question[: m.start('the')]}{name}{question[m.end('the') :]}"
    return question


# "How old is Julia Navarro?", "What is Navarro's age?"
_ASKS_AGE = re.compile(
    r"^\s*(?:[Hh]ow\s+old\s+(?:is|was)\s+(?P<a>[A-Z][^?]*?)|[Ww]hat\s+(?:is|was)\s+(?P<b>[A-Z][^?]*?)[’']s\s+age)"
    r"\s*[?.!]*\s*$"
)


def age_asked(question: str) -> str | None:
    """The name "How old is <name>?" asks the age of; None for any other question."""
    m = _ASKS_AGE.match(question)
    return (m.group("a") or m.group("b")) if m is not None else None


def _capitalised(name: str) -> list[str]:
    """The words of a name that can name a person: capitalised, more than an initial."""
    return [w for w in name.split() if w[:1].isupper() and len(w) > 1]


def gives_age(sentence: str, name: str) -> bool:
    """Whether a sentence gives the age of a person of this name (any capitalised word of it, not
    after another first name: "Lena Obi, 44," is not Samuel Obi's age): "Navarro, 39,", "Navarro
    (39)", "Navarro, aged 39,", "Navarro, a 39-year-old engineer", "the 39-year-old Navarro"."""
    named = _capitalised(name)
    if not named:
        return False
    # the capitalised word right before the name's word in the sentence, if any
    n = rf"(?:(?P<first>[A-Z][\w’'-]*)\s+)?\b(?:{'|'.join(map(re.escape, named))})\b"
    patterns = (
        rf"{n},\s+(?:aged\s+)?\d{{1,3}}(?:[,.;]|\s+(?:and|was|is|has|had|said|who)\b)",
        rf"{n}\s+\(\d{{1,3}}\)",
        rf"{n},\s+(?:who\s+is\s+|an?\s+)?\d{{1,3}}-year-old",
        rf"\d{{1,3}}-year-old\s+(?:[a-z]+\s+){{0,3}}?(?:[A-Z][\w’'-]*\s+)*?{n}",
    )
    return any(
        len(named) < 2 or m.group("first") is None or m.group("first") in named
        for p in patterns
        for m in re.finditer(p, sentence)
    )


def age_of_the_person_asked(cands: list[Candidate], question: str) -> list[int]:
    """For "How old is <name>?": the candidate that gives that person's age beside their name, the
    reader's most probable of them, whatever else the reader accepts (it reads any age as one: "Tomas
    Berg, 39," for Karin Lind). Empty for any other question, or when none does."""
    name = age_asked(question)
    if name is None:
        return []
    giving = [i for i, c in enumerate(cands) if gives_age(c.text, name)]
    return sorted(giving, key=lambda i: -cands[i].probability)[:1]


def sentences_where(
    texts: Mapping[str, str], keep: Callable[[str, int, int], bool]
) -> list[tuple[str, int, int]]:
    """(document id, start, end) of the sentences of these articles that keep(text, start, end)
    holds for, in article order, at most MAX_FOUND; an article over MAX_ARTICLE_CHARS is not read."""
    return [
        (doc_id, s.start, s.end)
        for doc_id, text in texts.items()
        if len(text) <= MAX_ARTICLE_CHARS
        for s in split_sentences(text)
        if keep(text, s.start, s.end)
    ][:MAX_FOUND]


def ages_in_articles(question: str, texts: Mapping[str, str]) -> list[tuple[str, int, int]]:
    """For "How old is <name>?": (document id, start, end) of the sentences of these articles that
    give that person's age (`gives_age`): news gives it once, where it first names them in full or
    in a quote's attribution ('..., said Obi, 62.'), often not in the passage search returns."""
    name = age_asked(question)
    if name is None:
        return []
    return sentences_where(texts, lambda text, start, end: gives_age(text[start:end], name))


def naming_the_person_asked(cands: list[Candidate], chosen: list[int], question: str) -> list[int]:
    """For "How old is <name>?": of the sentences chosen, those that name that person (a word of the
    name): the reader reads any age as the answer ("Elena Ross, aged 70," for Julia Navarro). The
    chosen as they are for any other question."""
    name = age_asked(question)
    if name is None:
        return chosen
    named = {w.lower() for w in _capitalised(name)}
    return [i for i in chosen if named & {w.lower() for w in re.findall(r"[\w’'-]+", cands[i].text)}]


# "Who runs the stall?", "Who has lived on Harbour Row for 40 years?": a subject question; not "Who is
# ...?" (a role: `holder_of_the_role_asked`), "Who did ...?" (an object) or "Who said ...?" (speakers)
_ASKS_WHO_DOES = re.compile(
    r"^\s*[Ww]ho\s+(?P<does>(?!(?:is|was|are|were|did|does|do|will|would|can|could|should|must|"
    r"said|says|told|tells)\b)[a-z][^?]*?)\s*[?.!]*\s*$"
)
# "Mara Holt, who runs a bakery on Mill Lane, said ...": news says what a person does in a
# relative clause right after their full name
_AUXILIARIES = frozenset("has had have been".split())
_WHO_CLAUSE = re.compile(rf"(?<![\w’'-]){_NAME}\s*,\s+who\s+(?P<clause>[^,;.\"“”]+)")


def naming_who_does_what_is_asked(cands: list[Candidate], question: str) -> list[int]:
    """For "Who <does something>?": the candidates that name a person and say, in a relative clause
    after the name, what the question asks (its verb and at least two thirds of its other words, by
    stem), most probable first; the reader reads such a sentence as being about what follows the
    clause. Empty for any other question, or when none does."""
    m = _ASKS_WHO_DOES.match(question)
    if m is None:
        return []
    words = m.group("does").split()
    verb = stems(next((w for w in words if w.lower() not in _AUXILIARIES), ""))
    asked = stems(m.group("does"))
    if not verb or len(asked) < 2:
        return []
    needed = max(2, -(-2 * len(asked) // 3))

    def says_it(text: str) -> bool:
        for clause in _WHO_CLAUSE.finditer(text):
            held = stems(clause.group("clause"))
            if verb <= held and len(asked & held) >= needed:
                return True
        return False

    return sorted((i for i, c in enumerate(cands) if says_it(c.text)), key=lambda i: -cands[i].probability)
