"""Ingest's pure step (clean, split, chunk: `retrieval.ingest.prepare`) on texts made of one long
run of a single character, and on HTML of one odd shape (one tag with many attributes, elements
nested deep), at two sizes: a step whose time grows much faster than its input holds a quadratic
regex or loop (a tester's 200,000 dots held a server for minutes, stop 60; one tag of 200,000
attributes held a core for minutes, stop 61).

    python -m benchmarks.pathological [--short 20000] [--long 80000]

And what a long article costs the question shapes that read it through ("What did <name> say?",
answers/compose.py `statements_in_articles`; stop 64): its paragraphs apart, or all on one line, so
a step that reads back to each statement's paragraph or line shows as a ratio far over 4.
"""

from __future__ import annotations

import argparse
import time

from retrieval.ingest import prepare
from retrieval.models import DocumentIn

CHARS = ".!?…-–—_*#=~|/\\ ,;:()[]\"'“”‘’«»<>&%$@^+0a\t\u00a0"


SENTENCES = "The mill in Oxley reopened on Monday. The Oxley miller said 300 sacks were ground."
SHAPES = {
    "attributes": lambda n: f"<p {' '.join(f'a{i}=b' for i in range(n // 4))}>{SENTENCES}</p>",
    "bare attributes": lambda n: f"<p {' '.join(f'a{i}' for i in range(n // 3))}>{SENTENCES}</p>",
    "nested divs": lambda n: "<div>" * (n // 5) + f"<p>{SENTENCES}</p>",
}


def seconds(ch: str, n: int, is_html: bool) -> float:
    text = f"The mill in Oxley reopened on Monday. {ch * n} The Oxley miller said 300 sacks were ground."
    if is_html:
        text = f"<html><body><article><p>{text}</p></article></body></html>"
    return _prepare_seconds(text, is_html)


def _prepare_seconds(text: str, is_html: bool) -> float:
    t0 = time.perf_counter()
    try:
        prepare(
            DocumentIn(id="x", text=text, is_html=is_html),
            max_tokens=200,
            overlap_tokens=40,
            max_chars=2_000_000,
        )
    except Exception:  # noqa: BLE001 - a refusal ("nothing left after cleaning") is an answer too
        pass
    return time.perf_counter() - t0


STATEMENTS = (
    'Mayor Tom Marsh said the harbour would reopen on Monday. "We are ready for it," he said. '
    'Councillor Ann Lee said the council had not been told. "It is late," she said.'
)


def statement_seconds(n: int, between: str) -> float:
    """Seconds to find every statement of one person in an article of about n characters."""
    from answers.compose import statements_in_articles

    text = between.join([STATEMENTS] * max(1, n // (len(STATEMENTS) + len(between))))
    t0 = time.perf_counter()
    statements_in_articles("What did Tom Marsh say?", {"x": text})
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", type=int, default=20000)
    ap.add_argument("--long", type=int, default=80000)
    args = ap.parse_args()
    print(f"| run of | html | {args.short:,} chars (s) | {args.long:,} chars (s) | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for is_html in (False, True):
        for ch in CHARS:
            a, b = seconds(ch, args.short, is_html), seconds(ch, args.long, is_html)
            print(f"| {ch!r} | {is_html} | {a:.3f} | {b:.3f} | {b / max(a, 1e-3):.1f} |", flush=True)
    for name, shape in SHAPES.items():
        a, b = (
            _prepare_seconds(f"<html><body><article>{shape(n)}</article></body></html>", True)
            for n in (args.short, args.long)
        )
        print(f"| {name} | True | {a:.3f} | {b:.3f} | {b / max(a, 1e-3):.1f} |", flush=True)
    print(f"\n| statements of one person in | {args.short:,} chars (s) | {args.long:,} chars (s) | ratio |")
    print("| --- | --- | --- | --- |")
    for layout, between in (("paragraphs", "\n\n"), ("one line", " ")):
        a, b = statement_seconds(args.short, between), statement_seconds(args.long, between)
        print(f"| {layout} | {a:.3f} | {b:.3f} | {b / max(a, 1e-3):.1f} |", flush=True)


if __name__ == "__main__":
    main()
