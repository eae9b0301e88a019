"""Extractive summaries: central sentences, redundancy removed across sources, every sentence cited.

Centrality is similarity to the centroid of all candidate sentences (what the articles are mostly
about), plus a lead bonus (news puts the key facts first), plus corroboration (how many other
articles say the same) and, when focused, similarity to the query. A focused summary of the reader
engine ranks by the reader's and the query's rankings together instead (answers/engine.py,
`summary_relevance`).
A sentence too close to one already chosen is not repeated: its article is cited with it instead.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

from answers.candidates import MIN_WORDS as MIN_ANSWER_WORDS
from answers.compose import answer_from_groups, mentions_asked, numbered, numbers_another, years
from answers.models import Summary
from answers.wording import names, restatements
from retrieval.lexical import article_stems, idf, stems
from retrieval.models import Document, SearchHit, Span
from retrieval.sentences import is_headline, quoted_sentences, whole_text

MIN_WORDS = 6
# a first word that points back to the sentence before ("They are fighting alongside ...", "The other
# ..."); "This week ..." points at the calendar, not back
_LEANS_BACK = re.compile(
    r"[\"“‘']?(?:(?:he|she|it|they|his|her|its|their|them|such|the other)\b"
    r"|(?:this|these|those)\b(?!\s+(?:week|month|year|morning|afternoon|evening|weekend|season|spring"
    r"|summer|autumn|fall|winter)\b))",
    re.IGNORECASE,
)
# a focused summary's passages hold at least this share of the best one's query-word weight
SUBJECT_SHARE = 0.5


@dataclass
class SummaryConfig:
    # measured on evals/summaries.yaml: news puts key facts first, and facts several outlets
    # report are the ones a summary must carry
    lead_bonus: float = 0.3
    corroboration_bonus: float = 0.2
    query_weight: float = 0.6
    redundant_above: float = 0.8


@dataclass(frozen=True)
class Sentence:
    document: Document
    chunk_id: str
    start: int
    end: int
    position: int  # index among the document's sentences

    @property
    def text(self) -> str:
        return self.document.text[self.start : self.end]

    @property
    def document_id(self) -> str:
        return self.document.id

    @property
    def title(self) -> str:
        return self.document.title

    @property
    def content_hash(self) -> str:
        return self.document.content_hash


def document_sentences(
    doc: Document, chunk_bounds: list[tuple[str, int, int]], within: list[tuple[int, int]] | None = None
) -> list[Sentence]:
    """Summary-worthy sentences of a document (ending like a sentence, long enough, not its headline);
    a quotation of several sentences is one of them, whole (retrieval/sentences.py `quotation`), so
    that a summary never shows half a remark without its speaker. A document whose sentences are all
    short (a one-line brief) offers those of them an answer could cite."""
    return _sentences(doc, chunk_bounds, within, MIN_WORDS) or _sentences(
        doc, chunk_bounds, within, MIN_ANSWER_WORDS
    )


def _sentences(
    doc: Document,
    chunk_bounds: list[tuple[str, int, int]],
    within: list[tuple[int, int]] | None,
    min_words: int,
) -> list[Sentence]:
    out = []
    covered = -1
    ends = [b for _, _, b in chunk_bounds]  # in the text's order, as the catalog gives them
    for pos, (sentence, quoted) in enumerate(quoted_sentences(doc.text)):
        if sentence.start < covered:
            continue  # inside the quotation taken whole before it
        s = Span(*quoted)
        covered = s.end
        text = doc.text[s.start : s.end]
        if (
            len(text.split()) < min_words
            or text[-1] not in ".!?\"”“'’"
            or (is_headline(text, doc.title) and not whole_text(doc.text, s.start, s.end))
        ):
            continue
        if within is not None and not any(a <= s.start < b for a, b in within):
            continue
        # the first chunk that holds the sentence's start (chunks overlap)
        at = bisect_right(ends, s.start)
        held = at < len(chunk_bounds) and chunk_bounds[at][1] <= s.start
        chunk_id = chunk_bounds[at][0] if held else chunk_bounds[0][0] if chunk_bounds else f"{doc.id}#0"
        out.append(Sentence(doc, chunk_id, s.start, s.end, pos))
    return out


def mentioning(query: str, hits: list[SearchHit], rows: Mapping[str, int], total: int) -> list[SearchHit]:
    """The hits on the query's subject: those whose article (title and text) holds at least half the
    weight of the query's content words (as the keyword index stems them; rows: chunks that hold each,
    of total) that the best hit's article holds. A rare word, a place or a name, outweighs a common
    one: "Larkford strike" keeps to the Larkford article, not another strike's; a passage on the asked
    aspect need not repeat the name its article gives. All of them when none holds a word (a query
    asked in other words than the articles')."""
    wanted = stems(query)
    weight = {t: idf(rows.get(t, 0), total) for t in wanted}
    held: dict[str, float] = {}  # by article: several hits are often one article's
    for h in hits:
        if h.document_id not in held:
            held[h.document_id] = sum(
                weight[t] for t in wanted & article_stems(f"{h.title}\n{h.document_text}")
            )
    best = max(held.values(), default=0.0)
    if best <= 0.0:
        return hits
    return [h for h in hits if held[h.document_id] >= SUBJECT_SHARE * best]


def on_the_numbers_asked(query: str, sentences: list[Sentence]) -> list[Sentence]:
    """A summary focused on "the third quarter", "case 14-K-2307" or "2023": without the sentences
    that name another quarter or case, and without the articles that never name the one asked (or
    the year) when another does: reports of one template are told apart by their number."""
    asked, asked_years = numbered(query), years(query)
    if not asked and not asked_years:
        return sentences
    sentences = [s for s in sentences if not (asked and numbers_another(asked, s.text))]
    held: dict[str, bool] = {}
    for s in sentences:
        if s.document_id not in held:
            held[s.document_id] = mentions_asked(f"{s.title}\n{s.document.text}", asked_years, asked)
    if any(held.values()):
        sentences = [s for s in sentences if held[s.document_id]]
    return sentences


def holds_every_word(query: str, documents: Iterable[Document]) -> bool:
    """Whether one of the documents (its title and text) has every content word of the query, as the
    keyword index stems them."""
    wanted = stems(query)
    return bool(wanted) and any(wanted <= article_stems(f"{d.title}\n{d.text}") for d in documents)


def names_held_by_one(query: str, documents: Iterable[Document]) -> bool:
    """Whether one of the documents holds every name the query gives (answers/wording.py `names`):
    "the Tiago Mendes transfer" is the subject of an article about Mendes's move, whether or not it
    says "transfer". A query that names nothing is not found this way."""
    named = " ".join(n for found in names(query).values() for n in found)
    return bool(named) and holds_every_word(named, documents)


def corroboration(sentences: list[Sentence], vecs: np.ndarray, similar_above: float) -> np.ndarray:
    """For each sentence, the share of the other documents that state something very similar."""
    docs = sorted({s.document.id for s in sentences})
    if len(docs) < 2:
        return np.zeros(len(sentences))
    doc_index = np.array([docs.index(s.document.id) for s in sentences])
    similar = (vecs @ vecs.T) >= similar_above
    out = np.zeros(len(sentences))
    for i in range(len(sentences)):
        others = set(doc_index[similar[i]]) - {doc_index[i]}
        out[i] = len(others) / (len(docs) - 1)
    return out


def leans_back(text: str) -> bool:
    """Whether a sentence opens with a word that points back to the sentence before it."""
    return bool(_LEANS_BACK.match(text))


def leaning_on(sentences: Sequence[Sentence]) -> dict[int, int | None]:
    """i -> j for each sentence i that leans back (`leans_back`): j is the sentence right before it in
    its article (only space between them), or None when that one is not among `sentences` (too short
    to show, outside the passages a focused summary keeps)."""
    out: dict[int, int | None] = {}
    for i, b in enumerate(sentences):
        if leans_back(b.text):
            a = sentences[i - 1] if i else None
            adjacent = (
                a is not None
                and a.document.id == b.document.id
                and not a.document.text[a.end : b.start].strip()
            )
            out[i] = i - 1 if adjacent else None
    return out


# an article whose sentences' centroid is this far from the centroid of all tells another story
# (not tuned: well under the cosine of two reports of one event)
OWN_STORY_BELOW = 0.5


def centrality(vecs: np.ndarray, document_ids: Sequence[str], whole: bool = False) -> np.ndarray:
    """Each sentence's cosine to the centroid of all sentences, the heart of what the articles say;
    unless `whole`, in an article off that (its own centroid below OWN_STORY_BELOW of it) to its own
    article's centroid: in a summary of everything an unrelated article is represented by what it is
    about, not by the fragment nearest the story most articles tell."""

    def unit(v: np.ndarray) -> np.ndarray:
        return v / max(float(np.linalg.norm(v)), 1e-12)

    centroid = unit(vecs.mean(axis=0))
    out = vecs @ centroid
    if whole:
        return out
    by_document: dict[str, list[int]] = {}
    for i, d in enumerate(document_ids):
        by_document.setdefault(d, []).append(i)
    for members in by_document.values():
        own = unit(vecs[members].mean(axis=0))
        if float(own @ centroid) < OWN_STORY_BELOW:
            out[members] = vecs[members] @ own
    return out


def by_article_rounds(order: Sequence[int], document_ids: Sequence[str]) -> list[int]:
    """order (best first) regrouped in rounds: every article's best sentence, then every article's
    second, ...; within a round as in order. A summary of everything then tells each story, not only
    the one that most articles tell (the centroid lies in it)."""
    rank: dict[int, int] = {}
    seen: dict[str, int] = {}
    for i in order:
        rank[i] = seen.get(document_ids[i], 0)
        seen[document_ids[i]] = rank[i] + 1
    return sorted(order, key=rank.__getitem__)  # a stable sort: within a round, as in order


def select_sentences(
    sentences: list[Sentence],
    vecs: np.ndarray,
    max_words: int,
    query_vec: np.ndarray | None = None,
    cfg: SummaryConfig | None = None,
    same: np.ndarray | None = None,
    copies: AbstractSet[str] = frozenset(),
    relevance: np.ndarray | None = None,
) -> list[list[Sentence]]:
    """Pure: groups (a chosen sentence first, then restatements from other articles) within max_words,
    the most central first (or, given `relevance`, the most relevant first: it replaces the scores);
    without a query, each article's best sentence before any article's second (by_article_rounds).
    same[i, j]: sentences i and j say the same thing (default: wording.restatements()); a
    sentence of a document in `copies` (a machine-reworded copy, answers/wording.py) is never shown,
    only cited beside its source's. A summary never opens with a sentence that leans on the one before
    it ("They are fighting ..."): that one is shown first, or the sentence is left for later."""
    cfg = cfg or SummaryConfig()
    if not sentences:
        return []
    if same is None:
        same = restatements(vecs, [s.text for s in sentences], cfg.redundant_above, beside=False)
    score = (
        centrality(
            vecs, [s.document.id for s in sentences], whole=query_vec is not None or relevance is not None
        )
        + np.array([cfg.lead_bonus / np.sqrt(1 + s.position) for s in sentences])
        + cfg.corroboration_bonus * corroboration(sentences, vecs, cfg.redundant_above)
    )
    if relevance is not None:
        score = relevance
    elif query_vec is not None:
        score = (1 - cfg.query_weight) * score + cfg.query_weight * (vecs @ query_vec)
    order = list(np.argsort(-score))
    if relevance is None and query_vec is None:
        order = by_article_rounds(order, [s.document.id for s in sentences])
    chosen: list[int] = []
    groups: dict[int, list[int]] = {}
    words = 0

    def cite_beside(i: int) -> bool:
        """Another outlet says what a chosen sentence says: cite it there, don't repeat it."""
        owners = [j for j in chosen if same[i, j]]
        if not owners:
            return False
        owner = max(owners, key=lambda j: float(vecs[i] @ vecs[j]))
        if all(sentences[k].document.id != sentences[i].document.id for k in groups[owner]):
            groups[owner].append(i)
        return True

    leans = leaning_on(sentences)

    def chain(i: int) -> list[int] | None:
        """i, when a sentence is chosen before it (the sentence before gives the referent); else i after
        the sentences it leans on; None: it would open the summary leaning on one not shown."""
        links = [i]
        while not chosen and (k := links[-1]) in leans:
            j = leans[k]
            if j is None:
                return None
            links.append(j)
        return links[::-1]

    for i in order:
        if i in groups or sentences[i].document.id in copies or cite_beside(i):
            continue
        links = chain(i)
        # what it leans on must be shown beside it, not only cited beside another outlet's sentence
        if links is None or any(same[k, c] for k in links[:-1] for c in chosen):
            continue
        n = sum(len(sentences[k].text.split()) + 1 for k in links)  # + their [n] markers
        if words + n > max_words:
            continue
        for k in links:
            chosen.append(k)
            groups[k] = [k]
        words += n
    for i in order:
        if sentences[i].document.id in copies:
            cite_beside(i)
    # most central first: a summary leads with what the articles are mostly about, not with whichever
    # article's id sorts first (a sentence that leans on the one before comes right after it: chain)
    return [[sentences[k] for k in groups[i]] for i in chosen]


def summary_from_groups(groups: list[list[Sentence]], generator: str, prompt_version: str) -> Summary:
    """Each group's first sentence with the markers of every source that states it (numbered as
    answers are: answers/compose.py)."""
    cited = answer_from_groups(groups, generator, prompt_version)
    return Summary(
        summary=cited.answer, citations=cited.citations, generator=generator, prompt_version=prompt_version
    )
