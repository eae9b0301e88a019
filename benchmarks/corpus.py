"""Benchmark corpora: the seed articles, and any number of distinct synthetic articles made from them.

A synthetic article is real seed sentences, shuffled across the five seeds, with every number
redrawn, about half of the capitalised words (names, places, organisations) swapped for names
from fixed lists (one mapping per article) and 30% of the other words of 4+ letters swapped for a
random word of the seeds. Texts are distinct, read like (odd) news, keep the seed
vocabulary for lexical search, and pass exact and near-duplicate detection (checked in the run:
every synthetic article is ingested as `created`). Deterministic for a given seed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from retrieval.clean import clean_article
from retrieval.models import DocumentIn
from retrieval.sentences import split_sentences

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "data" / "articles"

# No abbreviations here (sentences.ABBREVIATIONS), so substituted text splits into the same sentences.
_NAMES = """Abbott Adeyemi Alvarez Andersen Antonelli Arslan Bakshi Baranov Becker Bianchi Boateng Brennan
Castillo Chandra Chen Costa Dalton Dimitrov Dubois Eriksen Estrada Farouk Ferreira Fischer Fontaine Garcia
Grant Haddad Hansen Hartley Horvat Ibrahim Ivanova Jansen Jensen Kapoor Kariuki Kowalski Kruger Larsen
Laurent Lindqvist Lopez Mahmoud Marchetti Mbeki Mendes Moreau Nakamura Novak Nowak Okafor Olsen Ortega
Petrov Pereira Quinn Ramos Reyes Rossi Saito Santos Schmidt Silva Sokolov Suzuki Tanaka Torres Ueda
Varga Vasquez Wagner Weber Yilmaz Zhang Zielinski"""
_PLACES = """Almaty Ankara Antwerp Asuncion Baku Belgrade Bergen Bogota Bratislava Brno Bucharest Cairo
Calgary Cordoba Dakar Dhaka Dublin Durban Gdansk Geneva Hanoi Helsinki Izmir Jakarta Kampala Kaunas
Krakow Lagos Lima Lisbon Lyon Manila Marseille Montevideo Nairobi Nicosia Oslo Porto Quito Riga Rotterdam
Salzburg Santiago Sarajevo Seville Skopje Sofia Tallinn Tbilisi Tirana Turin Utrecht Valencia Vilnius
Warsaw Yerevan Zagreb Zurich"""
NAMES = tuple(_NAMES.split())
PLACES = tuple(_PLACES.split())
_CAPITALISED = re.compile(r"(?<=[\s\"'“(])[A-Z][a-z]{2,}\b")
_NUMBER = re.compile(r"\d+")
_LOWER_WORD = re.compile(r"\b[a-z]{4,}\b")
# share of ordinary words swapped for another seed word: without it, two synthetic articles that
# drew the same few seed sentences share enough word pairs to become near-duplicate candidates,
# and the candidate check (not search) would dominate a 100k-chunk build
WORD_SWAP_RATE = 0.5


@lru_cache(maxsize=1)
def seed_texts() -> dict[str, str]:
    """Cleaned text of each seed article, by file stem (the document id `factdesk ingest` gives it)."""
    return {p.stem: clean_article(p.read_text(encoding="utf-8")).text for p in sorted(ARTICLES.glob("*.txt"))}


@lru_cache(maxsize=1)
def seed_vocabulary() -> tuple[str, ...]:
    return tuple(sorted({w for t in seed_texts().values() for w in _LOWER_WORD.findall(t)}))


@lru_cache(maxsize=1)
def seed_sentences() -> tuple[str, ...]:
    """Body sentences of the seeds (bylines, captions and one-word lines left out)."""
    out: list[str] = []
    for text in seed_texts().values():
        for s in split_sentences(text):
            sent = text[s.start : s.end]
            if len(sent) >= 40 and len(sent.split()) >= 7 and sent[-1] in ".!?\"'”’":
                out.append(sent)
    return tuple(dict.fromkeys(out))


def _redraw_number(rng: random.Random, m: re.Match) -> str:
    digits = m.group(0)
    if len(digits) == 1:
        return str(rng.randint(2, 9))
    return str(rng.randint(10 ** (len(digits) - 1), 10 ** len(digits) - 1))


@dataclass
class SyntheticCorpus:
    """Deterministic stream of synthetic articles. `origin` maps each synthetic sentence to the seed
    sentence it came from, so a stub embedder can give it that sentence's real vector (scale.py)."""

    seed: int = 0
    min_sentences: int = 18
    max_sentences: int = 40
    origin: dict[str, int] = field(default_factory=dict)
    track_origin: bool = False

    def article(self, i: int) -> DocumentIn:
        rng = random.Random(self.seed * 1_000_003 + i)
        pool = seed_sentences()
        picks = rng.sample(range(len(pool)), rng.randint(self.min_sentences, self.max_sentences))
        mapping: dict[str, str] = {}

        def swap(m: re.Match) -> str:
            w = m.group(0)
            if w not in mapping:  # about half the names change; the rest keep the seeds' topic words
                mapping[w] = rng.choice(NAMES + PLACES) if rng.random() < 0.7 else w
            return mapping[w]

        vocab = seed_vocabulary()

        def swap_word(m: re.Match) -> str:
            return rng.choice(vocab) if rng.random() < WORD_SWAP_RATE else m.group(0)

        sentences = []
        for k in picks:
            s = _CAPITALISED.sub(swap, " " + pool[k])[1:]
            s = _NUMBER.sub(lambda m: _redraw_number(rng, m), _LOWER_WORD.sub(swap_word, s))
            sentences.append(s)
            if self.track_origin:
                self.origin[s] = k
        paragraphs, pos = [], 0
        while pos < len(sentences):
            n = rng.randint(2, 4)
            paragraphs.append(" ".join(sentences[pos : pos + n]))
            pos += n
        title = f"Dispatch {i}: " + " ".join(sentences[0].split()[:7]).rstrip(",.;:")
        return DocumentIn(
            text=title + "\n\n" + "\n\n".join(paragraphs),
            title=title,
            id=f"syn-{self.seed}-{i}",
            source="synthetic",
        )

    def articles(self, start: int, stop: int) -> Iterator[DocumentIn]:
        for i in range(start, stop):
            yield self.article(i)


def seed_documents() -> list[DocumentIn]:
    return [
        DocumentIn(text=p.read_text(encoding="utf-8"), id=p.stem, source="seed")
        for p in sorted(ARTICLES.glob("*.txt"))
    ]


def fixed_chunk_set(
    n_chunks: int, *, max_tokens: int = 200, overlap_tokens: int = 50, seed: int = 7
) -> tuple[list[DocumentIn], list[str]]:
    """Synthetic articles whose chunks (chunk_text, the ingest settings) number at least n_chunks,
    and exactly those chunk texts: the model benchmark embeds these, the ingest benchmark ingests
    the articles, so both see the same text."""
    from retrieval.chunk import chunk_text

    corpus = SyntheticCorpus(seed=seed)
    docs: list[DocumentIn] = []
    chunks: list[str] = []
    i = 0
    while len(chunks) < n_chunks:
        doc = corpus.article(i)
        text = clean_article(doc.text).text
        chunks += [text[s.start : s.end] for s in chunk_text(text, max_tokens, overlap_tokens)]
        docs.append(doc)
        i += 1
    return docs, chunks
