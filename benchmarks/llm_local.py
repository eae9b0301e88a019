"""`python -m benchmarks.llm_local`: the LLM path on this CPU with a real small model.

Starts llama-cpp-python's server with SmolLM2-135M-Instruct (tests/local_llm.py; needs the
`[llm-local]` extra), ingests the bundled articles into a scratch data dir, and streams the five
questions of evals/local_llm.yaml through factdesk (`ask_stream`, as `/v1/ask` with `"stream": true`
does). For each: the time to the first verified sentence (the first delta: factdesk sends a sentence
only once its citations verify), the total time, the model's share of it (the "llm" stage: the
stream from request to last token) and so what factdesk adds around the model (retrieval, prompt
building, reading and verifying the reply), tokens, whether the model answered (no fallback, no
abstention), the sentences dropped as unverifiable, and whether every citation is exactly
document.text[start:end]. One untimed question first, so the figures are of a warm server (the
structured-output negotiation included).
Not part of `benchmarks.run`; its figures go into BENCHMARKS.md by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from factdesk.service import Factdesk
from factdesk.settings import isolated_settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the server helper the tests use

from local_llm import MODEL_ALIAS, LocalLLM, skip_reason  # noqa: E402

from evals.run import load_questions  # noqa: E402

WARM_UP = "Who posted the video of the captured soldier?"
QUESTIONS = [q["question"] for q in load_questions(ROOT / "evals" / "local_llm.yaml")]


def ask_timed(svc: Factdesk, question: str) -> dict:
    before = svc.telemetry.snapshot()
    start = time.perf_counter()
    first: float | None = None
    done: dict = {}
    for event in svc.ask_stream(question):
        if "delta" in event and first is None and event["delta"].strip():
            first = time.perf_counter() - start
        if event.get("done"):
            done = event
    total = time.perf_counter() - start
    after = svc.telemetry.snapshot()
    stage = {k: after.stages[k].total - before.stages[k].total for k in ("retrieve", "llm")}
    texts = {c["document_id"]: svc.get_document(c["document_id"]).text for c in done["citations"]}
    return {
        "question": question,
        "generator": done["generator"],
        "by_model": done["generator"] == MODEL_ALIAS and not done["abstained"] and bool(done["citations"]),
        "abstained": done["abstained"],
        "first_sentence_s": round(first, 2) if first is not None else None,
        "total_s": round(total, 2),
        "llm_s": round(stage["llm"], 2),
        "retrieve_ms": round(stage["retrieve"] * 1000, 1),
        "overhead_ms": round((total - stage["llm"]) * 1000, 1),
        "prompt_tokens": after.tokens["prompt"] - before.tokens["prompt"],
        "completion_tokens": after.tokens["completion"] - before.tokens["completion"],
        "citations": len(done["citations"]),
        "citations_exact": all(
            texts[c["document_id"]][c["start"] : c["end"]] == c["quote"] for c in done["citations"]
        ),
        "dropped": done["warnings"].count("dropped an unsupported sentence"),
        "warnings": [w for w in done["warnings"] if w != "dropped an unsupported sentence"],
        "answer": done["answer"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads (as tests/local_llm.py)")
    args = parser.parse_args()
    reason = skip_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp, LocalLLM(Path(tmp), threads=args.threads) as llm:
        svc = Factdesk(
            isolated_settings(
                Path(tmp) / "data",
                openai_base_url=llm.base_url,
                llm_model=MODEL_ALIAS,
                llm_context_tokens=1500,  # the same settings as tests/test_llm_local.py
                llm_answer_tokens=256,
                llm_max_retries=0,
                llm_timeout_s=120,
                default_top_k=3,
            )
        )
        try:
            svc.ingest_paths([svc.settings.articles_path])
            ask_timed(svc, WARM_UP)
            rows = [ask_timed(svc, q) for q in QUESTIONS]
        finally:
            svc.close()
    print(json.dumps(rows, indent=2, ensure_ascii=False))
    answered = sum(r["by_model"] for r in rows)
    firsts = ", ".join(str(r["first_sentence_s"]) for r in rows)
    totals = ", ".join(str(r["total_s"]) for r in rows)
    overheads = ", ".join(str(r["overhead_ms"]) for r in rows)
    print(
        f"answered by the model: {answered}/{len(rows)}; first verified sentence: {firsts} s; total: {totals} s;"
        f" factdesk around the model: {overheads} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
