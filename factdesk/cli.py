"""The `factdesk` command line: ingest, search, ask, summarize, serve, eval, doctor."""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import logging
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

# One BLAS thread for numpy (set before numpy loads): the query encoder's small matrices gain little
# from a second thread, and under load two threads made it 20x slower at the median (BENCHMARKS.md).
# Bulk embedding runs in torch, whose threads are set apart.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from retrieval.errors import FactdeskError

if TYPE_CHECKING:
    from factdesk.settings import Settings

PROGRESS_MIN_DOCUMENTS = 20  # a progress bar only when a run is long enough to need one


def _service():  # type: ignore[no-untyped-def]
    from factdesk.service import Factdesk
    from factdesk.settings import load_settings

    return Factdesk(load_settings())


def _print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def _printable(text: str) -> str:
    """A line safe for a terminal: file names and ids read from files may hold escape sequences."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


# ANSI/VT escape sequences: CSI (ESC [ ... final byte, or the 8-bit CSI), OSC and the other string
# commands (ESC ] P X ^ _ ... up to BEL or ESC \, which can set the window title or write a
# hyperlink), and two-character ESC sequences.
_ESCAPE_RE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
# what is left: C0/C1 controls but newline and tab, DEL, and the bidi overrides that make a terminal
# show text in another order than it reads (a quote that seems to say the opposite)
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str) -> str:
    """Article text and user data as a terminal should get them: escape sequences and control
    characters removed, newlines and tabs kept; a carriage return (which lets a line overwrite what
    came before it) becomes a newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_RE.sub("", _ESCAPE_RE.sub("", text))


def _count_key(status: str) -> str:
    return status.split(":")[0].split(" of ")[0]


def _result_line(r) -> str:  # type: ignore[no-untyped-def]
    line = f"{r.id}: {r.status}" + (
        f" ({r.chunks} chunks)" if r.chunks and not r.status.startswith("rej") else ""
    )
    return _printable(line + "".join(f"; warning: {w}" for w in r.warnings))


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to ingest"


SERVE_LOCK = "serve.lock"  # held (shared) by every `factdesk serve` on an embedded store's data dir


def _hold_serve_lock(settings: Settings) -> IO[str] | None:
    """The open, share-locked serve.lock that says a server uses this data dir's embedded Chroma store
    (None with a Chroma server, or where the data dir cannot hold the file: then nothing is said)."""
    import fcntl

    if settings.chroma_url:
        return None
    try:
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
        lock = open(Path(settings.data_dir) / SERVE_LOCK, "a")  # noqa: SIM115 - held for the process's life
        fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return lock
    except OSError:
        return None


def _warn_if_served(settings: Settings) -> None:
    """A running server does not see what another process writes into the embedded store until it
    restarts (README, "Ingest your own articles"): say so before writing beside it."""
    import fcntl

    path = Path(settings.data_dir) / SERVE_LOCK
    if settings.chroma_url or not path.exists():
        return
    try:
        with open(path, "a") as probe:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(
            "warning: a factdesk serve is running on this data dir: it will not see these documents' "
            "vectors until it restarts (stop it first, or POST them to its /v1/documents)",
            file=sys.stderr,
        )
    except OSError:
        return


def cmd_ingest(args: argparse.Namespace) -> int:
    from retrieval.loaders import iter_files, names_url

    svc = _service()
    if any(names_url(p) or Path(p).exists() for p in args.paths):  # else nothing will be written
        _warn_if_served(svc.settings)
    paths = [Path(p) for p in args.paths if not names_url(p)]
    total_files = sum(1 for p in paths if p.exists() for _ in iter_files(p))
    bar = None
    if total_files >= PROGRESS_MIN_DOCUMENTS and sys.stderr.isatty() or args.progress:
        from tqdm import tqdm

        bar = tqdm(total=total_files, unit="doc", file=sys.stderr)
    counts: dict[str, int] = {}

    def report(r) -> None:  # type: ignore[no-untyped-def]
        key = _count_key(r.status)
        counts[key] = counts.get(key, 0) + 1
        (bar.write if bar else print)(_result_line(r))
        if bar:
            bar.update(1)

    results = svc.ingest_sources(args.paths, progress=report)
    if bar:
        bar.close()
    print(f"total: {len(results)} documents ({_summary(counts)})")
    return 1 if results and all(r.status.startswith("rejected") for r in results) else 0


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """ "15m" -> 900.0 seconds; a bare number is seconds."""
    m = _DURATION_RE.match(text)
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30s, 15m, 2h)")
    return float(m.group(1)) * _UNIT_S[m.group(2) or "s"]


def _positive(text: str) -> int:
    """A count of 1 or more ("--rounds 0" would poll forever, "-1" once)."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of 1 or more: {text!r}")
    return int(text)


def _port(text: str) -> int:
    """A TCP port, 1-65535: uvicorn would bind 99999 as 34463 (modulo 65536) and log 99999."""
    if not text.strip().isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port (1-65535): {text!r}")
    return int(text)


def _path(text: str) -> str:
    """A path or URL that names something: "" would be the current folder, data dirs and all."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path names nothing (use . for the current folder)")
    return text


def cmd_watch(args: argparse.Namespace) -> int:
    import time
    from datetime import datetime

    svc = _service()
    _warn_if_served(svc.settings)
    n = 0
    landed = False  # with --rounds, exit 1 as ingest does when every item of every round was rejected
    while True:
        n += 1
        counts: dict[str, int] = {}

        def report(r, counts: dict[str, int] = counts) -> None:  # type: ignore[no-untyped-def]
            key = _count_key(r.status)
            counts[key] = counts.get(key, 0) + 1
            if key != "unchanged":  # every poll repeats the stories it has: print only what changed
                print(_result_line(r), flush=True)

        svc.ingest_sources(args.urls, progress=report)
        landed = landed or any(key != "rejected" for key in counts)
        stamp = datetime.now().astimezone().isoformat(timespec="seconds")
        print(f"round {n} at {stamp}: {_summary(counts)}", flush=True)
        if args.rounds is not None and n >= args.rounds:
            return 0 if landed else 1
        time.sleep(args.every)


def cmd_search(args: argparse.Namespace) -> int:
    svc = _service()
    hits = svc.search(args.query, args.k)
    if not hits and svc.is_empty():  # on stderr: the --json output keeps its shape
        from factdesk.service import EMPTY_ARCHIVE

        _print_warnings([EMPTY_ARCHIVE])
    if args.json:
        _print_json({"results": [h.public() for h in hits]})
        return 0
    for i, h in enumerate(hits, 1):
        snippet = " ".join(terminal_text(h.text).split())
        line = f"{i}. [{h.score:.4f}] {h.title} ({h.document_id} {h.start}-{h.end})"
        print(f"{terminal_text(line)}\n   {snippet[:300]}")
    return 0


def _print_cited(text: str, citations: list) -> None:
    print(terminal_text(text))
    if citations:
        print("\nSources:")
        for c in citations:
            print(terminal_text(f'[{c.marker}] {c.title} ({c.document_id}, {c.start}-{c.end}): "{c.quote}"'))


def cmd_ask(args: argparse.Namespace) -> int:
    import threading

    svc = _service()
    # The engine's own model (the reader's graph, the ranker's word table) loads beside retrieval, which
    # waits on the question encoder much of the time: on two cores a cold answer comes sooner. Joined
    # before returning: a thread still inside OpenVINO while the interpreter exits can crash it. (With
    # an LLM the offline engine is only the fallback: nothing to load ahead.)
    warm = threading.Thread(target=_warm_engine, args=(svc,), name="factdesk-warm")
    if not svc.settings.llm_enabled:
        warm.start()
    try:
        answer = svc.ask(args.question, top_k=args.k)
    finally:
        if warm.is_alive():
            warm.join()
    if args.json:
        _print_json(answer.to_dict())
    else:
        _print_cited(answer.answer, answer.citations)
        _print_warnings(answer.warnings)
    return 0


def _print_warnings(warnings: list[str]) -> None:
    for w in warnings:
        print(terminal_text(f"warning: {w}"), file=sys.stderr)


def _warm_engine(svc) -> None:  # type: ignore[no-untyped-def]
    try:
        svc.engine.warm()
    except Exception:  # noqa: BLE001 - the answer's own load of the same model reports the failure
        pass


def cmd_summarize(args: argparse.Namespace) -> int:
    svc = _service()
    summary = svc.summarize(document_ids=args.document or None, query=args.query, max_words=args.max_words)
    if args.json:
        _print_json(summary.to_dict())
    else:
        _print_cited(summary.summary, summary.citations)
        _print_warnings(summary.warnings)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from factdesk.logs import uvicorn_log_config

    from factdesk.logs import configure_logging
    from factdesk.service import Factdesk
    from factdesk.settings import load_settings
    from retrieval.errors import StoreUnavailable

    settings = load_settings()
    configure_logging(settings.log_format)  # the store's own lines while it opens are in the format too
    serving = _hold_serve_lock(settings)
    # opened here, not in the app's start-up: a store that cannot be opened (a damaged catalog) is
    # then one line and exit 2, not a traceback from inside uvicorn. One that does not answer yet
    # (PostgreSQL starting after us) is waited for by the app, which serves its 503s meanwhile.
    svc: Factdesk | None
    try:
        svc = Factdesk(settings)
    except StoreUnavailable as e:
        logging.getLogger("factdesk.cli").warning("%s; serving 503s until it answers", e.message)
        svc = None
    try:
        app = create_app(settings, ingest_on_start=not args.no_ingest, service=svc)
        # access lines without query strings, and no URL credentials in any line (factdesk/logs.py); JSON
        # logs have factdesk's own access lines (with the request id and duration) instead of uvicorn's
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            log_config=uvicorn_log_config(settings.log_format),
            access_log=settings.log_format != "json",
        )
    finally:
        if svc is not None:
            svc.close()
        if serving is not None:
            serving.close()
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from evals.run import run_cli

    return run_cli(args)


def cmd_doctor(args: argparse.Namespace) -> int:
    from factdesk.settings import load_settings
    from retrieval.errors import CorruptStore, CorruptVectors, InvalidInput
    from retrieval.salvage import salvage_catalog, salvage_vectors

    settings = load_settings()
    if not settings.database_url and not Path(settings.data_dir).exists():
        # opening would create an empty archive there and call it consistent: a mistyped path
        raise InvalidInput(
            f"no data dir at {settings.data_dir}: nothing to check (is FACTDESK_DATA_DIR right?)"
        )
    try:
        svc = _service()
    except CorruptStore as e:  # the catalog itself: say what is wrong, and with --repair, salvage
        report = salvage_catalog(settings, repair=args.repair, reason=e.message)
        _print_json(report)
        return 0 if report["consistent"] else 1
    if svc.vectors.problem() is not None and isinstance(svc.vectors.last_fault, CorruptVectors):
        # the embedded Chroma files are damaged: derived data, set aside and built again
        reason = svc.vectors.last_fault.message
        svc.close()
        report = salvage_vectors(settings, repair=args.repair, reason=reason)
        _print_json(report)
        return 0 if report["consistent"] else 1
    report = svc.ingestor.doctor(repair=args.repair)
    damaged = next((p for p in report["problems"] if p.startswith("catalog.sqlite: corrupted")), None)
    if damaged and args.repair and not settings.database_url:
        # the catalog opens, but pages of it are damaged: set aside and salvaged, as one that does
        # not open is (a repair of the other stores over it would leave it damaged and say done)
        svc.close()
        report = salvage_catalog(settings, repair=True, reason=damaged)
        _print_json(report)
        return 0 if report["consistent"] else 1
    _print_json(report)
    if report["consistent"]:
        return 0
    if not args.repair:
        return 1
    after = svc.ingestor.doctor()  # the report is of the state repaired; the exit says if it held
    return 0 if after["consistent"] else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="factdesk", description="Cited answers and summaries over news articles."
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser(
        "ingest",
        help="ingest article files or folders (.txt .md .html .json .jsonl .pdf), or feed / article URLs",
    )
    s.add_argument(
        "paths", nargs="+", type=_path, help="article files, folders (read recursively), feed or page URLs"
    )
    s.add_argument("--progress", action="store_true", help="always show a progress bar")
    s.set_defaults(fn=cmd_ingest)

    s = sub.add_parser("watch", help="poll RSS/Atom feeds (or pages) and ingest what is new")
    s.add_argument("urls", nargs="+", metavar="URL")
    s.add_argument("--every", type=parse_duration, default=900.0, help="time between polls (default 15m)")
    s.add_argument(
        "--rounds", type=_positive, default=None, help="stop after this many polls (default: never)"
    )
    s.set_defaults(fn=cmd_watch)

    s = sub.add_parser("search", help="hybrid search over the ingested articles")
    s.add_argument("query")
    s.add_argument("-k", type=int, default=None, help="number of results (default FACTDESK_TOP_K, 5)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_search)

    s = sub.add_parser("ask", help="answer a question with cited passages")
    s.add_argument("question")
    s.add_argument("-k", type=int, default=None, help="passages to retrieve")
    s.add_argument("--json", action="store_true", help="print the /v1/ask answer object")
    s.set_defaults(fn=cmd_ask)

    s = sub.add_parser("summarize", help="cited summary of documents, optionally focused by a query")
    s.add_argument(
        "--document",
        action="append",
        metavar="ID",
        help="document id (repeatable); default: the most recent documents (up to 50)",
    )
    s.add_argument("--query", default=None)
    s.add_argument("--max-words", type=int, default=None)
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_summarize)

    s = sub.add_parser("serve", help="start the HTTP API (ingests data/articles first)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=_port, default=8000)
    s.add_argument("--no-ingest", action="store_true", help="do not ingest data/articles on start")
    s.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug", "trace"]
    )
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("eval", help="score the fixed questions; non-zero exit on regression")
    s.add_argument("--questions", default=None, help="questions file (default evals/questions.yaml)")
    s.add_argument(
        "--summaries",
        default=None,
        help="summary requests file (default evals/summaries.yaml, only with the default questions)",
    )
    s.add_argument("--baseline", default=None, help="baseline report to compare with")
    s.add_argument("--report", default="eval-report", help="folder for report.json/.md/.html")
    s.add_argument("--only", action="append", metavar="TAG", help="only questions with this tag (repeatable)")
    s.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare two report.json files and exit")
    s.add_argument("--write-baseline", default=None, metavar="FILE", help="save this run as a baseline")
    s.add_argument(
        "--no-judge", action="store_true", help="with an LLM endpoint, do not ask it to grade the answers"
    )
    s.set_defaults(fn=cmd_eval)

    s = sub.add_parser("doctor", help="check that Chroma and the lexical index agree; --repair fixes them")
    s.add_argument("--repair", action="store_true")
    s.set_defaults(fn=cmd_doctor)
    return p


def configuration_problems(error) -> list[str]:  # type: ignore[no-untyped-def]
    """One line a refused setting, named by its variable: pydantic's text without its prefix and links."""
    from dotenv import dotenv_values  # pydantic-settings' own reader of .env

    from_file = set(dotenv_values(".env")) - set(os.environ) if Path(".env").is_file() else set()
    out = []
    for e in error.errors(include_url=False):
        msg = str(e["msg"]).removeprefix("Value error, ")
        where = ".".join(str(x) for x in e.get("loc", ()))
        line = msg if not where or msg.startswith(where) else f"{where}: {msg}"
        out.append(f"{line} (set in .env)" if where in from_file else line)
    return out


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError

    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except FactdeskError as e:
        print(f"factdesk: error: {terminal_text(e.message)}", file=sys.stderr)
        return 2
    except ValidationError as e:  # a setting (environment or .env) the Settings object refuses
        for problem in configuration_problems(e):
            print(f"factdesk: error: {terminal_text(problem)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `factdesk search ... | head`: the reader left, which is fine
        sys.stderr.close()
        return 0
    except (sqlite3.Error, OSError) as e:  # a storage fault no layer named: a full disk, a read-only dir
        from retrieval.faults import classify

        fault = classify(e)
        if fault is None:
            raise
        print(f"factdesk: error: {terminal_text(fault.message)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
