"""Ask the tuning sets with several readers, over their own articles and among distractors.

    python -m evals.compare_readers --work .compare --squad ../shared/data/squad2/squad2-dev-half.json \
        --reader shipped= --reader mine=path/to/reader

What a new reader (FACTDESK_READER_DIR; training/train_reader.py, training/device_collect.sh) is
decided on (docs/evals.md, "Trained on a GPU"): questions.yaml over the seed articles, news-val
(training/data/news/h5.json, articles 0-4) and h18 over their own articles, and the three again
over one corpus of their 19 articles and the distractors of evals/distractors/build_corpus.py
(`--squad` adds SQuAD's paragraphs to them; without `--distractors` that half is skipped). The
written sets are asked as in docs/evals.md: their paraphrase and unanswerable questions. Each
corpus is ingested once into WORK/data and shared by every reader, since the reader does not
change what is stored. Prints, per reader, what each set got right (every expected fact in an
answer, or a decline where nothing answers), the unanswerable ones declined and the answerable
ones declined. These are tuning sets: write the rule before the run, and score the blind sets
once, after the decision.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from evals import build_written_set
from evals.distractors import build_corpus
from evals.run import eval_service, load_questions, score_question

ROOT = Path(__file__).resolve().parents[1]
NEWS = ROOT / "training" / "data" / "news"
WRITTEN_ONLY = ["paraphrase", "unanswerable"]


@dataclass(frozen=True)
class Tally:
    right: int
    questions: int
    declined: int  # unanswerable, declined
    unanswerable: int
    false_declines: int  # answerable, declined
    right_cited: int = 0  # right, a fact also counting when a quote the answer cites holds it

    @classmethod
    def of(cls, rows: list[dict]) -> Tally:
        ans = [r for r in rows if r["answerable"]]
        una = [r for r in rows if not r["answerable"]]
        facts = sum(not r["abstained"] and r["fact_recall"] == 1.0 for r in ans)
        cited = sum(not r["abstained"] and r.get("cited_fact_recall", 0.0) == 1.0 for r in ans)
        declined = sum(r["abstained"] for r in una)
        return cls(
            facts + declined,
            len(rows),
            declined,
            len(una),
            sum(r["abstained"] for r in ans),
            cited + declined,
        )

    def __str__(self) -> str:
        return (
            f"{self.right}/{self.questions} right ({self.right_cited} with cited quotes), "
            f"{self.declined}/{self.unanswerable} declined, {self.false_declines} false declines"
        )


@dataclass(frozen=True)
class Run:
    questions: Path
    articles: Path
    corpus: str  # its data dir's name: one a corpus, holding only its articles
    only: list[str] | None = None  # the tags asked (the written sets: WRITTEN_ONLY)


def prepare(work: Path, squad: Path | None, distractors: bool) -> dict[str, Run]:
    """Each (set, corpus) to ask, by name, building the written sets and the distractor corpus under
    work (once: an existing folder is kept)."""
    sets = work / "sets"
    if not (sets / "nval" / "nval.yaml").is_file():
        build_written_set.build(NEWS / "h5.json", sets / "nval", 0, 5)
    if not (sets / "h18" / "h18.yaml").is_file():
        build_written_set.build(NEWS / "h18.json", sets / "h18")
    own = {
        "questions": Run(ROOT / "evals" / "questions.yaml", ROOT / "data" / "articles", "seed"),
        "nval": Run(sets / "nval" / "nval.yaml", sets / "nval" / "articles", "nval", WRITTEN_ONLY),
        "h18": Run(sets / "h18" / "h18.yaml", sets / "h18" / "articles", "h18", WRITTEN_ONLY),
    }
    runs = dict(own)
    if distractors:
        corpus = work / "distracted"
        if not corpus.is_dir():
            build_corpus.build(corpus, squad, [run.articles for run in own.values()])
        runs |= {
            f"{name}+distractors": Run(r.questions, corpus, "distracted", r.only) for name, r in own.items()
        }
    return runs


def ask_all(settings, runs: dict[str, Run], work: Path, limit: int) -> dict[str, Tally]:  # type: ignore[no-untyped-def]
    """Each run's tally with these settings (its reader)."""
    out = {}
    for name, run in runs.items():
        qs = load_questions(run.questions, run.only)[: limit or None]
        update = {"data_dir": work / "data" / run.corpus, "articles_dir": run.articles}
        svc = eval_service(settings.model_copy(update=update))
        try:
            texts = {d.id: d.text for d in svc.list_documents()}
            out[name] = Tally.of([score_question(svc, q, texts) for q in qs])
        finally:
            svc.close()
        print(f"  {name}: {out[name]}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    from factdesk.settings import load_settings, reader_dir_problem

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, required=True, help="sets, corpus and data dirs (kept between runs)")
    ap.add_argument(
        "--reader",
        action="append",
        required=True,
        help="NAME=FOLDER of a reader's weights; NAME= (empty) is the shipped reader (repeatable)",
    )
    ap.add_argument(
        "--squad", type=Path, default=None, help="SQuAD-format JSON: its paragraphs join the distractors"
    )
    ap.add_argument(
        "--distractors",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also ask among the distractor corpus",
    )
    ap.add_argument("--limit", type=int, default=0, help="at most this many questions a set (a quick look)")
    ap.add_argument("--json", type=Path, default=None, help="also write the tallies here")
    args = ap.parse_args(argv)

    base = load_settings()
    readers: dict[str, Path | None] = {}
    for spec in args.reader:
        name, eq, folder = spec.partition("=")
        if not name or not eq:
            ap.error(f"--reader {spec!r}: NAME=FOLDER (NAME= for the shipped reader)")
        readers[name] = Path(folder) if folder else None
        problem = reader_dir_problem(Path(folder), base.reader_precision == "int8") if folder else None
        if problem:  # checked as FACTDESK_READER_DIR is: before anything runs
            ap.error(f"--reader {name}: {problem}")
    runs = prepare(args.work, args.squad, args.distractors)
    results: dict[str, dict[str, Tally]] = {}
    for name, folder in readers.items():
        print(f"{name} ({folder or 'the shipped reader'}):", flush=True)
        results[name] = ask_all(base.model_copy(update={"reader_dir": folder}), runs, args.work, args.limit)
    print("\nright (declined of unanswerable; false declines):")
    print("| set | " + " | ".join(readers) + " |")
    print("| --- |" + " --- |" * len(readers))
    for run in runs:
        cells = [f"{t.right} ({t.declined}; {t.false_declines})" for t in (results[r][run] for r in readers)]
        print(f"| {run} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(
            json.dumps({r: {k: vars(t) for k, t in v.items()} for r, v in results.items()}, indent=1) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
