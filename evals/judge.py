"""LLM-as-judge for `factdesk eval`: faithfulness and correctness of each answer, 0..1.

Used only when an OpenAI-compatible endpoint is configured (settings.llm_enabled). Verdicts are cached
in <data_dir>/judge_cache.json under (prompt_version, model, question id, hash of the answer and its
quotes), so re-running an unchanged prompt set costs no calls. A failing endpoint never fails the
eval: the row gets `judge_error` and is left out of the judge averages.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

CACHE_FILE = "judge_cache.json"

Judge = Callable[[dict, dict, dict[str, str]], dict | None]


class JudgeReplyError(ValueError):
    """The judge answered, but not with the JSON object the prompt asks for."""


# ---------------------------------------------------------------- pure parts


def cache_key(prompt_version: str, model: str, question_id: str, answer: str, quotes: list[str]) -> str:
    # the cited quotes are what faithfulness is judged against, so they are part of "the answer"
    digest = hashlib.sha256("\0".join([answer, *quotes]).encode("utf-8")).hexdigest()[:16]
    return f"{prompt_version}|{model}|{question_id}|{digest}"


def judge_prompt(template: str, row: dict, question: dict) -> str:
    groups = question.get("expected_facts") or []
    expected = (
        "; ".join(" / ".join(g) for g in groups)
        if groups
        else "none: the articles do not answer this question, so the correct answer is to abstain"
    )
    evidence = (
        "\n".join(f"- ({e['document_id']}) {e['quote']}" for e in question.get("evidence") or []) or "none"
    )
    citations = (
        "\n".join(f"[{c['marker']}] ({c['document_id']}) {c['quote']}" for c in row["citations"]) or "none"
    )
    q = row["question"]
    if row.get("history"):
        q = " → ".join([*row["history"], q]) + " (a follow-up: earlier turns first)"
    return template.format(
        question=q, expected=expected, evidence=evidence, answer=row["answer"], citations=citations
    )


def clamp(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise JudgeReplyError(f"score is not a number: {v!r}")
    return min(1.0, max(0.0, float(v)))


def parse_verdict(text: str) -> dict:
    """{"faithfulness", "correctness", "reason"} from the judge's reply (code fences and chatter tolerated)."""
    match = re.search(r"\{.*\}", text or "", re.DOTALL)
    if not match:
        raise JudgeReplyError(f"no JSON object in the judge's reply: {(text or '')[:200]!r}")
    try:
        obj = json.loads(match.group(0))
    except json.JSONDecodeError as e:
        raise JudgeReplyError(f"judge reply is not valid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise JudgeReplyError("judge reply is not a JSON object")
    return {
        "faithfulness": clamp(obj.get("faithfulness")),
        "correctness": clamp(obj.get("correctness")),
        "reason": str(obj.get("reason", ""))[:1000],
    }


# ---------------------------------------------------------------- the cache and the client


class JudgeCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            self.entries: dict[str, dict] = data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            self.entries = {}

    def get(self, key: str) -> dict | None:
        return self.entries.get(key)

    def put(self, key: str, verdict: dict) -> None:
        self.entries[key] = verdict
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(
            json.dumps(self.entries, indent=1, ensure_ascii=False, sort_keys=True), encoding="utf-8"
        )
        os.replace(tmp, self.path)


def build_judge(svc, settings) -> Judge:  # type: ignore[no-untyped-def]
    """judge(row, question, texts) -> {"faithfulness", "correctness", "reason"} or None (row["judge_error"] set)."""
    import openai

    client = openai.OpenAI(
        api_key=settings.openai_api_key or "unused",
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )
    template = svc.prompts["judge"]
    version = svc.prompts.version
    model = settings.llm_model
    cache = JudgeCache(Path(settings.data_dir) / CACHE_FILE)

    def judge(row: dict, question: dict, texts: dict[str, str]) -> dict | None:
        key = cache_key(version, model, row["id"], row["answer"], [c["quote"] for c in row["citations"]])
        hit = cache.get(key)
        if hit is not None:
            return {**hit, "cached": True}
        try:
            reply = client.chat.completions.create(
                model=model,
                temperature=0,
                messages=[{"role": "user", "content": judge_prompt(template, row, question)}],
            )
            verdict = parse_verdict(reply.choices[0].message.content or "")
        except Exception as e:  # noqa: BLE001 - whatever the endpoint does, the eval goes on without this verdict
            row["judge_error"] = f"{type(e).__name__}: {e}"[:500]
            return None
        cache.put(key, verdict)
        return {**verdict, "cached": False}

    return judge
