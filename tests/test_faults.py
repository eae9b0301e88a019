"""Faults: kill -9 in the middle of an ingest (CLI and server), corrupted stores and `factdesk doctor`,
concurrent writers and readers, a misbehaving LLM endpoint, and a Chroma server that goes away.

Every test is bounded in time and count and talks to loopback only. After each fault the same check
runs (faultkit.assert_stores_consistent): nothing half-written is visible, and for every document the
catalog's chunk ids == Chroma's ids == the lexical index's, no id twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ARTICLES, ROOT, make_settings, needs_chroma_cli
from fastapi.testclient import TestClient
from faultkit import (
    LineReader,
    assert_stores_consistent,
    committed_count,
    fake_vector,
    isolated_env,
    kill_while_writing,
    prefill_cache,
    prefill_for_files,
    run_cli,
    texts_to_embed,
    write_articles,
)
from live_server import LiveServer, factdesk_command, free_port
from scripted_openai import (
    ScriptedOpenAI,
    cut_stream,
    delay,
    dynamic,
    malformed,
    prompt_passages,
    reply,
    reply_json,
    status,
)
from test_store_server import ChromaServer

from api.app import create_app
from factdesk.service import Factdesk
from retrieval.errors import NotFound
from retrieval.models import DocumentIn

N_ARTICLES = 150


# --------------------------------------------------------------------------- kill -9 of the CLI


def test_kill_9_of_cli_ingest_is_recovered_and_completed(tmp_path: Path) -> None:
    articles = write_articles(tmp_path / "articles", N_ARTICLES)
    data = tmp_path / "store"
    prefill_for_files(data, articles)
    proc = subprocess.Popen(
        [*factdesk_command(), "ingest", str(tmp_path / "articles")],
        cwd=tmp_path,
        env=isolated_env(data),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    reader = LineReader(proc)
    try:
        at_kill = kill_while_writing(proc, data, lambda: any(": created" in ln for ln in reader.lines))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    reader.join()
    reported = [ln for ln in reader.lines if ": created" in ln]
    assert 0 < at_kill["committed"] < N_ARTICLES, at_kill
    assert len(reported) <= at_kill["committed"]  # a line is printed only after its commit

    # `factdesk doctor` opens the store (recovering what the kill left) and finds it consistent
    doctor = run_cli(["doctor"], data, tmp_path)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    report = json.loads(doctor.stdout)
    assert report["consistent"] and report["unfinished_documents"] == []
    assert report["documents"] == at_kill["committed"]
    assert report["chunks"] == report["vectors"] == report["lexical_rows"]

    svc = Factdesk(make_settings(data))
    try:
        census = assert_stores_consistent(svc)
        assert not set(at_kill["pending"]) & set(census), "a half-written document is visible"
        survivors = len(census)
    finally:
        svc.close()

    # the same command again completes the job: every file created or unchanged, nothing twice
    again = run_cli(["ingest", str(tmp_path / "articles")], data, tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    lines = [ln for ln in again.stdout.splitlines() if not ln.startswith("total:")]
    statuses = [ln.split(": ", 1)[1].split(" (")[0] for ln in lines]
    assert len(statuses) == N_ARTICLES
    assert statuses.count("unchanged") == survivors
    assert statuses.count("created") == N_ARTICLES - survivors
    svc = Factdesk(make_settings(data))
    try:
        census = assert_stores_consistent(svc)
        assert sorted(census) == sorted(p.stem for p in articles)
    finally:
        svc.close()
    print(f"kill -9 CLI: {at_kill}")


# --------------------------------------------------------------------------- kill -9 of the server


def test_kill_9_of_server_during_a_large_post_is_recovered_and_completed(tmp_path: Path) -> None:
    articles = write_articles(tmp_path / "articles", N_ARTICLES, start=1000)
    documents = [{"id": p.stem, "text": p.read_text(encoding="utf-8"), "source": p.name} for p in articles]
    server = LiveServer(tmp_path, env={"FACTDESK_TORCH_THREADS": "1"})
    data = server.data_dir / "store"
    prefill_for_files(data, articles)
    outcome: dict[str, object] = {}

    def post() -> None:
        try:
            with httpx.Client(base_url=server.base_url, timeout=120) as c:
                outcome["status"] = c.post("/v1/documents", json={"documents": documents}).status_code
        except httpx.HTTPError as e:
            outcome["error"] = type(e).__name__

    server.start()
    try:
        poster = threading.Thread(target=post, daemon=True)
        poster.start()
        assert server.proc is not None
        at_kill = kill_while_writing(server.proc, data, lambda: committed_count(data) >= 10)
        poster.join(timeout=30)
        assert "error" in outcome, outcome  # the client saw the connection die, not a reply
        assert 0 < at_kill["committed"] < N_ARTICLES, at_kill

        server.start()  # same port, same store: opening it rolls back what the kill left
        with server.client() as c:
            listed = {d["id"] for d in c.get("/v1/documents").json()["documents"]}
            assert len(listed) == at_kill["committed"]
            assert not listed & set(at_kill["pending"]), "a half-written document is visible"
            for doc_id in sorted(listed)[:3]:
                assert c.get(f"/v1/documents/{doc_id}").status_code == 200
            r = c.post("/v1/documents", json={"documents": documents})
            assert r.status_code == 200, r.text
            statuses = [x["status"] for x in r.json()["results"]]
            assert statuses.count("unchanged") == len(listed)
            assert statuses.count("created") == N_ARTICLES - len(listed)
            assert len(c.get("/v1/documents").json()["documents"]) == N_ARTICLES
    finally:
        server.stop()
    assert "Traceback" not in server.log(), server.log()[-3000:]
    svc = Factdesk(make_settings(data))
    try:
        assert sorted(assert_stores_consistent(svc)) == sorted(p.stem for p in articles)
    finally:
        svc.close()
    print(f"kill -9 server: {at_kill}")


# --------------------------------------------------------------------------- `factdesk doctor` on a corrupted store


def test_doctor_cli_detects_and_repairs_a_corrupted_store(tmp_path: Path) -> None:
    import sqlite3

    articles = write_articles(tmp_path / "articles", 6, start=2000)
    data = tmp_path / "store"
    prefill_for_files(data, articles)
    svc = Factdesk(make_settings(data))
    try:
        results = svc.ingest_paths([tmp_path / "articles"])
        assert [r.status for r in results] == ["created"] * 6
        ids = sorted(r.id for r in results)
        # three faults: a stray vector nobody owns, a lost FTS row, a lost vector
        svc.vectors.upsert(
            ["ghost#0"], fake_vector("ghost")[None, :], [{"document_id": "ghost", "start": 0, "end": 1}]
        )
        no_fts = svc.catalog.chunks_of(ids[1])[0]
        no_vector = svc.catalog.chunks_of(ids[3])[-1]
        svc.vectors.delete_ids([no_vector.key])
    finally:
        svc.close()
    db = sqlite3.connect(data / "catalog.sqlite")
    with db:
        db.execute(
            "DELETE FROM chunks_fts WHERE rowid = (SELECT rowid FROM chunks WHERE id = ?)", (no_fts.id,)
        )
    db.close()

    check = run_cli(["doctor"], data, tmp_path)
    assert check.returncode == 1, check.stdout + check.stderr
    report = json.loads(check.stdout)
    assert not report["consistent"] and "repaired" not in report
    assert report["orphan_vectors"] == 1 and report["missing_vectors"] == 1
    assert (
        f"1 of {report['chunks']} stored chunks have no vector: dense search misses them; --repair embeds them again"
        in report["problems"]
    )
    assert report["documents_missing_lexical"] == [ids[1]]

    repair = run_cli(["doctor", "--repair"], data, tmp_path)
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert json.loads(repair.stdout)["repaired"] is True

    again = run_cli(["doctor"], data, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    after = json.loads(again.stdout)
    assert after["consistent"] and after["documents"] == 6
    assert after["chunks"] == after["vectors"] == after["lexical_rows"]
    svc = Factdesk(make_settings(data))
    try:
        census = assert_stores_consistent(svc)
        assert "ghost" not in census and no_vector.key in census[ids[3]]["vectors"]
        assert no_fts.key in census[ids[1]]["fts"]
    finally:
        svc.close()


# --------------------------------------------------------------------------- concurrent writers and readers

CONCURRENCY_S = 15.0
CENSUS_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[2])
from conftest import make_settings
from factdesk.service import Factdesk
from faultkit import assert_stores_consistent
svc = Factdesk(make_settings(sys.argv[1]))
census = assert_stores_consistent(svc)
print(json.dumps(sorted(census)))
"""


def versioned(doc_id: str, v: int, base: str) -> str:
    return f"Revision {v} of {doc_id}.\n\n{base}" if v else base


def test_concurrent_ingest_delete_ask_threads_and_two_processes(tmp_path: Path, warm_model: None) -> None:
    import random

    data = tmp_path / "store"
    settings = make_settings(data)
    # in-process writers: 40 ids, each in 3 revisions (created / updated / re-created after delete)
    base = {
        p.stem: p.read_text(encoding="utf-8") for p in write_articles(tmp_path / "threads", 40, start=3000)
    }
    revisions = {(d, v): versioned(d, v, t) for d, t in base.items() for v in range(3)}
    # two `factdesk ingest` processes: 25 files each, 5 of them the same texts under other names
    p1 = write_articles(tmp_path / "proc1", 25, start=4000)
    p2 = write_articles(tmp_path / "proc2", 20, start=5000)
    for i, src in enumerate(p1[:5]):
        (tmp_path / "proc2" / f"copy-{i}.txt").write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    p2 = sorted((tmp_path / "proc2").glob("*.txt"))
    items = [DocumentIn(text=t, id=d) for (d, _), t in revisions.items()]
    items += [DocumentIn(text=p.read_text(encoding="utf-8")) for p in [*p1, *p2]]
    prefill_cache(data, texts_to_embed(settings, items))

    svc = Factdesk(settings)
    errors: list[str] = []
    counts = {"ingest": 0, "delete": 0, "ask": 0, "search": 0, "list": 0}
    stop = threading.Event()
    questions = [
        "How many North Korean troops were killed?",
        "When were the two soldiers captured?",
        "Who captured the soldiers?",
        "What happened in Kursk?",
    ]

    def guarded(name: str, body) -> None:  # type: ignore[no-untyped-def]
        def run() -> None:
            rng = random.Random(name)
            while not stop.is_set():
                try:
                    body(rng)
                except Exception as e:  # noqa: BLE001 - every error is a failure, reported below
                    import traceback

                    errors.append(f"{name}: {type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}")
                    return

        return threading.Thread(target=run, name=name, daemon=True)

    def ingest(rng: random.Random) -> None:
        batch = rng.sample(sorted(base), 3)
        got = svc.ingest_documents([DocumentIn(text=revisions[(d, rng.randrange(3))], id=d) for d in batch])
        assert all(r.status in ("created", "updated", "unchanged") for r in got), [r.status for r in got]
        counts["ingest"] += len(got)

    def delete(rng: random.Random) -> None:
        present = [d.id for d in svc.list_documents() if d.id in base]
        counts["list"] += 1
        if present:
            try:
                svc.delete_document(rng.choice(present))
                counts["delete"] += 1
            except NotFound:
                pass  # another revision's write replaced it between the listing and the delete
        time.sleep(0.05)

    from retrieval.clean import clean_article

    cleaned = {(d, v): clean_article(t).text for (d, v), t in revisions.items()}

    def ask(rng: random.Random) -> None:
        answer = svc.ask(rng.choice(questions), top_k=5)
        for c in answer.citations:
            doc = svc.catalog.get(c.document_id)
            # a deleted source may have gone since, and the ingest thread may have replaced it with
            # another revision since: the quote is exact in the revision the answer read
            read = [doc.text] if doc else []
            read += [cleaned[(c.document_id, v)] for v in range(3) if (c.document_id, v) in cleaned]
            assert doc is None or any(t[c.start : c.end] == c.quote for t in read), c
        counts["ask"] += 1
        hits = svc.search(rng.choice(questions), top_k=8)
        assert len({h.chunk_id for h in hits}) == len(hits)
        counts["search"] += 1

    procs = [
        subprocess.Popen(
            [*factdesk_command(), "ingest", str(folder)],
            cwd=tmp_path,
            env=isolated_env(data),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in (tmp_path / "proc1", tmp_path / "proc2")
    ]
    threads = [
        guarded("ingest", ingest),
        guarded("delete", delete),
        guarded("ask-1", ask),
        guarded("ask-2", ask),
    ]
    for t in threads:
        t.start()
    time.sleep(CONCURRENCY_S)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    outs = [p.communicate(timeout=180) for p in procs]
    svc.close()
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
        statuses = [ln.split(": ", 1)[1] for ln in out.splitlines() if not ln.startswith("total:")]
        assert all(s.split(" (")[0] in ("created", "unchanged") for s in statuses), statuses
    assert counts["ingest"] > 0 and counts["delete"] > 0 and counts["ask"] > 0, counts

    # a fresh process sees every store agree, document by document
    census = subprocess.run(
        [sys.executable, "-c", CENSUS_SCRIPT, str(data), str(ROOT / "tests")],
        env=isolated_env(data),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert census.returncode == 0, census.stderr[-3000:]
    present = set(json.loads(census.stdout))
    # nothing the processes created was lost, and each shared text is stored once, under whichever
    # name reached the store first (the other process then saw it as unchanged)
    shared = {f"copy-{i}": p.stem for i, p in enumerate(p1[:5])}
    for copy, original in shared.items():
        assert (copy in present) != (original in present), (copy, original)
    assert {p.stem for p in p1 if p.stem not in shared.values()} <= present
    assert {p.stem for p in p2 if p.stem not in shared} <= present
    print(f"concurrency: {counts}, {len(present)} documents at the end")


# --------------------------------------------------------------------------- the LLM endpoint misbehaves

LLM_KEY = "sk-faults-SECRET-9876543210"
LLM_QUESTION = "How many North Korean soldiers were killed?"


def passages_in(body: dict) -> dict[int, str]:
    return prompt_passages(body)


def quote_of(text: str, words: int = 8) -> str:
    return " ".join(text.split()[:words])


def good(body: dict) -> dict:
    ps = passages_in(body)
    n = min(ps)
    q = quote_of(ps[n])
    return {
        "abstained": False,
        "sentences": [{"text": f"The article says {q}.", "citations": [{"passage": n, "quote": q}]}],
    }


def invented(body: dict) -> dict:
    n = min(passages_in(body))
    return {
        "abstained": False,
        "sentences": [
            {
                "text": "Exactly 12345 soldiers were killed.",
                "citations": [{"passage": n, "quote": "exactly 12345 soldiers were killed in total"}],
            }
        ],
    }


def to_missing_passage(body: dict) -> dict:
    return {
        "abstained": False,
        "sentences": [
            {
                "text": "Exactly 12345 soldiers were killed.",
                "citations": [{"passage": 99, "quote": "12345 soldiers were killed"}],
            }
        ],
    }


def without_citations(body: dict) -> dict:
    return {
        "abstained": False,
        "sentences": [{"text": "Exactly 12345 soldiers were killed.", "citations": []}],
    }


def good_and_invented(body: dict) -> dict:
    return {"abstained": False, "sentences": good(body)["sentences"] + invented(body)["sentences"]}


def lone_surrogates(body: dict) -> str:
    n = min(passages_in(body))
    return (
        '{"abstained": false, "sentences": [{"text": "Broken \\ud800 text", '
        f'"citations": [{{"passage": {n}, "quote": "\\udc00\\ud800 quote here"}}]}}]}}'
    )


def _llm_cases() -> list[tuple[str, object, str]]:
    slow = 3.0  # > llm_timeout_s below
    return [
        # (name, steps factory, expected: "llm" | "fallback" | "any")
        ("timeout-always", lambda: [delay(slow, reply("{}")), delay(slow, reply("{}"))], "fallback"),
        ("timeout-then-ok", lambda: [delay(slow, reply("{}")), dynamic(good)], "llm"),
        (
            "429-retry-after-then-ok",
            lambda: [status(429, headers={"Retry-After": "0.2"}), dynamic(good)],
            "llm",
        ),
        ("429-always", lambda: [status(429, headers={"Retry-After": "0.1"})] * 2, "fallback"),
        (
            "429-retry-after-http-date",
            lambda: [status(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), dynamic(good)],
            "llm",
        ),
        ("500-then-ok", lambda: [status(500), dynamic(good)], "llm"),
        ("500-always", lambda: [status(500)] * 2, "fallback"),
        ("502-html-body", lambda: [status(502, body="<html>bad gateway</html>")] * 2, "fallback"),
        ("401", lambda: [status(401)], "fallback"),
        ("400-json-schema-then-json-object", lambda: [status(400), dynamic(good)], "llm"),
        ("400-always", lambda: [status(400)] * 2, "fallback"),
        ("cut-body", lambda: [cut_stream('{"abstained": false, "sentences": []}')] * 2, "fallback"),
        ("malformed-json-body", lambda: [malformed()], "fallback"),
        ("content-not-json", lambda: [reply("Sure! Lots of soldiers died, trust me.")], "fallback"),
        ("content-json-null", lambda: [reply("null")], "fallback"),
        ("content-empty", lambda: [reply("")], "fallback"),
        (
            "content-wrong-shape",
            lambda: [reply_json({"sentences": "nope", "abstained": "perhaps"})],
            "fallback",
        ),
        (
            "content-truncated-json",
            lambda: [reply('{"abstained": false, "sentences": [{"text": "The')],
            "fallback",
        ),
        ("invented-quote", lambda: [dynamic(invented)], "fallback"),
        ("citation-to-missing-passage", lambda: [dynamic(to_missing_passage)], "fallback"),
        ("no-citations", lambda: [dynamic(without_citations)], "fallback"),
        ("good-and-invented", lambda: [dynamic(good_and_invented)], "llm"),
        ("lone-surrogates", lambda: [dynamic(lone_surrogates)], "any"),
        ("abstains", lambda: [reply_json({"abstained": True, "sentences": []})], "any"),
        ("verified", lambda: [dynamic(good)], "llm"),
    ]


def _stream_cases() -> list[tuple[str, object, str]]:
    def good_text(body: dict) -> str:
        return json.dumps(good(body))

    return [
        (
            "stream-cut-chunked",
            lambda: [dynamic(lambda b: cut_stream(good_text(b), after_chunks=4))],
            "fallback",
        ),
        (
            "stream-cut-clean-eof",
            lambda: [dynamic(lambda b: cut_stream(good_text(b), after_chunks=4, chunked=False))],
            "fallback",
        ),
        ("stream-malformed-event", lambda: [malformed()], "fallback"),
        ("stream-500-always", lambda: [status(500)] * 2, "fallback"),
        ("stream-timeout", lambda: [delay(3.0), delay(3.0)], "fallback"),
        ("stream-invented-quote", lambda: [dynamic(invented)], "fallback"),
        ("stream-verified", lambda: [dynamic(good)], "llm"),
    ]


@pytest.fixture(scope="module")
def llm_app(tmp_path_factory: pytest.TempPathFactory, warm_model: None) -> Iterator[tuple]:

    data = tmp_path_factory.mktemp("llm-faults")
    prefill_for_files(data, sorted(ARTICLES.glob("*.txt")))
    with ScriptedOpenAI() as srv:
        svc = Factdesk(
            make_settings(
                data,
                openai_base_url=srv.base_url,
                openai_api_key=LLM_KEY,
                llm_timeout_s=1.0,
                llm_max_retries=1,
            )
        )
        assert [r.status for r in svc.ingest_paths([ARTICLES])] == ["created"] * 5
        with TestClient(create_app(svc.settings, ingest_on_start=False, service=svc)) as client:
            yield client, srv, svc
        svc.close()


def check_answer(d: dict, expected: str, model: str, client) -> None:  # type: ignore[no-untyped-def]
    assert {"answer", "abstained", "citations", "generator", "prompt_version"} <= set(d)
    if expected == "fallback" or (expected == "any" and d["generator"] == "extractive"):
        assert d["generator"] == "extractive"
        assert d["warnings"], d
    elif expected == "llm":
        assert d["generator"] == model, d
    else:
        assert d["generator"] in ("extractive", model)
    assert "12345" not in d["answer"]  # an invented claim never reaches the caller
    assert LLM_KEY not in json.dumps(d)
    for c in d["citations"]:  # never an unchecked citation
        text = client.get(f"/v1/documents/{c['document_id']}").json()["text"]
        assert text[c["start"] : c["end"]] == c["quote"], c
        assert f"[{c['marker']}]" in d["answer"]


@pytest.mark.parametrize("name,steps,expected", _llm_cases(), ids=[c[0] for c in _llm_cases()])
def test_llm_fault_never_reaches_the_caller(llm_app, name: str, steps, expected: str) -> None:  # type: ignore[no-untyped-def]
    client, srv, svc = llm_app
    srv.reset()
    srv.errors.clear()
    srv.default = status(500)  # only the scripted steps can make the model succeed
    srv.script(*steps())
    t0 = time.monotonic()
    r = client.post("/v1/ask", json={"question": LLM_QUESTION})
    assert r.status_code == 200, r.text
    assert time.monotonic() - t0 < 20
    check_answer(r.json(), expected, svc.settings.llm_model, client)
    assert srv.chat_requests, "the scripted endpoint was never asked"
    assert srv.errors == [], srv.errors


@pytest.mark.parametrize("name,steps,expected", _stream_cases(), ids=[c[0] for c in _stream_cases()])
def test_llm_stream_fault_never_reaches_the_caller(llm_app, name: str, steps, expected: str) -> None:  # type: ignore[no-untyped-def]
    client, srv, svc = llm_app
    srv.reset()
    srv.errors.clear()
    srv.default = status(500)
    srv.script(*steps())
    with client.stream("POST", "/v1/ask", json={"question": LLM_QUESTION, "stream": True}) as r:
        assert r.status_code == 200
        body = "".join(r.iter_text())
    events = [json.loads(line[len("data: ") :]) for line in body.splitlines() if line.startswith("data: ")]
    assert events and all("error" not in e for e in events), events[-1:]
    done = events[-1]
    assert done.get("done") is True and all("delta" in e for e in events[:-1])
    check_answer(done, expected, svc.settings.llm_model, client)


def test_llm_faults_through_the_openai_compatible_and_summary_routes(llm_app) -> None:  # type: ignore[no-untyped-def]
    client, srv, _ = llm_app
    srv.reset()
    srv.script(*[status(503)] * 2)
    r = client.post(
        "/v1/chat/completions",
        json={"model": "factdesk", "messages": [{"role": "user", "content": LLM_QUESTION}]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"]
    for c in r.json()["citations"]:
        assert (
            client.get(f"/v1/documents/{c['document_id']}").json()["text"][c["start"] : c["end"]]
            == c["quote"]
        )

    srv.reset()
    srv.script(cut_stream('{"abstained": false, "sentences": [{"text": "x"', after_chunks=2))
    with client.stream(
        "POST",
        "/v1/chat/completions",
        json={"model": "factdesk", "stream": True, "messages": [{"role": "user", "content": LLM_QUESTION}]},
    ) as r:
        assert r.status_code == 200
        body = "".join(r.iter_text())
    assert body.rstrip().endswith("data: [DONE]") and '"error"' not in body

    for steps in ([status(500)] * 2, [cut_stream("{}")] * 2):
        srv.reset()
        srv.default = status(500)
        srv.script(*steps)
        r = client.post("/v1/summarize", json={"max_words": 60})
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["generator"] == "extractive" and d["warnings"]
        for c in d["citations"]:
            assert (
                client.get(f"/v1/documents/{c['document_id']}").json()["text"][c["start"] : c["end"]]
                == c["quote"]
            )
    srv.default = status(500)


def test_llm_endpoint_that_refuses_connections(tmp_path: Path, warm_model: None) -> None:  # type: ignore[no-untyped-def]

    data = tmp_path / "store"
    prefill_for_files(data, sorted(ARTICLES.glob("*.txt")))
    svc = Factdesk(
        make_settings(
            data,
            openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
            openai_api_key=LLM_KEY,
            llm_timeout_s=1.0,
            llm_max_retries=1,
        )
    )
    try:
        svc.ingest_paths([ARTICLES])
        with TestClient(create_app(svc.settings, ingest_on_start=False, service=svc)) as client:
            r = client.post("/v1/ask", json={"question": LLM_QUESTION})
            assert r.status_code == 200, r.text
            check_answer(r.json(), "fallback", svc.settings.llm_model, client)
            assert any("connection failed" in w for w in r.json()["warnings"])
    finally:
        svc.close()


# --------------------------------------------------------------------------- the Chroma server goes away


def test_chroma_server_down_is_a_clear_503_and_recovers_without_a_restart(
    tmp_path: Path, warm_model: None
) -> None:
    needs_chroma_cli()
    data = tmp_path / "store"
    prefill_for_files(data, sorted(ARTICLES.glob("*.txt")))
    chroma = ChromaServer(tmp_path / "chroma-server", free_port())
    chroma.start()
    svc = Factdesk(make_settings(data, chroma_url=chroma.url))
    try:
        assert [r.status for r in svc.ingest_paths([ARTICLES])] == ["created"] * 5
        with TestClient(create_app(svc.settings, ingest_on_start=False, service=svc)) as client:
            search = {"query": "suicide orders", "top_k": 3}
            ask = {"question": "When were the two soldiers captured?"}
            before = client.post("/v1/search", json=search)
            assert before.status_code == 200 and len(before.json()["results"]) == 3
            assert client.post("/v1/ask", json=ask).status_code == 200
            docs_before = client.get("/v1/documents").json()["documents"]

            chroma.stop()
            down = [
                client.post("/v1/search", json=search),
                client.post("/v1/ask", json=ask),
                client.post("/v1/ask", json={**ask, "stream": True}),
                client.post(
                    "/v1/chat/completions", json={"messages": [{"role": "user", "content": ask["question"]}]}
                ),
                client.post(
                    "/v1/documents",
                    json={
                        "documents": [
                            {
                                "id": "while-down",
                                "text": "Written while the vector store was down, about the war.",
                            }
                        ]
                    },
                ),
                client.get("/readyz"),
            ]
            for r in down:
                assert r.status_code == 503, (r.request.url, r.status_code, r.text)
                err = r.json()["error"]
                assert set(err) == {"code", "message"}
                assert "Chroma" in err["message"] or "store" in err["message"], err
            assert [r.json()["error"]["code"] for r in down[:5]] == ["store_unavailable"] * 5
            assert client.get("/healthz").status_code == 200
            assert client.get("/v1/documents").json()["documents"] == docs_before  # nothing half-stored shows

            chroma.start()  # same path, same port; factdesk is not restarted
            after = client.post("/v1/search", json=search)
            assert after.status_code == 200, after.text
            assert [h["chunk_id"] for h in after.json()["results"]] == [
                h["chunk_id"] for h in before.json()["results"]
            ]
            assert client.post("/v1/ask", json=ask).status_code == 200
            assert client.get("/readyz").status_code == 200
            r = client.post(
                "/v1/documents",
                json={
                    "documents": [
                        {
                            "id": "while-down",
                            "text": "Written while the vector store was down, about the war.",
                        }
                    ]
                },
            )
            assert r.status_code == 200 and r.json()["results"][0]["status"] == "created", r.text
        assert_stores_consistent(svc)
    finally:
        svc.close()
        chroma.stop()


@pytest.mark.parametrize("mode", ["embedded", "http"])
def test_a_collection_deleted_under_the_server_is_made_anew_and_named_until_repaired(
    tmp_path: Path, warm_model: None, mode: str
) -> None:
    """Another client deletes the collection: no 500; /readyz stays 200 and names the lost vectors
    in `degraded`; `doctor --repair` restores them and the same search results."""
    import chromadb

    data = tmp_path / "store"
    prefill_for_files(data, sorted(ARTICLES.glob("*.txt")))
    chroma = None
    if mode == "http":
        needs_chroma_cli()
        chroma = ChromaServer(tmp_path / "chroma-server", free_port())
        chroma.start()
    svc = Factdesk(make_settings(data, chroma_url=chroma.url if chroma else None))
    try:
        assert [r.status for r in svc.ingest_paths([ARTICLES])] == ["created"] * 5
        chunks = svc.catalog.count()[1]
        with TestClient(create_app(svc.settings, ingest_on_start=False, service=svc)) as client:
            search = {"query": "suicide orders", "top_k": 3}
            before = client.post("/v1/search", json=search).json()["results"]
            assert client.get("/readyz").json()["degraded"] == []

            other = svc.vectors._client if chroma is None else chromadb.HttpClient(port=chroma.port)
            other.delete_collection(svc.vectors.name)

            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["degraded"] == [
                f"the vector store holds 0 vectors for {chunks} stored chunks: dense search misses the "
                "rest until `factdesk doctor --repair` restores them"
            ]
            found = client.post("/v1/search", json=search)
            assert found.status_code == 200, found.text
            assert found.json()["results"]  # keywords still find
            assert all(h.dense_rank is None for h in svc.search("suicide orders", top_k=3))

            report = svc.ingestor.doctor(repair=True)
            assert report["missing_vectors"] == chunks and report["repaired"] is True
            assert any(
                p.startswith(f"{chunks} of {chunks} stored chunks have no vector") for p in report["problems"]
            )
            assert client.get("/readyz").json()["degraded"] == []
            assert client.post("/v1/search", json=search).json()["results"] == before
        assert_stores_consistent(svc)
    finally:
        svc.close()
        if chroma is not None:
            chroma.stop()


def test_dense_search_yields_while_another_process_has_not_flushed_its_vectors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Embedded Chroma: a few vectors upserted by another process are not on disk until it has written
    1,000, and until then this process cannot open the index ("Error creating hnsw segment reader:
    Nothing found on disk", seen once in the concurrent test above). Real store, real second process:
    the query returns no dense hits and says so in the log instead of failing the search."""
    import numpy as np

    from retrieval.store import VectorStore

    store = VectorStore(data_dir=tmp_path, chroma_url=None, collection="t", space="s")
    assert store.query(np.ones(4, dtype=np.float32), 3) == []  # empty, opened here first
    writer = (
        "import sys, numpy as np; from pathlib import Path; from retrieval.store import VectorStore; "
        "s = VectorStore(data_dir=Path(sys.argv[1]), chroma_url=None, collection='t', space='s'); "
        "s.upsert(['a', 'b'], np.eye(2, 4, dtype=np.float32), [{'document_id': 'd'}] * 2)"
    )
    subprocess.run([sys.executable, "-c", writer, str(tmp_path)], check=True, cwd=ROOT, timeout=120)
    with caplog.at_level("WARNING", logger="factdesk.store"):
        assert store.query(np.ones(4, dtype=np.float32), 3) == []
    assert "not on disk yet" in caplog.text
    assert store.count() == 2  # the records are there; only the index cannot be read yet


def test_an_ingest_by_another_process_leaves_filtered_search_on_keywords_not_a_500(
    tmp_path: Path, seeded: Factdesk, caplog: pytest.LogCaptureFixture
) -> None:
    """`factdesk ingest` beside a running server (which README asks not to do): the server's filtered
    search found the new document's ids and its own index lacked them ("Error finding id", a 500 until
    a restart). It answers from the keyword side, with the documented `dense search skipped` line."""
    from conftest import copy_embedding_cache

    copy_embedding_cache(seeded, tmp_path / "data")
    server = Factdesk(make_settings(tmp_path / "data"))
    try:
        server.ingest_paths([ARTICLES])
        assert server.search("North Korean soldiers captured", top_k=3)  # its index opened and in use
        (tmp_path / "tolland.txt").write_text(
            "Ferry strike in Tolland\n\nFerry crews in Tolland went on strike on Monday. "
            "The union said 85 crew members walked out over pay.\n"
        )
        cli = [sys.executable, "-m", "factdesk.cli", "ingest", str(tmp_path / "tolland.txt")]
        env = {**os.environ, "FACTDESK_DATA_DIR": str(tmp_path / "data")}
        done = subprocess.run(cli, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "tolland: created" in done.stdout, done.stderr[-2000:]
        only = server.filters(document_ids=["tolland"])
        with caplog.at_level("WARNING", logger="factdesk"):
            hits = server.search("Tolland ferry strike", top_k=3, filters=only)
            answer = server.ask("How many crew members walked out in Tolland?", filters=only)
        assert hits and {h.document_id for h in hits} == {"tolland"}
        assert "85 crew members" in answer.answer and not answer.abstained
        assert "dense search skipped" in caplog.text
    finally:
        server.close()


def test_chroma_query_repeats_when_a_concurrent_delete_hides_an_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Embedded Chroma raised "Error finding id" once in the concurrent test above, when another
    process deleted while a search ran; the store repeats the read (real store, first call made
    to fail that way). Failing every time, it is ids another process added (test below): the dense
    side is skipped with a warning. Any other error still propagates."""
    import numpy as np
    from chromadb.errors import InternalError

    from retrieval.store import VectorStore

    store = VectorStore(data_dir=tmp_path, chroma_url=None, collection="t", space="s")
    vecs = np.eye(3, 4, dtype=np.float32)
    store.upsert(["a", "b", "c"], vecs, [{"document_id": "d"}] * 3)
    real = store.collection()

    class Flaky:
        def __init__(self, message: str, failures: int) -> None:
            self.message, self.failures, self.calls = message, failures, 0

        def query(self, **kw):  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls <= self.failures:
                raise InternalError(self.message)
            return real.query(**kw)

    flaky = Flaky("Error executing plan: Internal error: Error finding id", failures=1)
    store._collection = flaky
    assert store.query(vecs[1], 2)[0][0] == "b" and flaky.calls == 2
    store._collection = Flaky("Error executing plan: Internal error: Error finding id", failures=5)
    with caplog.at_level("WARNING", logger="factdesk.store"):
        assert store.query(vecs[1], 2) == []
    assert "dense search skipped: the store holds vectors another process wrote" in caplog.text
    other = Flaky("Error executing plan: something else", failures=1)
    store._collection = other
    with pytest.raises(InternalError):
        store.query(vecs[1], 2)
    assert other.calls == 1


def test_cli_ingest_warns_beside_a_running_server(tmp_path: Path) -> None:
    """The server holds serve.lock on its embedded store's data dir; `factdesk ingest` there says the
    server will not see the vectors until it restarts (and still ingests). Without a server: no word."""
    (tmp_path / "quay.txt").write_text("Quay reopens\n\nThe quay at Port Ellen reopened on Friday.\n")
    (tmp_path / "server").mkdir()
    run = [*factdesk_command(), "ingest", str(tmp_path / "quay.txt")]
    with LiveServer(tmp_path / "server") as server:
        env = {**os.environ, "FACTDESK_DATA_DIR": str(server.data_dir / "store")}
        beside = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        nothing = subprocess.run(  # a path that is not there: nothing is written, so no word of the server
            [*run[:-1], str(tmp_path / "nowhere")],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert beside.returncode == 0 and "quay: created" in beside.stdout, beside.stderr[-2000:]
    assert "warning: a factdesk serve is running on this data dir" in beside.stderr
    assert nothing.returncode == 1 and "warning: a factdesk serve" not in nothing.stderr, nothing.stderr
    # the server stopped: its lock went with it
    after = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert after.returncode == 0 and "warning: a factdesk serve" not in after.stderr, after.stderr[-2000:]
