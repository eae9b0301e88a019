"""Storage faults are answers, not tracebacks: a full disk (a real 8 MiB tmpfs), a read-only data dir
(a read-only bind mount for the app, `chmod -R a-w` and an unprivileged user for the CLI), a vector
store that is down when `factdesk serve` starts with unfinished writes, and damaged SQLite files.

The mounts need root (as in CI's container); without it those tests skip. Every test ends by checking
that nothing half-written is visible (faultkit.assert_stores_consistent) or that what was there is
still readable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import MakeService, make_settings, needs_chroma_cli, skip_outside_ci
from fastapi.testclient import TestClient
from faultkit import assert_stores_consistent, fake_vector, prefill_for_files, run_cli, write_articles
from live_server import LiveServer, free_port
from test_store_server import ChromaServer

from api.app import create_app
from factdesk.service import Factdesk
from retrieval.faults import refusal
from retrieval.models import DocumentIn, revision_keys


@pytest.fixture
def root() -> None:
    """Mounting a tmpfs or a read-only bind needs root."""
    if os.geteuid() != 0:
        skip_outside_ci("mounting a tmpfs or a read-only bind needs root")


def one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    """The CLI's answer to a fault: exit 2 and one `factdesk: error:` line, no traceback."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("factdesk: error:")]
    assert len(errors) == 1, proc.stderr
    for w in words:
        assert w in errors[0], errors[0]
    return errors[0]


def seeded_store(data: Path, articles: Path, n: int, start: int, **overrides: object) -> list[str]:
    """`n` generated articles ingested into `data` (vectors prefilled: no model time); their ids."""
    paths = write_articles(articles, n, start=start)
    prefill_for_files(data, paths)
    svc = Factdesk(make_settings(data, **overrides))
    try:
        results = svc.ingest_paths(paths)
        assert [r.status for r in results] == ["created"] * n
        return [r.id for r in results]
    finally:
        svc.close()


@pytest.fixture
def mount_point(tmp_path: Path, root: None) -> Iterator[Path]:
    """A folder to mount over (as root); lazily unmounted after the test (Chroma keeps its files open)."""
    where = tmp_path / "mnt"
    where.mkdir()
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


def mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        skip_outside_ci(f"cannot mount here: {proc.stderr.strip()}")


def fill_disk(folder: Path) -> Path:
    """Write zeros until the filesystem says ENOSPC: the disk is really full."""
    filler = folder / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    # the last partial block may have fitted: fill byte by byte is not needed, SQLite pages are 4 KiB
    return filler


# --------------------------------------------------------------------------- disk full


def test_disk_full_is_507_and_one_cli_line_and_the_old_revision_stays(
    tmp_path: Path, mount_point: Path, warm_model: None
) -> None:
    mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point))
    data = mount_point / "store"
    ids = seeded_store(data, tmp_path / "articles", 3, start=3100)
    svc = Factdesk(make_settings(data))
    try:
        old = svc.get_document(ids[0])
        new_text = old.text.replace("Dispatch", "Amended dispatch") + "\n\nA correction was appended later.\n"
        newer = tmp_path / "newer"
        newer.mkdir()
        (newer / f"{ids[1]}.txt").write_text(new_text, encoding="utf-8")
        with TestClient(create_app(svc.settings, ingest_on_start=False, service=svc)) as client:
            assert client.get("/readyz").json()["degraded"] == []
            filler = fill_disk(mount_point)
            assert shutil.disk_usage(mount_point).free < 64 * 1024
            ready = client.get("/readyz")  # the disk filled while serving: still ready for reads, and says so
            assert ready.status_code == 200 and any("no space left" in d for d in ready.json()["degraded"]), (
                ready.text
            )

            body = {"documents": [{"id": ids[0], "text": new_text}]}
            r = client.post("/v1/documents", json=body)
            assert r.status_code == 507, r.text
            assert set(r.json()["error"]) == {"code", "message"}
            assert r.json()["error"]["code"] == "insufficient_storage"
            assert str(mount_point) not in r.text  # no server paths in an error body
            # nothing hidden or half-written: the previous revision answers, reads go on
            assert client.get(f"/v1/documents/{ids[0]}").json()["text"] == old.text
            assert client.post("/v1/search", json={"query": "dispatch desk report"}).status_code == 200

            # a second process, started on the full disk: reads answer, the write is one line, exit 2
            listing = run_cli(["search", "dispatch desk report", "--json"], data, tmp_path)
            assert listing.returncode == 0, listing.stderr
            assert json.loads(listing.stdout)["results"]
            one_line_error(run_cli(["ingest", str(newer)], data, tmp_path), "no space left")

            filler.unlink()
            assert client.get("/readyz").json()["degraded"] == []
            r = client.post("/v1/documents", json=body)
            assert r.status_code == 200 and r.json()["results"][0]["status"] == "updated", r.text
            assert client.get(f"/v1/documents/{ids[0]}").json()["text"] != old.text
        assert_stores_consistent(svc)
    finally:
        svc.close()


def test_doctor_says_full_when_the_vector_store_is_out_of_space(
    make_service: MakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk filled by an ingest can keep a few pages free: the catalog opens writable, but Chroma
    says it is out of space. Doctor said `"data_dir": "writable"` beside that problem."""
    svc = make_service()
    svc.ingest_documents([DocumentIn(id="note", text="The ferry to Skye was cancelled on Tuesday.")])
    assert svc.ingestor.doctor()["data_dir"] == "writable"

    def out_of_space(*_: object, **__: object) -> None:
        raise refusal("full", "the embedded vector store (chroma/)")

    monkeypatch.setattr(svc.ingestor.vectors, "_call", out_of_space)
    report = svc.ingestor.doctor()
    assert report["data_dir"] == "full" and not report["consistent"], report
    assert any("no space left" in p for p in report["problems"]), report["problems"]


# --------------------------------------------------------------------------- read-only data dir


def test_read_only_mount_serves_reads_and_refuses_writes(
    tmp_path: Path, mount_point: Path, warm_model: None
) -> None:
    data = tmp_path / "store"
    ids = seeded_store(data, tmp_path / "articles", 3, start=3200)
    mount("--bind", str(data), str(mount_point))
    mount("-o", "remount,ro,bind", str(mount_point))  # EROFS: even root cannot write here
    svc = Factdesk(make_settings(mount_point))
    try:
        with TestClient(create_app(svc.settings, ingest_on_start=False, service=svc)) as client:
            assert len(client.get("/v1/documents").json()["documents"]) == 3
            assert client.get(f"/v1/documents/{ids[1]}").status_code == 200
            hits = client.post("/v1/search", json={"query": "dispatch desk report"})
            assert hits.status_code == 200 and hits.json()["results"], hits.text
            assert client.post("/v1/ask", json={"question": "What did the desk file?"}).status_code == 200
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert any("read-only" in d for d in ready.json()["degraded"]), ready.json()
            for r in (
                client.post("/v1/documents", json={"documents": [{"text": "A new article about the desk."}]}),
                client.delete(f"/v1/documents/{ids[0]}"),
            ):
                assert r.status_code == 503, r.text
                assert r.json()["error"]["code"] == "read_only"
                assert str(mount_point) not in r.text
            # an id no document has is said so, as on a writable dir
            gone = client.delete("/v1/documents/no-such-article")
            assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found", gone.text
            assert len(client.get("/v1/documents").json()["documents"]) == 3
    finally:
        svc.close()
    # served with its startup ingest on: skipped, with its reason in the log, not a failed ingest
    svc = Factdesk(make_settings(mount_point, articles_dir=str(tmp_path / "articles")))
    try:
        with TestClient(create_app(svc.settings, ingest_on_start=True, service=svc)) as client:
            deadline = time.monotonic() + 120
            while client.get("/healthz").json()["startup"]["ingest"] in ("pending", "running"):
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert client.get("/healthz").json()["startup"]["ingest"] == "skipped"
            assert client.get("/readyz").status_code == 200
    finally:
        svc.close()


def test_read_only_data_dir_for_an_unprivileged_user(tmp_path: Path, warm_model: None) -> None:
    """`chmod -R a-w` means nothing to root, so the CLI runs without the capabilities that let
    root ignore file modes (setpriv drops them). Staying uid 0 keeps the interpreter and the
    installed packages readable however the environment's files were created."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        skip_outside_ci("needs root and setpriv to drop root's file-mode capabilities")
    base = tmp_path / "ro"
    data = base / "store"
    ids = seeded_store(data, tmp_path / "articles", 3, start=3300)
    new = base / "new"
    write_articles(new, 1, start=3399)
    subprocess.run(["chmod", "-R", "a-w", str(data)], check=True)
    unprivileged = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--inh-caps=-all"]
    try:

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            from faultkit import isolated_env
            from live_server import factdesk_command

            return subprocess.run(
                [*unprivileged, *factdesk_command(), *args],
                cwd=base,
                env=isolated_env(data, HOME=str(base)),
                capture_output=True,
                text=True,
                timeout=240,
                check=False,
            )

        probe = cli("search", "dispatch desk report", "--json")
        assert probe.returncode == 0, probe.stderr
        assert json.loads(probe.stdout)["results"]
        ask = cli("ask", "What did the desk file?", "--json")
        assert ask.returncode == 0, ask.stderr
        assert "answer" in json.loads(ask.stdout)
        doctor = cli("doctor")
        assert doctor.returncode in (0, 1) and "Traceback" not in doctor.stderr, doctor.stderr
        report = json.loads(doctor.stdout)
        assert report["data_dir"] == "read_only" and report["documents"] == 3
        one_line_error(cli("ingest", str(new)), "read-only")
        one_line_error(cli("doctor", "--repair"), "read-only")
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(data)], check=False)
    svc = Factdesk(make_settings(data))
    try:
        assert sorted(d.id for d in svc.list_documents()) == sorted(ids)
        assert_stores_consistent(svc)
    finally:
        svc.close()


# --------------------------------------------------------------------------- store down at start


def test_serve_starts_degraded_while_the_store_is_down_and_recovers_in_the_background(
    tmp_path: Path,
) -> None:
    needs_chroma_cli()
    chroma = ChromaServer(tmp_path / "chroma-server", free_port())
    chroma.start()
    data = tmp_path / "live" / "store"
    url = chroma.url.replace("http://", "http://operator:s3cret@")
    try:
        ids = seeded_store(data, tmp_path / "articles", 2, start=3400, chroma_url=chroma.url)
        # a crash between reserve and switch: a revision reserved, its vectors in Chroma
        svc = Factdesk(make_settings(data, chroma_url=chroma.url))
        try:
            with svc.catalog.transaction() as db:
                rev = db.execute(
                    "INSERT INTO revisions (document_id, chunk_count, created_at) VALUES (?, 2, 0)", (ids[0],)
                ).lastrowid
            keys = revision_keys(ids[0], rev, 2)
            svc.vectors.upsert(keys, np.stack([fake_vector(k) for k in keys]), [{"document_id": ids[0]}] * 2)
        finally:
            svc.close()
        chroma.stop()

        server = LiveServer(
            tmp_path / "live", env={"FACTDESK_CHROMA_URL": url, "FACTDESK_RECOVERY_RETRY_S": "0.5"}
        )
        with server:  # before: the open's recovery raised and `factdesk serve` exited
            with server.client() as client:
                assert client.get("/healthz").status_code == 200
                down = client.get("/readyz")
                assert down.status_code == 503, down.text
                message = down.json()["error"]["message"]
                assert "unfinished writes" in message and "s3cret" not in message, message
                assert len(client.get("/v1/documents").json()["documents"]) == 2  # reads of the catalog

                chroma.start()
                deadline = time.monotonic() + 180  # bounded wait for the background retry, not a timing check
                while time.monotonic() < deadline and client.get("/readyz").status_code != 200:
                    time.sleep(0.5)
                ready = client.get("/readyz")
                assert ready.status_code == 200, (ready.text, server.log()[-2000:])
                health = client.get("/healthz").json()
                assert health["recovered"]["revisions_rolled_back"] == 1, health
            assert "recovery finished" in server.log()
        svc = Factdesk(make_settings(data, chroma_url=chroma.url))
        try:
            assert svc.catalog.reserved() == []
            assert not set(keys) & svc.vectors.all_ids()
            assert_stores_consistent(svc)
        finally:
            svc.close()
    finally:
        chroma.stop()


# --------------------------------------------------------------------------- damaged files


def test_corrupted_embedding_cache_is_skipped_detected_and_rebuilt(tmp_path: Path, warm_model: None) -> None:
    data = tmp_path / "store"
    seeded_store(data, tmp_path / "articles", 3, start=3500)
    cache = data / "embeddings.sqlite"
    damaged = b"not a database, a disk error wrote this " * 64
    cache.write_bytes(damaged)

    svc = Factdesk(make_settings(data))
    try:
        with TestClient(create_app(svc.settings, ingest_on_start=False, service=svc)) as client:
            # before: every search and ask was a 500 while /readyz said 200
            r = client.post("/v1/search", json={"query": "dispatch desk report"})
            assert r.status_code == 200 and r.json()["results"], r.text
            assert client.post("/v1/ask", json={"question": "What did the desk file?"}).status_code == 200
            ready = client.get("/readyz")
            assert ready.status_code == 503 and "embeddings.sqlite" in ready.json()["error"]["message"]
    finally:
        svc.close()

    check = run_cli(["doctor"], data, tmp_path)
    assert check.returncode == 1, check.stdout + check.stderr
    report = json.loads(check.stdout)
    assert any(p.startswith("embeddings.sqlite: corrupted") for p in report["problems"]), report
    repair = run_cli(["doctor", "--repair"], data, tmp_path)
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert json.loads(repair.stdout)["recovered"]["files_set_aside"] == 1
    aside = [p for p in data.iterdir() if p.name.startswith("embeddings.sqlite.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == damaged  # kept, never deleted
    again = run_cli(["doctor"], data, tmp_path)
    assert again.returncode == 0 and json.loads(again.stdout)["embedding_cache"] == "ok", again.stdout


def test_a_cut_short_vector_index_is_diagnosed_and_rebuilt(tmp_path: Path, warm_model: None) -> None:
    """Chroma's HNSW files cut short (a full disk while it compacts) failed every later open, and
    `doctor --repair` with them: the server now starts and says so, and the repair sets the folder
    aside and embeds the catalog's chunks again."""
    data = tmp_path / "store"
    seeded_store(data, tmp_path / "articles", 3, start=3700)
    svc = Factdesk(make_settings(data))
    try:  # enough rows that Chroma writes its HNSW index files (their own vectors: orphans)
        filler = [f"filler-{i}" for i in range(1500)]
        svc.vectors.upsert(filler, np.stack([fake_vector(k) for k in filler]), [{"document_id": "x"}] * 1500)
        svc.vectors.count()
    finally:
        svc.close()
    pickles = list((data / "chroma").glob("*/index_metadata.pickle"))
    assert pickles, "Chroma wrote no HNSW index to damage"
    raw = pickles[0].read_bytes()
    pickles[0].write_bytes(raw[: len(raw) // 2])

    with LiveServer(tmp_path) as server, server.client() as client:  # serves tmp_path / "store"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "corrupted" in ready.json()["error"]["message"]
        r = client.post("/v1/search", json={"query": "dispatch desk report"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "store_corrupted"
    check = run_cli(["doctor"], data, tmp_path)
    assert check.returncode == 1 and "Traceback" not in check.stderr, check.stderr
    assert json.loads(check.stdout)["vector_store"] == "corrupted"
    repair = run_cli(["doctor", "--repair"], data, tmp_path)
    assert repair.returncode == 0 and "Traceback" not in repair.stderr, repair.stdout + repair.stderr
    report = json.loads(repair.stdout)
    assert report["consistent"] and report["vector_store"] == "rebuilt"
    assert (data / report["set_aside"]).is_dir()  # the damaged folder is kept
    again = json.loads(run_cli(["doctor"], data, tmp_path).stdout)
    assert again["consistent"] and again["vectors"] == again["chunks"]
    assert run_cli(["search", "dispatch desk report"], data, tmp_path).returncode == 0


@pytest.mark.parametrize("damage", ["header", "whole file"])
def test_corrupted_catalog_is_one_line_then_diagnosed_and_salvaged(
    tmp_path: Path, warm_model: None, damage: str
) -> None:
    data = tmp_path / "store"
    ids = seeded_store(data, tmp_path / "articles", 3, start=3600)
    catalog = data / "catalog.sqlite"
    raw = bytearray(catalog.read_bytes())
    if damage == "header":  # the 16-byte magic overwritten: the pages are intact
        raw[:16] = b"X" * 16
    else:  # every byte: nothing can be read back
        raw[:] = b"\xa5" * len(raw)
    catalog.write_bytes(bytes(raw))

    for args in (
        ["search", "dispatch"],
        ["ingest", str(tmp_path / "articles")],
        ["serve", "--no-ingest", "--port", str(free_port())],
    ):
        one_line_error(run_cli(args, data, tmp_path), "catalog.sqlite", "corrupted")
    check = run_cli(["doctor"], data, tmp_path)
    assert check.returncode == 1 and "Traceback" not in check.stderr, check.stderr
    assert any("catalog.sqlite" in p for p in json.loads(check.stdout)["problems"])

    repair = run_cli(["doctor", "--repair"], data, tmp_path)
    assert "Traceback" not in repair.stderr, repair.stderr
    report = json.loads(repair.stdout)
    assert report["repaired"] is True
    aside = data / report["set_aside"]
    assert aside.read_bytes() == bytes(raw)  # the damaged file is kept as it was
    if damage == "header":
        assert repair.returncode == 0 and report["unrecoverable_documents"] == [], report
        assert report["documents_recovered"] == 3
    else:
        assert repair.returncode == 1, report  # data was lost: say so with the exit status too
        assert report["unrecoverable_documents"] == sorted(ids)
        assert any("re-ingest" in p for p in report["problems"])
    svc = Factdesk(make_settings(data))
    try:
        assert len(svc.list_documents()) == (3 if damage == "header" else 0)
        assert_stores_consistent(svc)
    finally:
        svc.close()
    if damage == "whole file":  # re-ingesting from the sources brings everything back
        assert run_cli(["ingest", str(tmp_path / "articles")], data, tmp_path).returncode == 0
        assert json.loads(run_cli(["doctor"], data, tmp_path).stdout)["documents"] == 3


def test_catalog_read_errors_on_damaged_pages_name_the_file(tmp_path: Path) -> None:
    """A page damaged after the open: the read is the project's 503 error, and /readyz says so."""
    from retrieval.catalog import Catalog
    from retrieval.errors import CorruptStore

    path = tmp_path / "catalog.sqlite"
    cat = Catalog(path)
    cat._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = path.stat().st_size // 4096
    cat.close()
    raw = bytearray(path.read_bytes())
    for page in range(1, pages):  # every page but the first (the schema page keeps the open working)
        raw[page * 4096 : (page + 1) * 4096] = b"\xff" * 4096
    path.write_bytes(bytes(raw))
    cat = Catalog(path)
    try:
        with pytest.raises(CorruptStore) as err:
            cat.list()
        assert "catalog.sqlite" in err.value.message and cat.problem
        assert cat.check() is not None
    finally:
        cat.close()


def test_doctor_repair_salvages_a_catalog_that_opens_with_damaged_pages(
    tmp_path: Path, warm_model: None
) -> None:
    """A catalog whose first pages are sound opens, and its damage shows only to doctor's check: the
    repair sets it aside and salvages it, as it does one that will not open, and its exit status
    says whether what it left is consistent (it said 0 and left the damage)."""
    import sqlite3

    data = tmp_path / "store"
    seeded_store(data, tmp_path / "articles", 40, start=4200)
    catalog = data / "catalog.sqlite"
    db = sqlite3.connect(catalog)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # the near-duplicate bands' pages: read by an ingest's duplicate check, not by the open
    damaged = [n for (n,) in db.execute("SELECT pageno FROM dbstat WHERE name = 'bands' ORDER BY pageno")]
    db.close()
    raw = bytearray(catalog.read_bytes())
    for page in damaged[1:]:  # pageno counts from 1; the table's root page is kept
        raw[(page - 1) * 4096 : page * 4096] = bytes(range(256)) * 16
    catalog.write_bytes(bytes(raw))

    check = run_cli(["doctor"], data, tmp_path)
    assert check.returncode == 1, check.stdout + check.stderr
    assert any(p.startswith("catalog.sqlite: corrupted") for p in json.loads(check.stdout)["problems"])

    repair = run_cli(["doctor", "--repair"], data, tmp_path)
    assert "Traceback" not in repair.stderr, repair.stderr
    report = json.loads(repair.stdout)
    assert report["catalog"] == "salvaged" and (data / report["set_aside"]).exists(), report
    assert repair.returncode == (0 if report["consistent"] else 1), report

    after = json.loads(run_cli(["doctor"], data, tmp_path).stdout)
    assert not any(p.startswith("catalog.sqlite") for p in after["problems"]), after


def test_a_data_dir_deleted_under_the_server_refuses_writes_with_a_503(
    tmp_path: Path, warm_model: None
) -> None:
    """`rm -rf` of the data dir while serving: writes and deletes were 500s (a traceback on the lock
    file) and /readyz stayed 200; now a 503 that says why, and /readyz leaves the rotation."""
    import shutil

    data = tmp_path / "store"
    ids = seeded_store(data, tmp_path / "articles", 2, start=4400)
    svc = Factdesk(make_settings(data))
    try:
        with TestClient(create_app(svc.settings, ingest_on_start=False, service=svc)) as client:
            assert client.get("/readyz").status_code == 200
            shutil.rmtree(data)
            for r in (
                client.post("/v1/documents", json={"documents": [{"text": "A new article about the desk."}]}),
                client.delete(f"/v1/documents/{ids[0]}"),
                client.get("/readyz"),
            ):
                assert r.status_code == 503, r.text
                assert "the data dir store/ no longer exists" in r.json()["error"]["message"], r.text
                assert str(tmp_path) not in r.text
            assert client.get("/healthz").status_code == 200
    finally:
        svc.close()


def test_a_data_dir_turned_read_only_while_serving_is_said_by_readyz(
    tmp_path: Path, warm_model: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remount read-only after the open: writes are refused, and /readyz (200: reads answer) lists
    it in `degraded`, as it does for a data dir read-only at start."""
    import retrieval.faults as faults_module

    data = tmp_path / "store"
    seeded_store(data, tmp_path / "articles", 1, start=4600)
    svc = Factdesk(make_settings(data))
    try:
        with TestClient(create_app(svc.settings, ingest_on_start=False, service=svc)) as client:
            assert client.get("/readyz").json()["degraded"] == []
            real = os.access
            monkeypatch.setattr(
                faults_module.os,
                "access",
                lambda path, mode: False if Path(path) == data else real(path, mode),
            )
            ready = client.get("/readyz")
            assert ready.status_code == 200 and any("read-only" in d for d in ready.json()["degraded"]), (
                ready.text
            )
    finally:
        svc.close()
