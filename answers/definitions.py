"""What an acronym stands for, as the articles spell it out: "What does MAIU stand for?" is
answered by the sentence that defines it ("the Marine Accident Investigation Unit (MAIU) said");
and what a term the articles coin means: "What is the drought surcharge?" by the sentence that
puts it in quotation marks and explains it ('a "drought surcharge", an extra charge of ...').

The reader, taught to find an answer's words in a sentence about the question's subject, reads a
question of what letters mean poorly, and the sentence that spells them out is often one search
does not return. News defines an acronym in a few fixed ways, in any English corpus: the words,
then the letters in brackets ("members of parliament (MPs)") or after "or" ("the Rural Health Access
Fund, or RHAF,"), or the letters, then the words in brackets; the initials of the words spell the
letters, with small words ("of", "the") between them or not. A term news introduces is quoted,
then explained: after a comma ("the name islanders use for it"), "in which", "which", "meaning", a
dash or brackets.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

from answers.candidates import Candidate
from answers.people import sentences_where

# "What does MAIU stand for?", "What is the HSB short for?", "What do the abbreviations KRT and HSB
# stand for?", "What does the acronym MP mean?"
# stand for ...? (not "What does NATO mean for farmers?": what it matters, not what it stands for);
# "What is the ECE?", an acronym alone
_ASKS = re.compile(
    r"^\s*[Ww]hat\s+(?:(?:does|do|did)\s+(?P<a>.+?)\s+(?:stand\s+for|mean|refer\s+to)"
    r"|(?:is|are|was)\s+(?P<b>.+?)\s+short\s+for)(?=\s*[?.!]*\s*$|\s+in\b|\s*,|\s+and\b)"
    r"|^\s*[Ww]hat\s+(?:is|are|was)\s+(?:the\s+)?(?P<c>[A-Z][A-Za-z]*[A-Z]s?)\s*[?.!]*\s*$"
)
_ACRONYM = re.compile(r"\b[A-Z][A-Za-z]*[A-Z]s?\b")  # "MAIU", "MPs", "MoD"
_KIND = re.compile(r"\b(?:abbreviations?|acronyms?|letters|initials)\b")
_SMALL = frozenset("of the and for on in to at de du la &".split())
_MAX_LETTERS = 12


def acronyms_asked(question: str) -> list[str]:
    """The acronyms a question asks the meaning of ("MP" of "What does the abbreviation MPs
    mean?"), without a plural's "s"; empty for any other question. "What does X mean?" is asked of
    an acronym only when X is one (capitals) or is called one."""
    m = _ASKS.match(question)
    if m is None:
        return []
    asked = m.group("a") or m.group("b") or m.group("c") or ""
    found = [a.removesuffix("s") if a[:-1].isupper() else a for a in _ACRONYM.findall(asked)]
    plain = re.sub(r"\b(?:the|and|both|abbreviations?|acronyms?|letters|initials)\b|[,\s'’\"“”]", "", asked)
    spelt = re.sub(r"[^A-Za-z]", "", "".join(found))
    # only acronyms in what is asked about ("What does MAIU stand for?", "... KRT and HSB ..."), or
    # one the question calls an abbreviation ("What does the abbreviation MP mean in the reports?")
    if found and (plain.lower() == spelt.lower() or _KIND.search(asked)):
        return list(dict.fromkeys(found))
    return []


def _spelling(words: list[re.Match[str]], acronym: str) -> int | None:
    """The index of the first of the last words whose initials spell the acronym, small words
    ("of", "the") between them skipped or spelling a letter ("Ministry of Defence": MoD); None when
    they do not. Words are tried from the last, one letter each, each pairing once: no regular
    expression backtracks over a long run of small words."""
    letters = acronym.lower()
    tried: dict[tuple[int, int], int | None] = {}  # each (word, letter) once: no blow-up on "of of of"

    def back(wi: int, li: int) -> int | None:
        if (wi, li) in tried:
            return tried[wi, li]
        found = None
        if words[wi].group(0).lower().startswith(letters[li]):
            if li == 0:
                found = wi
            else:
                for k in range(wi - 1, -1, -1):
                    if (found := back(k, li - 1)) is not None or words[k].group(0).lower() not in _SMALL:
                        break
        tried[wi, li] = found
        return found

    return back(len(words) - 1, len(letters) - 1) if words and len(letters) <= _MAX_LETTERS else None


_WORD = re.compile(r"[\w’'&]+")


def spelt_out(sentence: str, acronym: str) -> str | None:
    """The words a sentence spells the acronym out with ("Marine Accident Investigation Unit" of
    "the Marine Accident Investigation Unit (MAIU)", "members of parliament (MPs)", "the Rural Health
    Access Fund, or RHAF,", "robot-as-a-service (RaaS)", "the MAIU (Marine Accident Investigation
    Unit)"), or None when it does not."""
    letters = rf"{re.escape(acronym)}s?"
    reach = 2 * len(acronym) + 2  # words enough for its letters and the small words between them
    for m in re.finditer(rf"[\"”]?(?:\s*\(\s*|,\s+or\s+){letters}\b", sentence):
        words = list(_WORD.finditer(sentence, 0, m.start()))[-reach:]
        if words and words[-1].end() == m.start() and (i := _spelling(words, acronym)) is not None:
            return sentence[words[i].start() : words[-1].end()]
    for m in re.finditer(rf"\b{letters}\s*\(\s*(?:the\s+)?(?P<w>[^()]{{1,120}}?)\s*\)", sentence):
        words = list(_WORD.finditer(m.group("w")))
        if words and _spelling(words, acronym) == 0:
            return m.group("w")
    return None


def defines(sentence: str, acronym: str) -> bool:
    """Whether a sentence spells the acronym out (`spelt_out`)."""
    return spelt_out(sentence, acronym) is not None


def definitions_in_articles(question: str, texts: Mapping[str, str]) -> list[tuple[str, int, int]]:
    """For "What does <acronym> stand for?": (document id, start, end) of the sentences of these
    articles that spell it out (`defines`), in article order. Empty for any other question."""
    asked = acronyms_asked(question)
    if not asked:
        return []
    return sentences_where(texts, lambda text, start, end: any(defines(text[start:end], a) for a in asked))


def defining_the_acronyms_asked(cands: list[Candidate], question: str) -> list[int]:
    """For "What does <acronym> stand for?": for each acronym asked, the reader's most probable
    candidate that spells it out with the words most of them use. Empty for any other question, or when none does (the reader's
    choice stands)."""
    chosen = []
    for acronym in acronyms_asked(question):
        spelt = {i: w.lower() for i, c in enumerate(cands) if (w := spelt_out(c.text, acronym)) is not None}
        # the words most articles spell it with first: not a reworded copy's "Haven Safety Board"
        # where three others say "Harbour"
        usage = Counter(spelt.values())
        chosen += sorted(spelt, key=lambda i: (-usage[spelt[i]], -cands[i].probability))[:1]
    return list(dict.fromkeys(chosen))


# "What is the drought surcharge (mentioned in ...)?", "What is meant by 'precision weeding'?"
_ASKS_TERM = re.compile(
    r"^\s*[Ww]hat\s+(?:is|are|was|were)\s+(?:meant\s+by\s+)?(?:the\s+|a\s+|an\s+)?(?P<t>[^?]+?)"
    r"(?:\s+(?:mentioned|referred\s+to|described|cited|used)\b[^?]*)?\s*[?.!]*\s*$"
)
# "What does the word 'Varrow' refer to?", "... what does the term X mean in ...?"
_ASKS_WORD = re.compile(
    r"\b[Ww]hat\s+(?:does|do|did)\s+(?:the\s+)?(?:word|term|phrase|expression)\s+(?P<t>[^?]+?)\s+"
    r"(?:mean|refer\s+to|describe)\b"
)
_QUOTES = "\"'‘’“”"
_MAX_TERM_WORDS = 6
# what explains a quoted term right after it: a comma and a noun phrase, "in which", "which",
# "meaning", "or", a dash, brackets
_EXPLAINED = re.compile(
    r"\s*(?:\([^)]{1,40}\)\s*)?(?:[a-z]+\s*)?(?:,\s*(?:the|a|an|in\s+which|which|where|meaning|or)\b"
    r"|\s+(?:in\s+which|which\s+(?:is|means|refers)|meaning)\b|\s*[–—(]|\s+-\s)"
)


def term_asked(question: str) -> str | None:
    """The term "What is <term>?" or "What does the word <term> mean?" asks the meaning of, without
    its quotation marks; None for any other question (or a term of more than a few words)."""
    m = _ASKS_WORD.search(question) or _ASKS_TERM.match(question)
    if m is None:
        return None
    term = m.group("t").strip(_QUOTES + " ,")
    return term if term and len(term.split()) <= _MAX_TERM_WORDS else None


def _words(text: str) -> list[str]:
    return re.findall(r"[\w’'-]+", text.lower())


def explains(sentence: str, term: str) -> bool:
    """Whether a sentence quotes the term, or most of it, and explains it right after: 'a "drought
    surcharge", an extra charge of ...', 'using "Varrow," the name islanders use for ...', 'a
    "robot-as-a-service" (RaaS) model, in which farmers pay ...'."""
    asked = _words(term)
    for m in re.finditer(rf"[{_QUOTES}](?P<q>[^{_QUOTES}]{{1,80}}?)[{_QUOTES}]", sentence):
        quoted = _words(m.group("q"))
        if (
            quoted
            and len(quoted) <= _MAX_TERM_WORDS
            and set(quoted) <= set(asked)
            and 2 * len(quoted) >= len(asked)
            and (m.group("q").rstrip()[-1:] == "," or _EXPLAINED.match(sentence, m.end()))
        ):
            return True
    return False


def explanations_in_articles(question: str, texts: Mapping[str, str]) -> list[tuple[str, int, int]]:
    """For "What is <term>?": (document id, start, end) of the sentences of these articles that
    quote and explain it (`explains`), in article order. Empty for any other question."""
    term = term_asked(question)
    if term is None:
        return []
    return sentences_where(texts, lambda text, start, end: explains(text[start:end], term))


def explaining_the_term_asked(cands: list[Candidate], question: str) -> list[int]:
    """For "What is <term>?": the reader's most probable candidate that quotes and explains it.
    Empty for any other question, or when none does (the reader's choice stands)."""
    term = term_asked(question)
    if term is None:
        return []
    explaining = [i for i, c in enumerate(cands) if explains(c.text, term)]
    return sorted(explaining, key=lambda i: -cands[i].probability)[:1]
