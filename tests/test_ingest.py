"""Tests for retrieval.ingest through the service: statuses, both stores in step, deletes, crash
recovery and the doctor. Real parts: the bundled model, embedded Chroma, SQLite FTS5."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ARTICLES, ROOT, SEED_IDS, MakeService, copy_embedding_cache

from answers.engine import recent_documents
from factdesk.service import Factdesk
from retrieval.catalog import Catalog
from retrieval.errors import NotFound
from retrieval import ingest as ingest_module
from retrieval.ingest import Ingestor
from retrieval.lexical import analyze, build_match_query
from retrieval.models import DocumentIn
from retrieval.sentences import sentence_texts

SEED_TEXT = {p.stem: p.read_text(encoding="utf-8") for p in sorted(ARTICLES.glob("*.txt"))}

# page furniture found in the raw seed files; cleaning must keep every one of them out of the chunks
BOILERPLATE = [
    "We need your help now",
    "Readers like you",
    "Do you like this article?",
    "Captcha",
    "PREV ",
    "NEXT ",
    "Advertisement",
    "JournalTv",
    "News in 60 seconds",
    "Support from readers like you",
    "contribute what you can",
]


def fresh(make_service: MakeService, tmp_path: Path, seeded: Factdesk, name: str = "data") -> Factdesk:
    """A new, empty service whose embedding cache already holds the seeds' vectors, so ingesting
    the seeds costs no model time (what a second ingest of the same text sees anyway)."""
    copy_embedding_cache(seeded, tmp_path / name)
    return make_service(name)


def fts_rows(svc: Factdesk) -> dict[str, str]:
    """chunk id -> the text stored in the FTS index, read with a connection of our own."""
    db = sqlite3.connect(Path(svc.settings.data_dir) / "catalog.sqlite")
    try:
        return dict(db.execute("SELECT c.id, f.text FROM chunks_fts f JOIN chunks c ON c.rowid = f.rowid"))
    finally:
        db.close()


def chroma_ids_of(svc: Factdesk, doc_id: str) -> set[str]:
    """The document's keys in Chroma, of any revision (a key is chunk id@revision)."""
    return {i for i in svc.vectors.all_ids() if i.split("@")[0].rsplit("#", 1)[0] == doc_id}


def lexical_ids(svc: Factdesk, query: str) -> set[str]:
    match = build_match_query(query)
    assert match
    return {r[0] for r in svc.catalog.lexical_search(match, 100)}


def edit_words(text: str, fraction: float, seed: int) -> str:
    """A light edit that names nothing new (a new name or figure would make it an article of its own)."""
    rng = random.Random(seed)
    words = text.split(" ")
    for i in rng.sample(range(len(words)), int(len(words) * fraction)):
        words[i] = rng.choice(["reportedly", "allegedly", "troops", "officials", "there"])
    return " ".join(words)


def assert_stores_agree(svc: Factdesk) -> None:
    docs = svc.list_documents()
    chunks = [c for d in docs for c in svc.catalog.chunks_of(d.id)]
    chunk_ids = {c.id for c in chunks}
    assert svc.vectors.all_ids() == {c.key for c in chunks}
    assert set(fts_rows(svc)) == chunk_ids
    assert svc.catalog.lexical_row_count() == len(chunk_ids)
    assert svc.catalog.count() == (len(docs), len(chunk_ids))
    report = svc.ingestor.doctor()
    assert report["consistent"], report


# --------------------------------------------------------------------------- #
# Statuses
# --------------------------------------------------------------------------- #


def test_ingest_seeds_twice_is_created_then_unchanged(
    make_service: MakeService,
    tmp_path: Path,
    seeded: Factdesk,
) -> None:
    svc = fresh(make_service, tmp_path, seeded)
    first = svc.ingest_paths([ARTICLES])
    assert [(r.id, r.status) for r in first] == [(i, "created") for i in SEED_IDS]
    assert all(r.chunks >= 2 for r in first)
    misses, hits = svc.embedder.misses, svc.embedder.hits
    assert misses + hits >= sum(r.chunks for r in first)
    counts = svc.catalog.count()
    vectors = svc.vectors.count()
    lexical = svc.catalog.lexical_row_count()
    assert counts == (5, sum(r.chunks for r in first)) and vectors == counts[1] == lexical

    second = svc.ingest_paths([ARTICLES])
    assert [(r.id, r.status) for r in second] == [(i, "unchanged") for i in SEED_IDS]
    assert [r.chunks for r in second] == [r.chunks for r in first]
    # unchanged text is recognised by its hash before the embedder is even asked
    assert (svc.embedder.misses, svc.embedder.hits) == (misses, hits)
    assert svc.catalog.count() == counts
    assert svc.vectors.count() == vectors
    assert svc.catalog.lexical_row_count() == lexical
    assert_stores_agree(svc)


def test_same_text_under_a_new_id_is_unchanged(
    make_service: MakeService,
    tmp_path: Path,
    seeded: Factdesk,
) -> None:
    svc = fresh(make_service, tmp_path, seeded)
    seed_id = SEED_IDS[2]
    (r,) = svc.ingest_documents([DocumentIn(text=SEED_TEXT[seed_id], id=seed_id)])
    assert r.status == "created"
    before = (svc.catalog.count(), svc.vectors.count())
    # same words, different layout, different id
    relaid = "\n\n" + SEED_TEXT[seed_id].replace("\n", "\n\n") + "\n"
    (again,) = svc.ingest_documents([DocumentIn(text=relaid, id="another-id")])
    assert again.status == "unchanged"
    assert again.id == seed_id  # the document that already holds this text
    with pytest.raises(NotFound):
        svc.get_document("another-id")
    assert (svc.catalog.count(), svc.vectors.count()) == before


def test_new_text_that_another_document_holds_updates_as_its_duplicate(make_service: MakeService) -> None:
    """A stored document sent the text another document already holds is updated to it, marked a
    duplicate of that one; the update is not reported as the other id "unchanged" and dropped. In one
    batch the same. Deleting the original frees the copy, as for any duplicate."""
    svc = make_service()
    bridge = "The new bridge in Inverness opened on Monday after ten months of construction work."
    ferry = "The ferry to Skye was cancelled on Tuesday because of high winds in the strait."
    svc.ingest_documents([DocumentIn(text=bridge, id="br-inv"), DocumentIn(text=ferry, id="keep")])
    (r,) = svc.ingest_documents([DocumentIn(text=bridge, id="keep")])
    assert (r.id, r.status) == ("keep", "duplicate of br-inv")
    kept = svc.get_document("keep")
    assert kept.text == bridge and kept.duplicate_of == "br-inv"
    assert svc.get_document("br-inv").text == bridge
    assert not [h for h in svc.search("ferry Skye winds", top_k=5) if "ferry" in h.text.lower()]
    # a new id with that text is still the stored one, unchanged (nothing of the request is lost)
    (again,) = svc.ingest_documents([DocumentIn(text=bridge, id="brand-new")])
    assert (again.id, again.status) == ("br-inv", "unchanged")
    # within one batch: a stored document takes the text an earlier item of the batch brings
    svc.ingest_documents([DocumentIn(text=ferry, id="other")])
    news = "Snow closed the A9 near Dalwhinnie for six hours on Wednesday, police said."
    out = svc.ingest_documents([DocumentIn(text=news, id="fresh"), DocumentIn(text=news, id="other")])
    assert [(o.id, o.status) for o in out] == [("fresh", "created"), ("other", "duplicate of fresh")]
    assert svc.get_document("other").text == news
    svc.delete_document("br-inv")
    assert svc.get_document("keep").duplicate_of is None
    assert_stores_agree(svc)


def test_new_text_sent_without_metadata_keeps_the_stored_source_url_and_date(
    make_service: MakeService,
) -> None:
    """An update that leaves out the source, url or date (a .txt re-ingested) keeps the stored ones;
    the same text again is unchanged, whatever metadata comes with it (the contract)."""
    svc = make_service()
    text = "The harbour at Portree reopened on Monday after repairs to the pier that took four months."
    first = DocumentIn(
        text=text,
        id="harbour",
        title="Harbour",
        source="example.org",
        url="https://example.org/h",
        published_at="2025-03-02",
    )
    svc.ingest_documents([first])
    before = svc.get_document("harbour")
    for again in (DocumentIn(text=text, id="harbour"), DocumentIn(text=text, id="harbour", title="Other")):
        (r,) = svc.ingest_documents([again])
        assert r.status == "unchanged" and svc.get_document("harbour") == before
    new_text = text + " Ferries will call there again from Wednesday."
    (edited,) = svc.ingest_documents([DocumentIn(text=new_text, id="harbour", source="west-news")])
    assert edited.status == "updated"
    latest = svc.get_document("harbour")
    assert latest.text == new_text and (latest.source, latest.url, latest.published_at) == (
        "west-news",
        "https://example.org/h",
        "2025-03-02T00:00:00+00:00",
    )
    assert latest.published_ts == before.published_ts
    assert_stores_agree(svc)


def test_changed_text_under_the_same_id_is_updated(make_service: MakeService) -> None:
    svc = make_service()
    old_text = " ".join(
        f"Paragraph {i} of the zebracorn notice mentions the harbour at Odesa." for i in range(40)
    )
    (r1,) = svc.ingest_documents([DocumentIn(text=old_text, id="notice", title="Notice")])
    assert r1.status == "created" and r1.chunks >= 3
    old_ids = chroma_ids_of(svc, "notice")
    assert len(old_ids) == r1.chunks
    assert lexical_ids(svc, "zebracorn")

    new_text = "The quasarfish notice replaces the earlier one. It is short."
    (r2,) = svc.ingest_documents([DocumentIn(text=new_text, id="notice", title="Notice")])
    assert r2.status == "updated" and r2.chunks == 1
    assert svc.get_document("notice").text == new_text
    # the old chunks are gone from Chroma and from the FTS index, the new one is in both
    (new_chunk,) = svc.catalog.chunks_of("notice")
    assert chroma_ids_of(svc, "notice") == {new_chunk.key} and new_chunk.key not in old_ids
    assert not lexical_ids(svc, "zebracorn")
    assert not any("zebracorn" in t for t in fts_rows(svc).values())
    assert lexical_ids(svc, "quasarfish") == {"notice#0"}
    stored = svc.vectors.collection().get(ids=[new_chunk.key], include=["metadatas", "embeddings"])
    assert stored["metadatas"][0]["end"] == len(new_text)
    sentences = svc.embedder.embed(["The quasarfish notice replaces the earlier one.", "It is short."])
    expected = sentences.mean(axis=0) / np.linalg.norm(sentences.mean(axis=0))
    assert float(np.dot(np.asarray(stored["embeddings"][0]), expected)) > 0.99
    for hit in svc.search("zebracorn notice harbour", top_k=5):
        assert "zebracorn" not in hit.text
    assert_stores_agree(svc)


def test_two_documents_swapping_texts_are_both_updated(make_service: MakeService) -> None:
    """One call gives sx the text sy holds and sy the text sx holds: both are updated, and neither
    is reported a duplicate of the other (sx was, though sy's copy was about to go)."""
    svc = make_service("swap")
    a = "The new bridge in Inverness opened on Monday after ten months of construction work."
    b = "The ferry to Skye was cancelled on Tuesday because of high winds in the strait."
    svc.ingest_documents([DocumentIn(text=a, id="sx"), DocumentIn(text=b, id="sy")])
    out = svc.ingest_documents([DocumentIn(text=b, id="sx"), DocumentIn(text=a, id="sy")])
    assert [(o.id, o.status) for o in out] == [("sx", "updated"), ("sy", "updated")]
    sx, sy = svc.get_document("sx"), svc.get_document("sy")
    assert (sx.text, sx.duplicate_of, sy.text, sy.duplicate_of) == (b, None, a, None)
    # a later item that sends a stored document its own text again replaces nothing: a lightly
    # edited copy before it is still that document's duplicate
    copy = a.replace("Monday", "Monday morning")
    out = svc.ingest_documents([DocumentIn(text=copy, id="sz"), DocumentIn(text=a, id="sy")])
    assert [(o.id, o.status) for o in out] == [("sz", "duplicate of sy"), ("sy", "unchanged")]
    assert_stores_agree(svc)


def test_lightly_edited_copy_is_a_near_duplicate(
    make_service: MakeService,
    tmp_path: Path,
    seeded: Factdesk,
) -> None:
    svc = fresh(make_service, tmp_path, seeded)
    svc.ingest_paths([ARTICLES])
    seed_id = SEED_IDS[3]
    copy = edit_words(SEED_TEXT[seed_id], 0.05, seed=7)
    (r,) = svc.ingest_documents([DocumentIn(text=copy, id="republished")])
    assert r.status == f"duplicate of {seed_id}"
    doc = svc.get_document("republished")
    assert doc.duplicate_of == seed_id  # stored and searchable, marked as a copy
    assert chroma_ids_of(svc, "republished")
    # a copy of the copy points at the original, not at the copy
    (r2,) = svc.ingest_documents([DocumentIn(text=edit_words(SEED_TEXT[seed_id], 0.05, seed=8), id="again")])
    assert r2.status == f"duplicate of {seed_id}"
    # an unrelated article is not a duplicate of anything
    (r3,) = svc.ingest_documents(
        [DocumentIn(text="A short, unrelated note about rainfall in Lisbon.", id="rain")]
    )
    assert r3.status == "created"


def test_templated_briefs_that_differ_in_a_name_or_figure_are_not_copies(
    make_service: MakeService,
    tmp_path: Path,
    seeded: Factdesk,
) -> None:
    """Briefs from one template share nearly every word pair, yet each reports its own place and figure:
    none is a copy, so a summary of the articles keeps each (copies are left out of it)."""
    svc = fresh(make_service, tmp_path, seeded, "briefs")
    template = (
        "Heavy rain closed the {road} near {town} on Monday morning, police said. Drivers were told to "
        "avoid the area while crews cleared the carriageway, and the road was expected to reopen by the "
        "evening. The Met Office said more rain was likely overnight and warned of standing water on "
        "rural roads across the region. Commuters were advised to check before they travel, and bus "
        "operators said some services would be diverted. Police thanked drivers for their patience."
    )
    results = svc.ingest_documents(
        [
            DocumentIn(text=template.format(road="A64", town="York"), id="york"),
            DocumentIn(text=template.format(road="A64", town="Leeds"), id="leeds"),
            DocumentIn(text=template.format(road="M62", town="York"), id="m62"),
            DocumentIn(text=template.format(road="A64", town="York").replace("told", "asked"), id="again"),
        ]
    )
    assert [r.status for r in results] == ["created", "created", "created", "duplicate of york"]
    # the same in two calls: the stored brief is compared as the batch's one was
    (later,) = svc.ingest_documents([DocumentIn(text=template.format(road="A1", town="York"), id="a1")])
    assert later.status == "created"
    assert {"york", "leeds", "m62", "a1"} <= set(recent_documents(svc.catalog)[0])


def test_one_batch_sees_its_own_documents_and_lands_with_one_upsert(
    make_service: MakeService,
    tmp_path: Path,
    seeded: Factdesk,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Documents of one ingest call are written as a batch (one Chroma upsert, one commit), yet the
    statuses are those of writing them one by one: the same text twice is unchanged, a near-copy of
    an earlier document of the batch is its duplicate, the same id twice keeps the last text."""
    svc = fresh(make_service, tmp_path, seeded, "batch")
    a, b = SEED_IDS[3], SEED_IDS[1]
    upserts: list[int] = []
    real = svc.vectors.upsert
    monkeypatch.setattr(svc.vectors, "upsert", lambda ids, v, m: upserts.append(len(ids)) or real(ids, v, m))
    results = svc.ingest_documents(
        [
            DocumentIn(text=SEED_TEXT[a], id=a),
            DocumentIn(text=SEED_TEXT[a], id="same-text"),
            DocumentIn(text=edit_words(SEED_TEXT[a], 0.05, seed=3), id="near-copy"),
            DocumentIn(text=edit_words(SEED_TEXT[a], 0.05, seed=4), id="copy-of-copy"),
            DocumentIn(text=SEED_TEXT[b], id="twice"),
            DocumentIn(text=SEED_TEXT[SEED_IDS[2]], id="twice"),
        ]
    )
    assert [r.status for r in results] == [
        "created",
        "unchanged",
        f"duplicate of {a}",
        f"duplicate of {a}",
        "created",
        "updated",
    ]
    assert results[1].id == a
    # the last text under "twice" is stored, with its own vectors (not the first text's)
    second = svc.ingestor._prepare(DocumentIn(text=SEED_TEXT[SEED_IDS[2]], id="twice"), skip_stored=False)
    assert svc.get_document("twice").content_hash == second.doc.content_hash
    stored = svc.vectors.collection().get(ids=[svc.catalog.chunks_of("twice")[0].key], include=["embeddings"])
    expected = ingest_module.embed_chunks(svc.embedder, [(second.doc.text, second.chunks)])[0][0]
    assert float(np.dot(np.asarray(stored["embeddings"][0]), expected)) > 0.999
    # the same id twice splits the batch: the first version lands, then the second replaces it
    assert len(upserts) == 2 and sum(upserts) == sum(r.chunks for r in results if r.status != "unchanged")
    assert_stores_agree(svc)


def test_a_failed_batch_leaves_none_of_its_documents(
    make_service: MakeService,
    tmp_path: Path,
    seeded: Factdesk,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    svc = fresh(make_service, tmp_path, seeded, "batch-fail")
    svc.ingest_documents([DocumentIn(text=SEED_TEXT[SEED_IDS[0]], id="kept")])

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Chroma said no")

    monkeypatch.setattr(svc.vectors, "upsert", fail)
    with pytest.raises(RuntimeError, match="Chroma said no"):
        svc.ingest_documents(
            [DocumentIn(text=SEED_TEXT[i], id=f"new-{n}") for n, i in enumerate(SEED_IDS[1:4])]
        )
    monkeypatch.undo()
    assert [d.id for d in svc.list_documents()] == ["kept"]
    assert all(svc.catalog.state_of(f"new-{n}") is None for n in range(3))  # no pending rows left
    assert svc.ingestor.doctor()["consistent"]
    assert_stores_agree(svc)


def test_rejections_do_not_touch_the_stores(make_service: MakeService) -> None:
    svc = make_service()
    results = svc.ingest_documents(
        [DocumentIn(text="   "), DocumentIn(text="Fine text.", id="../etc"), DocumentIn(text="bad\x00bytes")]
    )
    assert [r.status.startswith("rejected: ") for r in results] == [True, True, True]
    assert svc.catalog.count() == (0, 0) and svc.vectors.count() == 0


# --------------------------------------------------------------------------- #
# What is stored
# --------------------------------------------------------------------------- #


def test_stored_chunks_are_slices_of_the_document_text(seeded: Factdesk) -> None:
    fts = fts_rows(seeded)
    meta = seeded.vectors.collection().get(include=["metadatas"])
    chroma = dict(zip(meta["ids"], meta["metadatas"]))
    for doc in seeded.list_documents():
        chunks = seeded.catalog.chunks_of(doc.id)
        assert len(chunks) == doc.chunks > 0
        for c in chunks:
            assert c.text == doc.text[c.start : c.end]
            assert fts[c.id] == analyze(
                doc.text[c.start : c.end]
            )  # SQLite substr counts characters like Python
            m = chroma[c.key]
            assert (m["document_id"], m["start"], m["end"]) == (doc.id, c.start, c.end)


def test_no_boilerplate_reaches_any_chunk(seeded: Factdesk) -> None:
    raw = "\n".join(SEED_TEXT.values())
    assert all(b in raw for b in BOILERPLATE)  # the strings are really in the seed files
    for doc in seeded.list_documents():
        for c in seeded.catalog.chunks_of(doc.id):
            leaked = [b for b in BOILERPLATE if b in c.text]
            assert not leaked, f"{c.id}: {leaked}"
        assert not [b for b in BOILERPLATE if b in doc.text]


def test_dense_vectors_are_the_mean_of_the_chunk_sentences(seeded: Factdesk) -> None:
    """A chunk's vector is the normalised mean of its sentences' vectors, which the cache holds."""
    doc = seeded.get_document(SEED_IDS[0])
    chunks = seeded.catalog.chunks_of(doc.id)
    stored = {k.split("@")[0]: v for k, v in seeded.vectors.vectors([c.key for c in chunks]).items()}
    misses = seeded.embedder.misses
    for c in chunks:
        sentences = sentence_texts(doc.text, c.start, c.end)
        assert len(sentences) > 1
        mean = seeded.embedder.embed(sentences).mean(axis=0)
        assert float(np.dot(stored[c.id], mean / np.linalg.norm(mean))) > 0.9999
        # and the chunk's own embedding is close to it: one vector space, one topic
        assert float(np.dot(stored[c.id], seeded.embedder.embed([c.text])[0])) > 0.8
    assert seeded.embedder.misses == misses + len(chunks)  # the chunk texts only: sentences were cached


# --------------------------------------------------------------------------- #
# Delete
# --------------------------------------------------------------------------- #


def test_delete_removes_the_document_everywhere(
    make_service: MakeService,
    tmp_path: Path,
    seeded: Factdesk,
) -> None:
    svc = fresh(make_service, tmp_path, seeded)
    svc.ingest_paths([ARTICLES])
    victim = SEED_IDS[4]  # the article with the clearest "suicide" passage
    assert any(h.document_id == victim for h in svc.search("suicide orders", top_k=10))
    rows_before = svc.catalog.lexical_row_count()
    victim_chunks = svc.get_document(victim).chunks

    svc.delete_document(victim)

    assert not chroma_ids_of(svc, victim)
    assert svc.catalog.lexical_row_count() == rows_before - victim_chunks
    assert not any(cid.startswith(victim + "#") for cid in fts_rows(svc))
    assert not any(cid.startswith(victim + "#") for cid in lexical_ids(svc, "suicide soldiers Zelenskyy"))
    assert svc.catalog.state_of(victim) is None
    assert victim not in [d.id for d in svc.list_documents()]
    with pytest.raises(NotFound):
        svc.get_document(victim)
    assert all(h.document_id != victim for h in svc.search("suicide orders", top_k=20))
    with pytest.raises(NotFound):
        svc.delete_document(victim)
    assert_stores_agree(svc)
    # and it can come back
    (r,) = svc.ingest_documents([DocumentIn(text=SEED_TEXT[victim], id=victim)])
    assert r.status == "created"


def test_deleting_the_original_frees_its_copies(
    make_service: MakeService,
    tmp_path: Path,
    seeded: Factdesk,
) -> None:
    svc = fresh(make_service, tmp_path, seeded)
    seed_id = SEED_IDS[3]
    svc.ingest_documents([DocumentIn(text=SEED_TEXT[seed_id], id=seed_id)])
    svc.ingest_documents([DocumentIn(text=edit_words(SEED_TEXT[seed_id], 0.05, seed=7), id="copy")])
    assert svc.get_document("copy").duplicate_of == seed_id
    svc.delete_document(seed_id)
    assert svc.get_document("copy").duplicate_of is None


# --------------------------------------------------------------------------- #
# Crash safety
# --------------------------------------------------------------------------- #


def test_failed_write_is_rolled_back_at_once(
    make_service: MakeService,
    tmp_path: Path,
    seeded: Factdesk,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    svc = fresh(make_service, tmp_path, seeded, "failed-write")
    doc_id = SEED_IDS[1]

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Chroma said no")

    monkeypatch.setattr(svc.vectors, "upsert", fail)
    with pytest.raises(RuntimeError, match="Chroma said no"):
        svc.ingest_documents([DocumentIn(text=SEED_TEXT[doc_id], id=doc_id)])
    monkeypatch.undo()
    assert svc.catalog.state_of(doc_id) is None  # no hidden pending row left for the next start
    assert svc.ingestor.doctor()["consistent"]
    (r,) = svc.ingest_documents([DocumentIn(text=SEED_TEXT[doc_id], id=doc_id)])
    assert r.status == "created"


def test_crash_between_chroma_and_commit_is_rolled_back(
    make_service: MakeService,
    tmp_path: Path,
    seeded: Factdesk,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    svc = fresh(make_service, tmp_path, seeded, "crash")
    base, half = SEED_IDS[0], SEED_IDS[4]
    svc.ingest_documents([DocumentIn(text=SEED_TEXT[base], id=base)])

    real_switch = Catalog.switch_revision
    calls = {"n": 0}

    def crash_once(db, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("simulated crash before the commit")
        return real_switch(db, *args, **kwargs)

    monkeypatch.setattr(Catalog, "switch_revision", staticmethod(crash_once))
    # a crash runs no clean-up: disable the immediate roll-back a mere exception would get
    monkeypatch.setattr(Ingestor, "_abandon", lambda self, revisions: None)
    with pytest.raises(RuntimeError, match="simulated crash"):
        svc.ingest_documents([DocumentIn(text=SEED_TEXT[half], id=half)])
    monkeypatch.undo()

    # half-written: vectors in Chroma, a pending row in the catalog, and invisible everywhere
    assert chroma_ids_of(svc, half)
    assert svc.catalog.state_of(half) == "pending"
    assert half not in [d.id for d in svc.list_documents()]
    with pytest.raises(NotFound):
        svc.get_document(half)
    assert all(h.document_id != half for h in svc.search("suicide orders", top_k=20))
    assert not svc.ingestor.doctor()["consistent"]
    svc.close()

    # a new process over the same data dir rolls the half-written document back in both stores
    svc2 = make_service("crash")
    assert svc2.recovered == [half]
    assert not chroma_ids_of(svc2, half)
    assert svc2.catalog.state_of(half) is None
    assert [d.id for d in svc2.list_documents()] == [base]
    assert all(h.document_id != half for h in svc2.search("suicide orders", top_k=20))
    assert_stores_agree(svc2)

    (r,) = svc2.ingest_documents([DocumentIn(text=SEED_TEXT[half], id=half)])
    assert r.status == "created"
    assert any(h.document_id == half for h in svc2.search("suicide orders", top_k=5))
    assert_stores_agree(svc2)


CRASHING_INGEST = """
import os, sys
sys.path.insert(0, {tests!r})
from conftest import make_settings
from answers.engine import recent_documents
from factdesk.service import Factdesk
from retrieval.catalog import Catalog
from retrieval.models import DocumentIn

def die(db, *args, **kwargs):
    os._exit(17)  # the process dies mid-transaction: no rollback, no cleanup

Catalog.switch_revision = staticmethod(die)
svc = Factdesk(make_settings(sys.argv[1]))
svc.ingest_documents([DocumentIn(text=open(sys.argv[2], encoding="utf-8").read(), id=sys.argv[3])])
"""


def test_killed_process_is_recovered_on_next_open(
    make_service: MakeService,
    tmp_path: Path,
    seeded: Factdesk,
) -> None:
    # the cache holds the vectors: the child process loads no model
    svc = fresh(make_service, tmp_path, seeded, "killed")
    half = SEED_IDS[1]
    svc.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "FACTDESK_"))}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASHING_INGEST.format(tests=str(ROOT / "tests")),
            str(tmp_path / "killed"),
            str(ARTICLES / f"{half}.txt"),
            half,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 17, proc.stderr[-2000:]

    svc2 = make_service("killed")
    assert svc2.recovered == [half]
    assert not chroma_ids_of(svc2, half)
    assert svc2.list_documents() == []
    assert_stores_agree(svc2)
    (r,) = svc2.ingest_documents([DocumentIn(text=SEED_TEXT[half], id=half)])
    assert r.status == "created"
    assert_stores_agree(svc2)


# --------------------------------------------------------------------------- #
# Doctor
# --------------------------------------------------------------------------- #


def test_doctor_detects_and_repairs(make_service: MakeService, tmp_path: Path, seeded: Factdesk) -> None:
    svc = fresh(make_service, tmp_path, seeded)
    svc.ingest_paths([ARTICLES])
    clean = svc.ingestor.doctor()
    assert clean["consistent"] and clean["documents"] == 5
    assert clean["chunks"] == clean["vectors"] == clean["lexical_rows"]
    assert clean["missing_vectors"] == clean["orphan_vectors"] == clean["orphan_lexical_rows"] == 0

    # a stray vector nobody owns, a lost FTS row, a lost vector
    stray = svc.embedder.embed(["a stray passage"])
    svc.vectors.upsert(["ghost#0"], stray, [{"document_id": "ghost", "start": 0, "end": 5}])
    victim = svc.catalog.chunks_of(SEED_IDS[2])[1]
    db = sqlite3.connect(Path(svc.settings.data_dir) / "catalog.sqlite")
    with db:
        db.execute(
            "DELETE FROM chunks_fts WHERE rowid = (SELECT rowid FROM chunks WHERE id = ?)", (victim.id,)
        )
    db.close()
    lost = svc.catalog.chunks_of(SEED_IDS[0])[0]
    svc.vectors.delete_ids([lost.key])

    report = svc.ingestor.doctor()
    assert not report["consistent"]
    assert report["orphan_vectors"] == 1
    assert report["missing_vectors"] == 1
    assert report["documents_missing_lexical"] == [SEED_IDS[2]]
    assert "repaired" not in report
    # a report alone changes nothing
    assert "ghost#0" in svc.vectors.all_ids()

    repaired = svc.ingestor.doctor(repair=True)
    assert repaired.get("repaired") is True
    after = svc.ingestor.doctor()
    assert after["consistent"], after
    assert "ghost#0" not in svc.vectors.all_ids()
    assert lost.key in svc.vectors.all_ids()
    assert fts_rows(svc)[victim.id] == analyze(victim.text)
    assert_stores_agree(svc)
    # the repaired chunk is findable again by its own words
    assert victim.id in lexical_ids(svc, victim.text[:200])


def test_doctor_rolls_back_a_pending_row(make_service: MakeService, tmp_path: Path, seeded: Factdesk) -> None:
    svc = fresh(make_service, tmp_path, seeded)
    svc.ingest_documents([DocumentIn(text=SEED_TEXT[SEED_IDS[0]], id="kept")])
    db = sqlite3.connect(Path(svc.settings.data_dir) / "catalog.sqlite")
    with db:
        db.execute(
            "INSERT INTO documents (id, title, text, content_hash, state, created_at) "
            "VALUES ('limbo', 't', 'x', 'h', 'pending', 0)"
        )
    db.close()
    report = svc.ingestor.doctor()
    assert report["unfinished_documents"] == ["limbo"] and not report["consistent"]
    svc.ingestor.doctor(repair=True)
    assert svc.catalog.state_of("limbo") is None
    assert svc.ingestor.doctor()["consistent"]


def test_unchanged_input_skips_cleaning_and_chunking_but_a_deleted_one_is_chunked_again(
    make_service: MakeService, tmp_path: Path, seeded: Factdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = fresh(make_service, tmp_path, seeded, "skip-chunking")
    doc_id = SEED_IDS[2]
    item = DocumentIn(text=SEED_TEXT[doc_id], id=doc_id)
    svc.ingest_documents([item])
    chunked: list[int] = []
    cleaned: list[int] = []
    real_chunk_text, real_clean = ingest_module.chunk_text, ingest_module.clean_article
    monkeypatch.setattr(
        ingest_module, "chunk_text", lambda *a, **k: chunked.append(1) or real_chunk_text(*a, **k)
    )
    monkeypatch.setattr(
        ingest_module, "clean_article", lambda *a, **k: cleaned.append(1) or real_clean(*a, **k)
    )
    (r,) = svc.ingest_documents([item])
    assert r.status == "unchanged" and chunked == [] and cleaned == []  # the same input: nothing to redo
    # the same article with other markup around it cleans to the same text: cleaned, not chunked
    (r,) = svc.ingest_documents([DocumentIn(text=SEED_TEXT[doc_id] + "\n\nShare this article\n", id=doc_id)])
    assert r.status == "unchanged" and chunked == [] and cleaned == [1]
    # a new cleaner version cleans everything again
    monkeypatch.setattr(ingest_module, "CLEANER_VERSION", ingest_module.CLEANER_VERSION + 1)
    (r,) = svc.ingest_documents([item])
    assert r.status == "unchanged" and cleaned == [1, 1] and chunked == []
    cleaned.clear()
    # prepared while stored, deleted before the write: the write chunks it after all
    p = svc.ingestor._prepare(item, skip_stored=True)
    assert not p.complete
    svc.delete_document(doc_id)
    (r,) = svc.ingestor._write_group([p], {})
    assert r.status == "created" and r.chunks > 0 and chunked == [1]
    assert_stores_agree(svc)


@pytest.mark.parametrize("credit", ["(AP Photo/John Smith)", "Photo: Reuters", "Image credit Getty Images"])
def test_untitled_text_is_titled_by_its_headline_not_a_picture_credit(credit: str) -> None:
    """No title given and no blank line after the headline: the stand-in title skips the credit."""
    from retrieval.ingest import prepare

    text = f"{credit}\nQuake toll rises to 300\nThe toll rose on Tuesday as rescuers reached the old town."
    p = prepare(DocumentIn(text=text, id="quake"), max_tokens=160, overlap_tokens=40, max_chars=10_000)
    assert p.doc.title == "Quake toll rises to 300"
    # a long first line stands in cut at a word, one with no space anywhere, and the ellipsis is within
    # the stand-in's 100 characters (a line of one long word came back 101 characters long)
    for long, end in (("Quake toll rises as rescuers reach the old town " * 4, "town…"), ("x" * 150, "x…")):
        p = prepare(
            DocumentIn(text=f"{long}\nThe toll rose.", id="quake"),
            max_tokens=160,
            overlap_tokens=40,
            max_chars=10_000,
        )
        assert len(p.doc.title) <= 100 and p.doc.title.endswith(end), p.doc.title


def test_a_pages_or_records_title_is_held_to_the_apis_length() -> None:
    """The API takes titles of up to 1,000 characters; an HTML page's <title> or a JSON record's
    was kept at 10,000 or whole. Cut at a word, with an ellipsis."""
    from retrieval.ingest import TITLE_MAX, prepare

    long = "Harbour storm report " * 800
    body = "<p>The harbour reopened on Monday after the storm damaged fourteen boats, officials said.</p>"
    for item in (
        DocumentIn(text=f"<html><head><title>{long}</title></head><body>{body}</body></html>", is_html=True),
        DocumentIn(text="The harbour reopened on Monday after the storm damaged fourteen boats.", title=long),
    ):
        title = prepare(item, max_tokens=160, overlap_tokens=40, max_chars=100_000).doc.title
        assert len(title) <= TITLE_MAX and title.endswith("…"), title[-40:]
        assert long.startswith(title[:-1]) and long[len(title) - 1] == " "  # cut at a word


def test_a_blank_title_or_a_markdown_heading_is_no_title() -> None:
    """A title of spaces is no title (the headline stands in, as for none); a Markdown heading's
    marks are not part of the stand-in, and that heading line is still taken for the headline."""
    from retrieval.ingest import prepare
    from retrieval.sentences import is_headline

    text = "# Ferry cancelled\n\nThe ferry to Skye was cancelled on Tuesday because of high winds."
    for title in (None, "", "   "):
        p = prepare(
            DocumentIn(text=text, id="md", title=title), max_tokens=160, overlap_tokens=40, max_chars=10_000
        )
        assert p.doc.title == "Ferry cancelled", title
    assert is_headline("# Ferry cancelled", "Ferry cancelled")
    assert not is_headline("#5 on the list", "5 on the list")  # no space after the marks: not a heading
