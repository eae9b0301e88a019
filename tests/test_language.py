"""Questions not in English are declined with a reason (answers/language.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from answers.language import latin_share, reads_as_english

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "question",
    [
        "¿Quién fue capturado en la región de Kursk?",
        "Combien de soldats ont été blessés en Ukraine ?",
        "Wie viele Soldaten wurden in der Ukraine verwundet?",
        "Quantos soldados morreram na guerra?",
        "Сколько солдат погибло?",
        "كم عدد الجنود الذين قتلوا؟",
        "有多少士兵死亡？",
        "전쟁에서 몇 명의 군인이 사망했나요?",
    ],
)
def test_other_languages_and_scripts_do_not_read_as_english(question: str) -> None:
    assert not reads_as_english(question)


def every_eval_question() -> list[str]:
    out = []
    for path in sorted((ROOT / "evals").rglob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("questions"), list):
            for q in data["questions"]:
                out += [q["question"], *(q.get("history") or [])]
    return out


def test_every_english_question_of_the_eval_sets_reads_as_english() -> None:
    questions = every_eval_question()
    assert len(questions) > 500
    assert [q for q in questions if not reads_as_english(q)] == []


@pytest.mark.parametrize(
    "question", ["Who is Dmitry Peskov?", "Oh Gyeong-seob Kim Jong Un Pyongyang", "Kursk?"]
)
def test_names_and_short_questions_read_as_english(question: str) -> None:
    assert reads_as_english(question)


def test_latin_share() -> None:
    assert latin_share("Où est Kyiv ?") == 1.0 and latin_share("Киев") == 0.0 and latin_share("42?") == 1.0
