"""The offline answer engine: select article sentences, cite them, abstain when evidence is weak.

Each candidate sentence (from the retrieved chunks) is scored by dense similarity to the question
(or to the clause of a long sentence that names the person asked about), IDF-weighted coverage of
the question's content words, and a bonus for figures when the question asks for one, or for the
kind of statement it asks for (a prediction, what someone knew). The answer is the shortest set of
non-redundant top sentences; sentences from other articles that restate a chosen one are cited with
it, and different figures for the same thing are reported as a disagreement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from answers.compose import abstain
from answers.compose import answer_from_groups as cited_answer
from answers.models import Answer
from answers.question import (
    Frame,
    counts_of,
    heard,
    missing_entities,
    parse,
    satisfies,
    time_values,
    unmentioned_attribute,
)
from answers.text import numbers, states, wanted_cues, wants_number
from retrieval.lexical import coverage_scorer, idf_weights, stems
from retrieval.models import SearchHit
from retrieval.sentences import split_sentences

MIN_WORDS = 5


@dataclass
class ExtractiveConfig:
    # Threshold and weights calibrated on evals/questions.yaml. Off-topic questions score < 0.29;
    # on-topic questions the articles leave open score like answerable ones (MiniLM cannot read that
    # closely), so those are caught by the question frame instead (answers/question.py): a count of
    # the thing asked about, a name by the role asked about, a named speaker who speaks.
    abstain_below: float = 0.29
    dense_weight: float = 0.6
    lexical_weight: float = 0.4
    number_bonus: float = 0.08
    cue_bonus: float = 0.08  # a sentence stating what the question asks for (answers/text.py ANSWER_CUES)
    rank_bonus: float = 0.1  # the retriever's sentence-level re-ranking already weighed these chunks
    keep_ratio: float = 0.75  # a further sentence must score within this ratio of the best one
    max_sentences: int = 3
    redundant_above: float = 0.8  # cosine: two sentences saying the same thing
    agree_above: float = 0.78  # cosine: another article restating a chosen sentence
    retrieve_k: int = 8
    type_margin: float = 0.7  # a typed answer must score within this ratio of the best sentence
    # the sentence after the best one, when it leans back on it ("This conclusion was drawn from ..."),
    # unless it is off the question altogether
    continuation_min_dense: float = 0.2
    # another article's sentence close to a chosen one (agree_above) is cited with it, unless it is a
    # strong answer itself (keep_ratio) and each has half its content words the other lacks
    # ("... augmenting earlier support that included ammunition" beside "... has sent about 12,000
    # troops ... economic benefits"): then it is shown too, at most max_added times an answer
    agree_novelty: float = 0.5
    # a sentence as strong as the best one, from another article, is kept even when it adds none of
    # the question's words: "how did he die" is answered in words the question does not use
    strong_ratio: float = 0.9
    max_added: int = 1


@dataclass
class Candidate:
    document_id: str
    chunk_id: str
    title: str
    start: int
    end: int
    text: str
    hit_rank: int
    duplicate_of: str | None = None
    score: float = 0.0
    dense: float = 0.0
    lexical: float = 0.0
    stems: frozenset[str] = field(default_factory=frozenset)
    as_asked: float | None = None  # a follow-up's score against the question as typed (best_of_both)
    clause_vec: np.ndarray | None = None  # the clause naming the question's person (named_clauses)


# An embedded social-media post is signed on the line after it ("— Jane Doe / ...
# (@JaneDoe) January 12, 2025"), and its sentences never name their author: "there will
# undoubtedly be more" is Doe's prediction only through that line. Each of them gets the
# author's name among its words (Candidate.stems), so "What did Doe predict" finds it.
_POST_SIGNATURE = re.compile(r"^[ \t]*[—–-][ \t]*(?P<name>[^\n(/]+?)[ \t]*(?:/[^\n(]*)?\(@\w+\)[^\n]*$", re.M)


def _posts(text: str) -> list[tuple[int, int, str, int, int]]:
    """(post start, post end, author, signature start, signature end): the line right before each
    signature line is the author's post."""
    out = []
    for m in _POST_SIGNATURE.finditer(text):
        end = text.rfind("\n", 0, m.start())
        if end <= 0:
            continue
        out.append((text.rfind("\n", 0, end) + 1, end, m.group("name"), *m.span()))
    return out


def post_authors(text: str) -> list[tuple[int, int, str]]:
    """(start, end, author) of each embedded post."""
    return [(start, end, author) for start, end, author, _, _ in _posts(text)]


def candidates_from_hits(hits: list[SearchHit], texts: dict[str, str]) -> list[Candidate]:
    seen: set[tuple[str, int]] = set()
    out = []
    posts: dict[str, list[tuple[int, int, str, int, int]]] = {}
    for rank, h in enumerate(hits, start=1):
        text = texts.get(h.document_id)
        if text is None:
            continue
        if h.document_id not in posts:
            posts[h.document_id] = _posts(text)
        for s in split_sentences(text, h.start, h.end):
            sentence = text[s.start : s.end]
            # the signature line itself says who posted and when: no statement to answer with
            if any(sig_lo <= s.start < sig_hi for *_, sig_lo, sig_hi in posts[h.document_id]):
                continue
            if (h.document_id, s.start) not in seen and len(sentence.split()) >= MIN_WORDS:
                seen.add((h.document_id, s.start))
                by = [a for lo, hi, a, _, _ in posts[h.document_id] if lo <= s.start < hi]
                out.append(
                    Candidate(
                        h.document_id,
                        h.chunk_id,
                        h.title,
                        s.start,
                        s.end,
                        sentence,
                        rank,
                        h.duplicate_of,
                        stems=stems(sentence) | (stems(by[0]) if by else frozenset()),
                    )
                )
    return out


DISTINCTIVE = 0.25  # a name in at most this share of the candidate sentences ("Ruritanian" is in most)
_CLAUSE_BREAK = re.compile(r"[,;:]\s+|\s+[—–]\s+")


def named_clauses(question: str, cands: list[Candidate]) -> list[tuple[int, str]]:
    """(candidate index, clause): in a sentence of several clauses, the clause that holds a full name
    the question asks about. A long sentence's vector blurs its clauses: "The agency told members of the
    Intelligence Committee that the troops had been directed ... to kill themselves ..., in line with
    Rep. John Roe of the ruling Folks Energy Get together" scores 0.21 against "Which political
    party does lawmaker John Roe belong to?", its last clause 0.60. Only multi-word names:
    a clause holding just "Bordurian" or "Strelsau" is no sign that it is the one asked about."""
    names = [
        ent
        for ent in parse(question).entities
        if len(ent) >= 2
        and sum(all(w in c.text.lower() for w in ent) for c in cands) <= DISTINCTIVE * len(cands)
    ]
    out: list[tuple[int, str]] = []
    if not names:
        return out
    for i, c in enumerate(cands):
        parts = [p for p in _CLAUSE_BREAK.split(c.text) if len(p.split()) >= 3]
        if len(parts) < 2:
            continue
        for p in parts:
            low = p.lower()
            if any(all(w in low for w in ent) for ent in names):
                out.append((i, p))
                break
    return out


def score_candidates(
    question: str, q_vec: np.ndarray, cands: list[Candidate], vecs: np.ndarray, cfg: ExtractiveConfig
) -> None:
    lexical = coverage_scorer(stems(question), idf_weights(c.stems for c in cands))
    numeric = wants_number(question)
    cues = wanted_cues(question)
    sims = vecs @ q_vec if len(cands) else np.zeros(0)
    for c, sim in zip(cands, sims):
        c.dense = float(sim) if c.clause_vec is None else max(float(sim), float(c.clause_vec @ q_vec))
        c.lexical = lexical(c.stems)
        c.score = (
            cfg.dense_weight * c.dense
            + cfg.lexical_weight * c.lexical
            + (cfg.number_bonus if numeric and numbers(c.text) else 0.0)
            + (cfg.cue_bonus if states(cues, c.text) else 0.0)
            + cfg.rank_bonus / c.hit_rank
        )


def best_of_both(
    cands: list[Candidate], asked: str, a_vec: np.ndarray, vecs: np.ndarray, cfg: ExtractiveConfig
) -> None:
    """Keep each sentence's better score: against the rewrite (already set) or the follow-up as asked
    (kept in as_asked too).

    The words carried over from the previous question find the topic, but they also pull the scores
    towards the previous answer: for "How many of that organization's troops were sent to Borduria, and
    when?" after a question about the captives' unit, the rewrite scored the captives' sentence
    0.77 and "They had been among the 2,500 troops of the bureau deployed to Borduria in October
    2024" 0.47; the question as asked scores the latter 0.77."""
    rewrite = [(c.score, c.dense, c.lexical) for c in cands]
    score_candidates(asked, a_vec, cands, vecs, cfg)
    for c, (score, dense, lexical) in zip(cands, rewrite):
        c.as_asked = c.score
        if score >= c.score:
            c.score, c.dense, c.lexical = score, dense, lexical


def _as_asked(c: Candidate) -> float:
    return c.score if c.as_asked is None else c.as_asked


def _same_source(a: Candidate, b: Candidate) -> bool:
    return a.document_id == b.document_id


def _copies(a: Candidate, b: Candidate) -> bool:
    """From an article and its near-duplicate copy (a reworded copy differs in every other word)."""
    return (
        a.duplicate_of == b.document_id
        or b.duplicate_of == a.document_id
        or (a.duplicate_of is not None and a.duplicate_of == b.duplicate_of)
    )


def _novelty(shown: Candidate, other: Candidate, both_ways: bool = False) -> float:
    """Share of `other`'s content stems that `shown` lacks (both_ways: the smaller of the two shares)."""
    share = len(other.stems - shown.stems) / max(1, len(other.stems))
    return min(share, _novelty(other, shown)) if both_ways else share


# A sentence that leans on the one before it: a pronoun or "this <noun>" as its subject, "the other"
# of a pair, a quotation, or words attributed to "he"/"she". When the best sentence only announces
# something ("Putin's response to questions about satellite images marked a shift"), the substance
# is often in the sentence that follows ("Images are a serious thing ...," he stated).
_ANAPHORIC_OPENING = re.compile(
    r"^(?:[“\"„'‘«]|(?:he|she|they|it|his|her|their|its)\b"
    r"|(?:this|that|these|those|such)\s+(?!is\b|was\b|are\b|were\b)\w+"
    r"|the (?:other|second|latter|former)\b|both\b)",
    re.I,
)
# "..., he stated." ("said he" is left out: "the prisoner said he had received" is reported speech)
_PRONOUN_ATTRIBUTION = re.compile(
    r"\b(?:he|she|they) (?:said|says|stated|added|mentioned|told|wrote|explained|replied|noted|insisted)\b",
    re.I,
)
CONTINUATION_SENTENCES = 2  # a quotation the splitter cut in two
MAX_GAP = 4  # characters between adjacent sentences: "\n\n", ". "


def leans_back(text: str) -> bool:
    """Does this sentence continue the one before it (see _ANAPHORIC_OPENING)?"""
    return bool(_ANAPHORIC_OPENING.match(text.lstrip()) or _PRONOUN_ATTRIBUTION.search(text))


def continuation(cands: list[Candidate], lead: int) -> list[int]:
    """The candidates right after `lead` in its article that lean back on it, in order (at most
    CONTINUATION_SENTENCES). Adjacent: nothing but a line break or a space between them (a dropped
    short sentence would leave a wider gap)."""
    starts = {(c.document_id, c.start): i for i, c in enumerate(cands)}
    out: list[int] = []
    cur = cands[lead]
    while len(out) < CONTINUATION_SENTENCES:
        after = ((cur.document_id, cur.end + gap) for gap in range(MAX_GAP + 1))
        nxt = next((starts[k] for k in after if k in starts), None)
        if nxt is None or not leans_back(cands[nxt].text):
            break
        out.append(nxt)
        cur = cands[nxt]
    return out


def compose(
    question: str,
    cands: list[Candidate],
    vecs: np.ndarray,
    cfg: ExtractiveConfig,
    lead: int | None = None,
    frame: Frame | None = None,
    typed: list[int] | None = None,
) -> tuple[list[list[Candidate]], bool]:
    """(groups of sentences, each group one statement cited together; do the sources disagree?)
    `lead`: the sentence to open with (the best one holding what the question asks for); `typed`:
    the candidates that hold it, whose other values (another month for the same deployment) are
    reported as a disagreement."""
    order = sorted(range(len(cands)), key=lambda i: -cands[i].score)
    if lead is not None:
        order.remove(lead)
        order.insert(0, lead)
    best = cands[order[0]]
    chosen = [order[0]]
    covered = set(best.stems)
    q_stems = stems(question)
    frame = frame or parse(question)
    untyped = frame.kind is None
    cues = wanted_cues(question)
    for i in order[1:]:
        if len(chosen) >= cfg.max_sentences:
            break
        c = cands[i]
        if c.score < cfg.keep_ratio * best.score:
            break
        if max(float(vecs[i] @ vecs[j]) for j in chosen) >= cfg.redundant_above:
            continue
        new_article = not any(_same_source(c, cands[j]) for j in chosen)
        strong_account = untyped and new_article and c.score >= cfg.strong_ratio * best.score
        if (
            not ((q_stems & c.stems) - covered)
            and numbers(c.text) <= set().union(*(numbers(cands[j].text) for j in chosen))
            # the first sentence stating what the question asks for ("there will be more" for "what did
            # he predict") adds that, whatever its words
            and not (states(cues, c.text) and not any(states(cues, cands[j].text) for j in chosen))
            and not strong_account
        ):
            continue  # adds nothing the question asked about (unless another article's own account)
        chosen.append(i)
        covered |= c.stems
    if untyped:  # a typed answer (a count, a date, a name) is complete in its sentence
        follow = [j for j in continuation(cands, chosen[0]) if cands[j].dense >= cfg.continuation_min_dense]
        if follow:
            rest = [i for i in chosen[1:] if i not in follow]
            chosen = [chosen[0], *follow, *rest][: max(cfg.max_sentences, 1 + len(follow))]
    # other articles restating a chosen sentence are cited with it; different figures are a disagreement
    groups: list[list[Candidate]] = []
    disagreement = False
    used = set(chosen)
    extra = 0
    for i in chosen:
        group = [cands[i]]
        dissent: list[Candidate] = []
        own: list[Candidate] = []
        for j in order:
            if j in used or any(_same_source(cands[j], g) for g in group + dissent + own):
                continue
            if float(vecs[i] @ vecs[j]) < cfg.agree_above:
                continue
            ni, nj = numbers(cands[i].text), numbers(cands[j].text)
            if wants_number(question) and ni and nj and not (ni & nj):
                dissent.append(cands[j])
            elif (
                untyped  # a typed answer's value is in the chosen sentence already
                and extra < cfg.max_added
                and cands[j].score >= cfg.keep_ratio * best.score
                and not _copies(cands[i], cands[j])
                and _novelty(cands[i], cands[j], both_ways=True) >= cfg.agree_novelty
            ):
                own.append(cands[j])  # same event, told with details the chosen sentence lacks
                extra += 1
            else:
                group.append(cands[j])
            used.add(j)
        groups.append(group)
        groups.extend([d] for d in dissent + own)
        disagreement = disagreement or bool(dissent)
    # "in which month were the troops deployed": another article's different month for that event is
    # part of the answer, even when its sentence scored lower than the ones chosen
    given = set().union(*(time_values(frame, c.text) for g in groups for c in g))
    shown = {(c.document_id, c.start) for g in groups for c in g}
    for i in sorted(typed or [], key=lambda i: -cands[i].score):
        c = cands[i]
        values = time_values(frame, c.text)
        if given and values and not values & given and (c.document_id, c.start) not in shown:
            groups.append([c])
            given |= values
            shown.add((c.document_id, c.start))
            disagreement = True
    # "how many troops": articles giving different figures for the counted thing disagree, however
    # differently they word the rest of the sentence
    figures: dict[str, set[str]] = {}
    for group in groups:
        for c in group:
            if found := counts_of(frame, c.text):
                figures.setdefault(c.document_id, set()).update(found)
    sets = list(figures.values())
    if any(not (a & b) for k, a in enumerate(sets) for b in sets[k + 1 :]):
        disagreement = True
    return groups, disagreement


def answer_from_groups(
    groups: list[list[Candidate]], disagreement: bool, generator: str, prompt_version: str
) -> Answer:
    return cited_answer(groups, generator, prompt_version, "The sources differ. " if disagreement else "")


def extract_answer(
    question: str,
    q_vec: np.ndarray,
    cands: list[Candidate],
    vecs: np.ndarray,
    cfg: ExtractiveConfig,
    prompt_version: str,
    as_asked: tuple[str, np.ndarray] | None = None,
) -> Answer:
    """Pure: scored selection over candidate sentences (with their unit vectors). as_asked: a
    follow-up as typed (and its vector) when `question` is its rewrite with the previous turn's words."""
    if not cands:
        return abstain("extractive", prompt_version)
    score_candidates(question, q_vec, cands, vecs, cfg)
    if as_asked is not None:
        best_of_both(cands, *as_asked, vecs, cfg)
    best = max(c.score for c in cands)
    if best < cfg.abstain_below:
        return abstain("extractive", prompt_version)
    # the question names someone the passages never mention: they are not about it
    frame = parse(question)
    if (
        missing_entities(frame, (c.text for c in cands))
        or not heard(frame, (c.text for c in cands))
        or unmentioned_attribute(question, frame, (c.stems for c in cands))
    ):
        return abstain("extractive", prompt_version)
    # "how many drones" needs a count of drones, "who is the director" a name by that role: the best
    # sentences lacking one mean the articles discuss the topic without answering the question
    typed = [i for i, c in enumerate(cands) if c.score >= cfg.type_margin * best and satisfies(frame, c.text)]
    if not typed:
        return abstain("extractive", prompt_version)
    # a follow-up's typed lead is chosen as asked: "What about the other prisoner: when was he born?"
    # must open with the other prisoner's birth year, which the rewrite's words ("captured rifleman
    # born ...") score below the first one's
    lead = max(typed, key=lambda i: _as_asked(cands[i])) if frame.kind else None
    groups, disagreement = compose(question, cands, vecs, cfg, lead, frame, typed)
    return answer_from_groups(groups, disagreement, "extractive", prompt_version)
