"""Tests for factdesk.cli: the real `factdesk` command in a subprocess, offline, over a temp data dir."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, SEED_IDS, make_settings

from factdesk.service import Factdesk

Ingested = tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]
ANSWER_KEYS = {"answer", "abstained", "citations", "generator", "prompt_version"}
CITATION_KEYS = {"marker", "document_id", "chunk_id", "title", "quote", "start", "end"}


class Cli:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "store"
        exe = shutil.which("factdesk")
        self.command = [exe] if exe else [sys.executable, "-m", "factdesk.cli"]
        # offline and isolated: no OpenAI endpoint, no server, no keys from the caller's environment
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "FACTDESK_"))}
        self.env["FACTDESK_DATA_DIR"] = str(self.data_dir)

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.command, *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    workdir = tmp_path_factory.mktemp("cli")
    (workdir / "data").symlink_to(ROOT / "data", target_is_directory=True)  # so `data/articles` works here
    yield Cli(workdir)


@pytest.fixture(scope="module")
def ingested(cli: Cli) -> Ingested:
    first = cli.run("ingest", "data/articles")
    second = cli.run("ingest", "data/articles")
    return first, second


def test_ingest_prints_created_then_unchanged(ingested: Ingested) -> None:
    first, second = ingested
    assert first.returncode == 0, first.stderr[-3000:]
    lines = first.stdout.strip().splitlines()
    assert len(lines) == 6
    for seed_id, line in zip(SEED_IDS, lines):
        assert line.startswith(f"{seed_id}: created (") and line.endswith(" chunks)")
    assert lines[-1] == "total: 5 documents (5 created)"

    assert second.returncode == 0, second.stderr[-3000:]
    lines = second.stdout.strip().splitlines()
    for seed_id, line in zip(SEED_IDS, lines):
        assert line.startswith(f"{seed_id}: unchanged")
    assert lines[-1] == "total: 5 documents (5 unchanged)"


def test_search_json(cli: Cli, ingested: Ingested) -> None:
    proc = cli.run("search", "suicide orders", "-k", "2", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    results = out["results"]
    assert len(results) == 2
    for r in results:
        assert {"chunk_id", "document_id", "title", "text", "start", "end", "score"} <= set(r)
    top = results[0]["text"].lower()
    assert "suicide" in top or "kill themselves" in top
    svc = Factdesk(make_settings(cli.data_dir))
    try:
        for r in results:
            assert r["text"] == svc.get_document(r["document_id"]).text[r["start"] : r["end"]]
    finally:
        svc.close()


def test_search_defaults_to_the_configured_top_k(cli: Cli, ingested: Ingested) -> None:
    """Without -k, FACTDESK_TOP_K results, as the HTTP route gives."""
    for k in ("3", "7"):
        proc = subprocess.run(
            [*cli.command, "search", "soldiers", "--json"],
            cwd=cli.workdir,
            env={**cli.env, "FACTDESK_TOP_K": k},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert len(json.loads(proc.stdout)["results"]) == int(k)


def test_search_plain_text(cli: Cli, ingested: Ingested) -> None:
    proc = cli.run("search", "suicide orders", "-k", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("1. [")


def test_ask_does_not_load_torch(cli: Cli, ingested: Ingested) -> None:
    """A question is embedded by the numpy encoder: the CLI answers without importing torch (seconds)."""
    code = (
        "import sys; from factdesk.cli import main; "
        "rc = main(['ask', 'How many North Korean soldiers were wounded?', '--json']); "
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr); sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cli.workdir,
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2,700" in json.loads(proc.stdout)["answer"]
    assert proc.stderr.strip().splitlines()[-1] == "NO-TORCH"


def test_ask_json(cli: Cli, ingested: Ingested) -> None:
    proc = cli.run("ask", "What were North Korean soldiers ordered to do to avoid capture?", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    answer = json.loads(proc.stdout)
    assert ANSWER_KEYS <= set(answer)
    assert answer["generator"] == "extractive"  # offline: no OPENAI_* in the environment
    assert isinstance(answer["abstained"], bool) and not answer["abstained"]
    assert answer["citations"]
    svc = Factdesk(make_settings(cli.data_dir))
    try:
        for c in answer["citations"]:
            assert CITATION_KEYS <= set(c)
            assert f"[{c['marker']}]" in answer["answer"]
            assert c["quote"] == svc.get_document(c["document_id"]).text[c["start"] : c["end"]]
    finally:
        svc.close()


def test_doctor_exits_zero(cli: Cli, ingested: Ingested) -> None:
    proc = cli.run("doctor")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["consistent"] is True and report["documents"] == 5
    # a mistyped data dir is said, not created and called consistent
    missing = cli.workdir / "no-such-store"
    proc = subprocess.run(
        [*cli.command, "doctor"],
        cwd=cli.workdir,
        env={**cli.env, "FACTDESK_DATA_DIR": str(missing)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2 and proc.stderr == (
        f"factdesk: error: no data dir at {missing}: nothing to check (is FACTDESK_DATA_DIR right?)\n"
    )
    assert not missing.exists()
    # one that cannot be made is said so, not "read-only" (nothing could be read from it)
    blocked = cli.workdir / "a-file"
    blocked.write_text("not a folder")
    proc = subprocess.run(
        [*cli.command, "ask", "Who was captured?"],
        cwd=cli.workdir,
        env={**cli.env, "FACTDESK_DATA_DIR": str(blocked / "store")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2 and proc.stderr.startswith(
        f"factdesk: error: the data dir {blocked / 'store'} cannot be created (Not a directory)"
    ), proc.stderr[-2000:]


def test_ingest_of_a_missing_path_is_a_rejected_line(cli: Cli) -> None:
    proc = cli.run("ingest", "no/such/folder")
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "no/such/folder: rejected: no such file or folder"
    assert lines[-1] == "total: 1 documents (1 rejected)"
    assert proc.returncode == 1  # nothing could be ingested


def test_a_malformed_url_is_a_rejected_line_and_the_rest_is_stored(tmp_path: Path) -> None:
    """A URL urlsplit refuses (an unclosed IPv6 host, a port out of range) is one rejected item:
    the file named beside it is still stored, and `watch` goes on too."""
    cli = Cli(tmp_path)
    (tmp_path / "pier.txt").write_text(
        "Pier repairs in Tolworth\n\nThe pier in Tolworth will close for repairs from 3 April.\n"
    )
    proc = cli.run("ingest", "pier.txt", "http://[::1/feed", "http://example.org:99999999999999999999/")
    lines = proc.stdout.strip().splitlines()
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert any(ln.startswith("pier: created (") for ln in lines), lines
    assert "http://[::1/feed: rejected: invalid URL (Invalid IPv6 URL)" in lines
    port = "http://example.org:99999999999999999999/: rejected: invalid URL (Port out of range 0-65535)"
    assert port in lines
    assert lines[-1] == "total: 3 documents (1 created, 2 rejected)"
    assert proc.returncode == 0
    found = json.loads(cli.run("search", "Tolworth pier", "-k", "1", "--json").stdout)
    assert [h["document_id"] for h in found["results"]] == ["pier"]
    watch = cli.run("watch", "http://[::1", "--rounds", "1", "--every", "0.1s")
    assert "Traceback" not in watch.stderr, watch.stderr[-2000:]
    assert watch.stdout.splitlines()[0] == "http://[::1: rejected: invalid URL (Invalid IPv6 URL)"
    assert watch.returncode == 1  # every item of every round rejected, as ingest's exit says
    kept = cli.run("watch", "http://[::1", "pier.txt", "--rounds", "1", "--every", "0.1s")
    assert kept.returncode == 0, kept.stdout + kept.stderr[-2000:]


def test_an_empty_archive_is_named_not_just_declined(tmp_path: Path) -> None:
    """A mistyped data dir or an ingest not run yet: the decline says the archive is empty (on
    stderr; --json keeps its shape and carries it in `warnings`), and once an article is in, a
    decline no longer says so."""
    cli = Cli(tmp_path)
    cli.env["FACTDESK_DATA_DIR"] = str(tmp_path / "no" / "such" / "store")
    asked = cli.run("ask", "How many soldiers were captured?")
    assert asked.returncode == 0, asked.stderr[-2000:]
    assert asked.stdout.strip() == "The articles do not cover this question."
    assert "warning: the archive holds no documents" in asked.stderr
    answer = json.loads(cli.run("ask", "How many soldiers were captured?", "--json").stdout)
    assert answer["abstained"] and any(
        w.startswith("the archive holds no documents") for w in answer["warnings"]
    )
    assert "warning: the archive holds no documents" in cli.run("summarize").stderr
    found = cli.run("search", "soldiers", "--json")
    assert json.loads(found.stdout) == {"results": []}
    assert "warning: the archive holds no documents" in found.stderr
    (tmp_path / "pier.txt").write_text("Pier repairs\n\nThe pier in Tolworth will close from 3 April.\n")
    assert cli.run("ingest", "pier.txt").returncode == 0
    declined = cli.run("ask", "How many soldiers were captured?")
    assert "The articles do not cover this question." in declined.stdout
    assert "archive holds no documents" not in declined.stderr


def test_ingest_line_says_a_front_matter_date_was_ignored(cli: Cli) -> None:
    notes = cli.workdir / "undated-notes.md"
    notes.write_text(
        "---\npublished_at: not-a-date\n---\nThe quarry expansion was approved by the council on Monday.",
        encoding="utf-8",
    )
    proc = cli.run("ingest", str(notes))
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = proc.stdout.strip().splitlines()[0]
    assert line == (
        "undated-notes: created (1 chunks); warning: published_at ignored: 'not-a-date' is not an ISO 8601 date"
    )
    assert "not-a-date" not in proc.stderr  # said once, on the item's line


def test_errors_are_one_line_and_exit_2(cli: Cli) -> None:
    proc = cli.run("search", "suicide orders", "-k", "0")
    assert proc.returncode == 2
    assert proc.stderr.startswith("factdesk: error: ") and len(proc.stderr.strip().splitlines()) == 1


def test_watch_refuses_a_round_count_under_one(cli: Cli) -> None:
    for rounds in ("0", "-1"):  # 0 polled forever, -1 once
        proc = cli.run("watch", "http://127.0.0.1:9/feed.xml", "--rounds", rounds)
        assert proc.returncode == 2 and "not a whole number of 1 or more" in proc.stderr


def test_serve_refuses_a_port_out_of_range_and_ingest_an_empty_path(cli: Cli) -> None:
    # uvicorn bound 99999 as 34463 while logging 99999; "" was the current folder, data dirs and all
    for args, says in [
        (("serve", "--port", "99999"), "not a port (1-65535)"),
        (("serve", "--port", "0"), "not a port (1-65535)"),
        (("ingest", ""), "an empty path names nothing"),
        (("ingest", "data/articles", " "), "an empty path names nothing"),
        (("serve", "--log-level", "bogus"), "invalid choice: 'bogus'"),  # was uvicorn's KeyError traceback
    ]:
        proc = cli.run(*args)
        assert proc.returncode == 2 and says in proc.stderr, (args, proc.stderr[-2000:])
        assert "created" not in proc.stdout


def test_a_refused_setting_is_named_in_one_line_not_a_traceback(cli: Cli, tmp_path: Path) -> None:
    for name, value, said in [
        ("FACTDESK_READER_DIR", str(tmp_path / "nowhere"), "has no reader.npz or config.json"),
        ("FACTDESK_DATABASE_URL", "mysql://db", "must be a postgresql:// URL"),
        ("FACTDESK_TOP_K", "0", "greater than or equal to 1"),
        # settings that only make sense together, and a start that would otherwise be a traceback
        ("FACTDESK_TOP_K", "80", "is more than FACTDESK_MAX_TOP_K (50)"),
        ("FACTDESK_DOCUMENTS_PAGE_SIZE", "20000", "is more than FACTDESK_DOCUMENTS_MAX_PAGE_SIZE"),
        ("FACTDESK_CHUNK_OVERLAP_TOKENS", "300", "must be less than FACTDESK_CHUNK_TOKENS (200)"),
        ("FACTDESK_ALLOWED_HOSTS", ",", "names no host"),
        ("FACTDESK_API_KEYS", " , ,", "names no key"),
        ("FACTDESK_CHROMA_URL", "127.0.0.1:8170", "must be an http:// or https:// URL with a host"),
        ("FACTDESK_CHROMA_URL", "http://127.0.0.1:notaport", "is not a URL (Port could not be cast"),
        # was taken, and every question then logged "LLM call failed: APIConnectionError"
        ("OPENAI_BASE_URL", "notaurl", "must be an http:// or https:// URL with a host"),
        ("FACTDESK_FETCH_USER_AGENT", "a\r\nX-Injected: yes", "must be one line"),
        ("FACTDESK_PROMPTS_DIR", str(tmp_path / "nowhere"), "lacks system.md"),
        ("FACTDESK_DATA_DIR", str(Path(__file__)), "is a file, not a folder"),
    ]:
        proc = subprocess.run(
            [*cli.command, "ask", "Who was captured?"],
            cwd=cli.workdir,
            env={**cli.env, name: value},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert lines[0].startswith("factdesk: error: ") and name in lines[0] and said in lines[0]


def test_a_misspelt_setting_is_named_and_a_refused_one_says_it_came_from_env_file(cli: Cli) -> None:
    """FACTDESK_TOPK was ignored without a word; a bad value read from .env did not say so."""
    proc = subprocess.run(
        [*cli.command, "search", "harbour"],
        cwd=cli.workdir,
        env={**cli.env, "FACTDESK_TOPK": "3"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        "FACTDESK_TOPK (in the environment) is not a factdesk setting and is ignored; did you mean "
        "FACTDESK_TOP_K?" in proc.stderr
    )
    assert "without FACTDESK_CHROMA_URL" not in proc.stderr
    env_file = Path(cli.workdir) / ".env"
    env_file.write_text("FACTDESK_CHROMA_URL=127.0.0.1:8170\n", encoding="utf-8")
    try:
        proc = cli.run("search", "harbour")
    finally:
        env_file.unlink()
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "factdesk: error: FACTDESK_CHROMA_URL must be an http:// or https:// URL with a host, e.g. "
        "http://127.0.0.1:8001 (set in .env)"
    )


def test_ingest_and_watch_urls(tmp_path: Path) -> None:
    """`factdesk ingest URL`: one line per feed item, failures as `<url>: rejected: <reason>`;
    `factdesk watch` polls: the second round finds nothing new, and prints no line per story."""
    from feedserver import STORIES, article_page, rss, serve_site

    with serve_site() as site:
        site.add("/news/harbour.html", article_page("harbour"))
        site.add("/news/ferry.html", article_page("ferry"))
        items = [
            (STORIES["harbour"][0], "/news/harbour.html", "Sun, 02 Mar 2025 08:30:00 GMT"),
            ("Missing story", "/news/missing.html", "Sun, 02 Mar 2025 09:00:00 GMT"),
        ]
        site.add("/feed.xml", rss(site.base, items), "application/rss+xml")
        cli = Cli(tmp_path)
        proc = cli.run("ingest", f"{site.base}/feed.xml")
        assert proc.returncode == 0, proc.stderr[-3000:]
        lines = proc.stdout.strip().splitlines()
        assert f"{site.base}/news/missing.html: rejected: HTTP 404 Not Found" in lines
        assert any(ln.endswith(": created (1 chunks)") and "news-harbour.html" in ln for ln in lines)
        assert lines[-1] == "total: 2 documents (1 created, 1 rejected)"

        proc = cli.run(
            "watch",
            f"{site.base}/feed.xml",
            f"{site.base}/news/ferry.html",
            "--every",
            "0.1s",
            "--rounds",
            "2",
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        lines = proc.stdout.strip().splitlines()
        assert lines[0] == f"{site.base}/news/missing.html: rejected: HTTP 404 Not Found"
        assert lines[1].endswith(": created (1 chunks)") and "news-ferry.html" in lines[1]
        assert lines[2].startswith("round 1 at ") and lines[2].endswith(
            ": 1 created, 1 rejected, 1 unchanged"
        )
        assert lines[3] == lines[0]  # a failing item fails again, every round
        assert lines[4].startswith("round 2 at ") and lines[4].endswith(": 1 rejected, 2 unchanged")
        assert site.statuses("/news/ferry.html") == [200, 304]


def test_watch_rejects_a_bad_interval(tmp_path: Path) -> None:
    proc = Cli(tmp_path).run("watch", "http://127.0.0.1:9/feed.xml", "--every", "soon")
    assert proc.returncode == 2 and "not a duration" in proc.stderr


def test_a_shared_catalog_without_a_shared_vector_store_is_warned_of(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A replica given FACTDESK_DATABASE_URL but no FACTDESK_CHROMA_URL joined a deployment with its
    vectors in its own data dir, unseen by the others, and nothing said so."""
    from factdesk.settings import load_settings

    monkeypatch.chdir(tmp_path)  # no .env here
    for name in [k for k in os.environ if k.startswith(("FACTDESK_", "OPENAI_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FACTDESK_DATABASE_URL", "postgresql://factdesk@127.0.0.1:5432/factdesk")
    with caplog.at_level(logging.WARNING, logger="factdesk.settings"):
        load_settings()
    assert any("without FACTDESK_CHROMA_URL" in r.getMessage() for r in caplog.records)
    caplog.clear()
    monkeypatch.setenv("FACTDESK_CHROMA_URL", "http://127.0.0.1:8001")
    with caplog.at_level(logging.WARNING, logger="factdesk.settings"):
        load_settings()
    assert not caplog.records
