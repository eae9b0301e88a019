"""The shipped reader: loads offline without torch, reproduces the training framework's scores, and
the training script runs end to end on a tiny slice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SQUAD

from answers.reader import (
    MAX_TOKENS,
    SENTENCE_TOKENS,
    WEIGHTS_DIR,
    Passage,
    Reader,
    as_question,
    encode_pair,
    windows,
)
from factdesk.settings import PROJECT_ROOT
from training.squad import examples, questions, split_titles


@pytest.fixture(scope="module")
def reader() -> Reader:
    r = Reader()
    r.load()
    return r


def test_shipped_weights_are_small_and_say_what_they_were_trained_on() -> None:
    assert (WEIGHTS_DIR / "reader.npz").stat().st_size <= 30 * 1024 * 1024
    config = json.loads((WEIGHTS_DIR / "config.json").read_text())
    assert "CC BY-SA 4.0" in config["training_data"] and 0.0 < config["threshold"] < 1.0
    assert "CC BY-SA 4.0" in (WEIGHTS_DIR / "README.md").read_text()


def test_reader_matches_the_training_frameworks_scores(reader: Reader) -> None:
    """reference.json: probabilities torch computed from the exported (float16) weights at the end of
    training. OpenVINO in bf16 reproduces them closely; in fp32 almost exactly."""
    ref = json.loads((WEIGHTS_DIR / "reference.json").read_text())
    assert len(ref) >= 4
    exact = Reader(precision="fp32")
    for row in ref:
        p = Passage(**row["passage"])
        assert abs(float(exact.score(row["question"], [p])[0]) - row["probability"]) < 1e-3
        assert abs(float(reader.score(row["question"], [p])[0]) - row["probability"]) < 0.05


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def test_the_int8_reader_stays_near_the_reference_with_its_own_threshold(reader: Reader) -> None:
    """FACTDESK_READER_PRECISION=int8: the dense layers in int8, with the ranges and the threshold
    training/calibrate_reader.py wrote; its scores move, within a logit of the reference."""
    int8 = Reader(precision="int8")
    calibrated = json.loads((WEIGHTS_DIR / "config.json").read_text())["int8"]
    assert len(calibrated["ranges"]) == 4 * 6 and int8.threshold == calibrated["threshold"]
    for row in json.loads((WEIGHTS_DIR / "reference.json").read_text()):
        got = float(int8.score(row["question"], [Passage(**row["passage"])])[0])
        assert abs(_logit(got) - _logit(row["probability"])) < 1.5, (got, row["probability"])
    assert int8.precision.startswith("int8-")
    title = "City council"
    answer = Passage("The council approved the new budget of 4 million euros on Tuesday.", title=title)
    topical = Passage("The council has debated the budget for several months.", title=title)
    p = int8.score("How large is the new budget the council approved?", [answer, topical])
    assert p[0] > int8.threshold > p[1]


def test_calibration_writes_ranges_and_a_threshold(tmp_path: Path) -> None:
    weights = tmp_path / "reader"
    weights.mkdir()
    for name in ("reader.npz", "config.json", "reference.json"):
        (weights / name).write_bytes((WEIGHTS_DIR / name).read_bytes())
    pick = tmp_path / "pick.json"
    article = split_titles(json.loads(SQUAD.read_text())["data"], 13, 3, 2)[1][0]
    pick.write_text(json.dumps({"data": [{**article, "paragraphs": article["paragraphs"][:2]}]}))
    cmd = [sys.executable, "-m", "training.calibrate_reader", str(pick), "--weights", str(weights)]
    subprocess.run([*cmd, "--pairs", "64"], check=True, cwd=PROJECT_ROOT, timeout=600, capture_output=True)
    int8 = json.loads((weights / "config.json").read_text())["int8"]
    assert len(int8["ranges"]) == 24 and all(lo < 0 < hi for lo, hi in int8["ranges"])
    assert 0.0 < int8["threshold"] < 1.0 and int8["calibrated_on"] == {"questions": "pick.json", "pairs": 64}
    assert Reader(weights, precision="int8").score("Who?", [Passage("Somebody did it.")]).shape == (1,)


def test_reader_loads_without_torch() -> None:
    code = (
        "import sys; from answers.reader import Reader, Passage; r = Reader(); "
        "r.score('Who?', [Passage('Somebody did it.')]); assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PROJECT_ROOT, timeout=120)


def test_the_reader_tells_an_answer_from_a_sentence_on_the_same_topic(reader: Reader) -> None:
    title = "City council"
    answer = Passage("The council approved the new budget of 4 million euros on Tuesday.", title=title)
    topical = Passage("The council has debated the budget for several months.", title=title)
    p = reader.score("How large is the new budget the council approved?", [answer, topical])
    assert p[0] > reader.threshold > p[1]
    assert reader.score("anything", []).shape == (0,)


def test_threads_scoring_at_once_take_turns_and_agree(reader: Reader) -> None:
    """A server asks the one compiled reader from several threads: without turns, OpenVINO raises
    "Infer Request is busy" on the second caller."""
    from concurrent.futures import ThreadPoolExecutor

    fresh = Reader(score_cache=0)  # every call reads: none is answered from memory
    passages = [
        Passage(f"The council approved a budget of {n} million euros.", title="Budget") for n in range(40)
    ]
    alone = fresh.score("How large is the budget?", passages, batch_size=4)
    with ThreadPoolExecutor(4) as pool:
        runs = list(
            pool.map(lambda _: fresh.score("How large is the budget?", passages, batch_size=4), range(8))
        )
    assert all(np.array_equal(r, alone) for r in runs)


def test_pairs_read_lately_are_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A follow-up that answers the turn before it again, or the same question sent twice, reads
    only the pairs it has not read lately; the probabilities are the ones read the first time."""
    r = Reader(score_cache=3)
    read: list[int] = []
    inner = r._read_pairs

    def counted(question: str, passages: list[Passage], batch_size: int) -> np.ndarray:
        read.append(len(passages))
        return inner(question, passages, batch_size)

    monkeypatch.setattr(r, "_read_pairs", counted)
    a, b, c, d = (Passage(f"The council approved a budget of {n} million euros.") for n in (2, 3, 4, 5))
    first = r.score("How large is the budget?", [a, b])
    again = r.score("How large is the budget?", [b, a, c, c])
    assert read == [2, 1]  # only c is new, and read once
    assert again.tolist() == [first[1], first[0], again[2], again[2]]
    assert r.score("How large is the budget?", [a]).tolist() == [first[0]]
    assert read == [2, 1]
    r.score("What did the council approve?", [a])  # another question: another pair; b is forgotten
    r.score("How large is the budget?", [b])
    assert read == [2, 1, 1, 1]
    r.forget()
    assert r.score("How large is the budget?", [a, c]).tolist() == [first[0], again[2]]
    assert read == [2, 1, 1, 1, 2]


def test_input_layout_keeps_the_sentence_and_cuts_the_context(reader: Reader) -> None:
    tok = reader._tok
    long = " ".join(["word"] * 300)
    ids, types = encode_pair(tok, "What happened?", Passage("The answer sentence.", long, long, "A title"))
    assert len(ids) == len(types) == MAX_TOKENS
    sentence = tok.encode("The answer sentence.", add_special_tokens=False).ids
    sep = tok.token_to_id("[SEP]")
    first_sep = ids.index(sep)
    assert ids[first_sep + 1 : first_sep + 1 + len(sentence)] == sentence
    assert set(types[: first_sep + 1]) == {0} and set(types[first_sep + 1 :]) == {1}


def test_a_long_sentence_is_read_in_overlapping_windows(reader: Reader) -> None:
    tok = reader._tok
    short = Passage("The council met on Tuesday.", "Before.", "After.", "Budget")
    assert windows(tok, short) == [short]
    words = " ".join(f"w{i}" for i in range(150))
    long = Passage(words, "Before.", "After.", "Budget")
    parts = windows(tok, long)
    assert parts[0] == long  # the first window is the passage as it was always read
    enc = tok.encode(words, add_special_tokens=False)
    n = len(enc.ids) + sum(len(rest.ids) for rest in enc.overflowing)
    assert n > MAX_TOKENS + SENTENCE_TOKENS and len(parts) == 1 + -(-(n - SENTENCE_TOKENS) // 48)
    for w in parts[1:]:
        assert len(tok.encode(w.sentence, add_special_tokens=False).ids) <= SENTENCE_TOKENS
        # the window is a span of the sentence, its earlier words are context before, later after
        at = words.index(w.sentence)
        assert (
            w.before == f"Before. {words[:at]}".strip()
            and w.after == f"{words[at + len(w.sentence) :]} After.".strip()
        )
        assert w.title == "Budget"
    assert parts[-1].sentence.endswith("w149")


def test_a_fact_past_what_the_reader_reads_of_a_sentence_is_found(reader: Reader) -> None:
    """The fact sits after the first SENTENCE_TOKENS pieces of a long sentence: read as one passage it
    is cut off; its later window reads it."""
    clauses = [
        "heavy rain flooded the lower streets of the old town overnight",
        "the fire brigade pumped out cellars along the river",
        "schools stayed closed in three districts",
        "the regional railway cancelled its morning trains",
    ]
    sentence = (
        "; ".join(clauses * 2) + "; and the council approved a new budget of 4 million euros for repairs."
    )
    enc = reader._tok.encode(sentence, add_special_tokens=False)
    assert enc.offsets[SENTENCE_TOKENS][0] < sentence.index("the council")
    question = "How large is the new budget the council approved?"
    passage = Passage(sentence, title="Storm in the valley")
    as_one = 1 / (1 + np.exp(-reader._logits([encode_pair(reader._tok, question, passage, MAX_TOKENS)])))
    assert as_one[0] < reader.threshold < reader.score(question, [passage])[0]


def test_the_reader_reads_a_question_the_same_however_it_ends(reader: Reader) -> None:
    """Typed with or without its question mark (or with a full stop), a question gets the same
    probabilities: the reader learned questions that end in "?", so it reads every one that way."""
    passages = [
        Passage("The council approved a budget of 4 million euros for repairs.", title="Storm"),
        Passage("Schools stayed closed in three districts on Monday.", title="Storm"),
    ]
    asked = "How large is the budget the council approved?"
    ref = reader.score(asked, passages)
    for typed in (
        "How large is the budget the council approved",
        asked + "  ",
        asked[:-1] + ".",
        asked + "??",
    ):
        assert np.array_equal(reader.score(typed, passages), ref), typed
    carried = "How large is it? (budget council approved)"  # a follow-up with the earlier turn's words
    assert as_question(carried) == carried


@pytest.mark.usefixtures("squad")
def test_training_pairs_come_from_answers_and_plausible_answers() -> None:
    data = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    train, val, test = split_titles(data, 13, 3, 2)
    assert not {a["title"] for a in train} & {a["title"] for a in val + test}
    qs = questions(val[:1])
    ex = examples(qs[:50], __import__("random").Random(0))
    for e in ex:
        if e.label:
            q = next(q for q in qs if q.question_id == e.question_id)
            assert q.answerable and e.passage in [q.passages[i] for i in q.gold]
    assert any(e.hard and not e.label for e in ex)  # plausible-answer sentences are hard negatives


@pytest.mark.usefixtures("squad")
def test_article_negatives_come_from_the_articles_other_paragraphs() -> None:
    import random

    data = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    qs = questions(data[:1])[:40]
    plain = examples(qs, random.Random(0))
    assert all(e.passage in next(q for q in qs if q.question_id == e.question_id).passages for e in plain)
    wide = examples(qs, random.Random(0), article_negatives=2)
    assert len(wide) == len(plain) + 2 * len(qs)
    for e in wide:
        q = next(q for q in qs if q.question_id == e.question_id)
        if e.passage not in q.passages:
            assert not e.label and e.passage in q.elsewhere
            assert e.passage.title == q.passages[0].title  # same article, another paragraph


def test_foreign_negatives_are_the_nearest_sentences_of_other_stories() -> None:
    import random

    from training.squad import Question, foreign_negatives

    def unit(*v: float) -> np.ndarray:
        a = np.array(v, dtype=np.float32)
        return a / np.linalg.norm(a)

    passages = [Passage(f"sentence {i}", title=f"story {g}") for i, g in enumerate("AABBCC")]
    groups = [p.title[-1] for p in passages]
    # a question nearest its own story's sentences (0, 1), then story B's (2, 3); C's are far off
    vecs = np.stack(
        [unit(1, 0, 0), unit(1, 0.1, 0), unit(1, 0.3, 0), unit(1, 0.4, 0), unit(0, 0, 1), unit(0, 0.1, 1)]
    )
    qs = [Question(f"q{g}", f"question of {g}", True, [], frozenset(), group=g) for g in "AB"]
    qvecs = np.stack([unit(1, 0, 0), unit(1, 0.35, 0)])
    out = foreign_negatives(qs, qvecs, passages, vecs, groups, random.Random(0), n=2, nearest=2)
    picked = {
        q.question_id: {passages.index(e.passage) for e in out if e.question_id == q.question_id} for q in qs
    }
    assert picked == {"qA": {2, 3}, "qB": {0, 1}}  # the nearest two of another story, never its own
    assert all(e.label == 0 for e in out)


def test_teacher_targets_mix_each_label_with_the_teachers_mean(reader: Reader) -> None:
    """--teacher: a pair's target is (1 - w) x its label + w x the teachers' mean probability, each
    teacher reading the pair as the service does."""
    import random

    from training.train_reader import teacher_targets

    qs = questions(json.loads(SQUAD.read_text(encoding="utf-8"))["data"][:1])[:4]
    ex = examples(qs, random.Random(0))
    assert {e.label for e in ex} == {0, 1}
    alone = [float(reader.score(e.question, [e.passage])[0]) for e in ex]
    once = teacher_targets(ex, [WEIGHTS_DIR], 0.3)
    twice = teacher_targets(ex, [WEIGHTS_DIR, WEIGHTS_DIR], 0.3)  # a mean of one reader twice: itself
    for e, p, t1, t2 in zip(ex, alone, once, twice, strict=True):
        # batched with the question's other pairs, bf16 scores move in the third decimal
        assert t1 == pytest.approx(0.7 * e.label + 0.3 * p, abs=2e-3)
        assert t2 == pytest.approx(t1, abs=1e-6)
    assert teacher_targets(ex, [WEIGHTS_DIR], 0.0) == [float(e.label) for e in ex]


def test_evened_kinds_and_blanked_context() -> None:
    """--even-kinds drops unanswerable questions of a kind that has more of them than the whole, to
    the whole's share, and no other; --context-dropout blanks each side of a pair on its own."""
    import random

    from training.squad import Example, Question
    from training.train_reader import drop_context, even_kinds

    def q(i: int, text: str, answerable: bool) -> Question:
        return Question(f"q{i}", text, answerable, [Passage("S.", "B.", "A.", "T")], frozenset({0}))

    qs = [q(i, "Who won?", i < 10) for i in range(20)]  # half unanswerable
    qs += [q(100 + i, "How did it end?", i < 70) for i in range(80)]  # 12.5% unanswerable
    kept = even_kinds(qs, random.Random(13))
    who = [x for x in kept if x.question.startswith("Who")]
    share = 20 / 100  # the whole's unanswerable share
    assert sum(x.answerable for x in who) == 10
    assert sum(not x.answerable for x in who) == round(share / (1 - share) * 10)
    assert [x for x in kept if x.question.startswith("How")] == qs[20:]
    pairs = [Example(f"q{i}", "Who won?", Passage("S.", "B.", "A.", "T"), 1) for i in range(2000)]
    blanked = drop_context(pairs, random.Random(13), 0.25)
    no_before = sum(e.passage.before == "" for e in blanked) / len(pairs)
    no_after = sum(e.passage.after == "" for e in blanked) / len(pairs)
    both = sum(e.passage.before == e.passage.after == "" for e in blanked) / len(pairs)
    assert 0.2 < no_before < 0.3 and 0.2 < no_after < 0.3 and 0.03 < both < 0.1
    assert all(e.passage.sentence == "S." and e.passage.title == "T" for e in blanked)


@pytest.mark.usefixtures("squad")
def test_extra_training_data_never_shares_a_title_with_validation_or_test(tmp_path: Path) -> None:
    from training.train_reader import extra_articles

    data = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    train, val, test = split_titles(data, 13, 3, 2)
    fresh = {"title": "Not_in_the_dev_half", "paragraphs": train[0]["paragraphs"][:1]}
    ok, leak = tmp_path / "ok.json", tmp_path / "leak.json"
    ok.write_text(json.dumps({"data": [fresh]}))
    leak.write_text(json.dumps({"data": [fresh, test[0]]}))

    assert extra_articles([ok], held_out=val + test) == [fresh]
    with pytest.raises(SystemExit, match=test[0]["title"]):
        extra_articles([ok, leak], held_out=val + test)


@pytest.mark.usefixtures("squad")
def test_training_script_smoke(tmp_path: Path) -> None:
    """A tiny, seeded run, with a few questions drawn from an extra file, writes weights the serving
    Reader loads and agrees with."""
    out, extra, pick = tmp_path / "reader", tmp_path / "extra.json", tmp_path / "pick.json"
    train = split_titles(json.loads(SQUAD.read_text(encoding="utf-8"))["data"], 13, 3, 2)[0]
    renamed = json.loads(json.dumps(train[:3]))  # another title and ids: an article of its own
    for i, art in enumerate(renamed):
        art["title"] = f"Extra {i}"
        for qa in (qa for para in art["paragraphs"] for qa in para["qas"]):
            qa["id"] = f"extra-{qa['id']}"
    extra.write_text(json.dumps({"data": renamed[:2]}))
    pick.write_text(json.dumps({"data": renamed[2:]}))
    cmd = [sys.executable, "-m", "training.train_reader", "--squad", str(SQUAD), "--out", str(out)]
    cmd += ["--extra-train", str(extra), "--extra-questions", "5", "--init", str(WEIGHTS_DIR)]
    cmd += ["--threshold-from", str(pick), "--max-eval", "6", "--epochs", "1", "--batch", "8"]
    cmd += ["--max-minutes", "1e-6", "--foreign-negatives", "1"]
    subprocess.run(cmd, check=True, cwd=PROJECT_ROOT, timeout=600, capture_output=True)
    config = json.loads((out / "config.json").read_text())
    assert config["extra_train_questions"] == 5
    assert config["train_questions"] == len(questions(train)) + 5
    assert config["train_pairs"] > config["train_questions"] and 0.0 < config["threshold"] < 1.0
    assert config["args"]["foreign_negatives"] == 1
    assert "extra.json" in config["training_data"]
    # the threshold came from the pick file's questions, and the run from the shipped weights
    assert config["threshold_from"] == "pick.json" and config["threshold_set"]["questions"] == 6
    assert config["started_from"]["folder"] == WEIGHTS_DIR.name
    # a pick file is held out like validation: training on it is refused
    leak = [*cmd[: cmd.index("--extra-train")], "--extra-train", str(pick), "--threshold-from", str(pick)]
    refused = subprocess.run(leak, cwd=PROJECT_ROOT, timeout=600, capture_output=True, text=True)
    assert refused.returncode != 0 and "held out" in refused.stderr
    trained = Reader(out, precision="fp32")
    for row in json.loads((out / "reference.json").read_text()):
        got = float(trained.score(row["question"], [Passage(**row["passage"])])[0])
        assert abs(got - row["probability"]) < 1e-3


def test_layers_are_kept_evenly_spaced_from_the_first() -> None:
    from training.train_reader import spread_layers

    assert spread_layers(6, 3) == [0, 2, 4]
    assert spread_layers(6, 2) == [0, 3]
    assert spread_layers(6, 6) == list(range(6))
    with pytest.raises(SystemExit):
        spread_layers(6, 7)


@pytest.mark.usefixtures("squad")
def test_a_reader_with_fewer_layers_trains_and_serves(tmp_path: Path) -> None:
    """--layers 2 from the shipped weights: two layers are stored and served, the serving Reader
    agrees with the training framework's scores, and training again from them keeps two."""
    out, again = tmp_path / "small", tmp_path / "again"
    cmd = [sys.executable, "-m", "training.train_reader", "--squad", str(SQUAD), "--init", str(WEIGHTS_DIR)]
    cmd += ["--max-questions", "8", "--max-eval", "4", "--epochs", "1", "--batch", "8", "--device", "cpu"]
    subprocess.run([*cmd, "--layers", "2", "--out", str(out)], check=True, cwd=PROJECT_ROOT, timeout=600)
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 2
    with np.load(out / "reader.npz") as z:
        assert {k.split(".")[2] for k in z.files if k.startswith("encoder.layer.")} == {"0", "1"}
    small = Reader(out, precision="fp32")
    for row in json.loads((out / "reference.json").read_text()):
        got = float(small.score(row["question"], [Passage(**row["passage"])])[0])
        assert abs(got - row["probability"]) < 1e-3  # a six-layer graph would score otherwise
    cmd[cmd.index(str(WEIGHTS_DIR))] = str(out)
    subprocess.run([*cmd, "--out", str(again)], check=True, cwd=PROJECT_ROOT, timeout=600)
    assert json.loads((again / "config.json").read_text())["num_hidden_layers"] == 2


@pytest.mark.usefixtures("squad")
def test_the_device_scripts_train_collect_and_reproduce_the_reference(tmp_path: Path) -> None:
    """The device machine's route (training/device_*.sh) on this CPU: a slim base with float16
    word-piece rows, one variant trained on a few questions with other stories' negatives found by
    the base MiniLM, collected with its reference recomputed from the package's exact rows, which
    the served reader then reproduces."""
    carry, out, dest = tmp_path / "carry", tmp_path / "out", tmp_path / "reader"
    runs = tmp_path / "runs.txt"
    runs.write_text(
        "# a comment, then one variant\n"
        f"tiny --extra-train {carry}/news-all.json --foreign-negatives 1 --foreign-embedder base\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHON": sys.executable,
        "SQUAD": str(SQUAD),
        "DEVCARRY": str(carry),
        "OUT": str(out),
        "RUNS": str(runs),
        "TINY": "1",
        "DEVICE": "cpu",
    }
    for script, args in [
        ("device_prepare.sh", []),
        ("device_train.sh", []),
        ("device_collect.sh", [str(out), "tiny", str(dest)]),
    ]:
        done = subprocess.run(
            ["bash", f"training/{script}", *args],
            cwd=PROJECT_ROOT,
            env=env,
            timeout=600,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert {p.name for p in out.iterdir()} == {"tiny.npz.part00", "tiny.npz.part01", "runs.tgz"}
    config = json.loads((dest / "config.json").read_text())
    assert config["args"]["foreign_embedder"] == "base" and config["threshold_from"] == "thr3.json"
    assert config["train_questions"] == 24 and config["device"] == "cpu"
    trained = Reader(dest, precision="fp32")
    for row in json.loads((dest / "reference.json").read_text()):
        got = float(trained.score(row["question"], [Passage(**row["passage"])])[0])
        assert abs(got - row["probability"]) < 1e-3


def test_the_learning_rate_warms_up_then_decays_by_steps_or_time() -> None:
    from training.train_reader import lr_factor

    inf = float("inf")
    assert lr_factor(0, 100, 0.0, inf) == pytest.approx(0.1)  # warm-up: a tenth of the steps
    assert lr_factor(9, 100, 0.0, inf) == pytest.approx(1.0)
    assert lr_factor(55, 100, 0.0, inf) == pytest.approx(0.5)  # halfway through the decay
    assert lr_factor(100, 100, 0.0, inf) == 0.0
    # a time budget half spent at a tenth of the steps: the decay follows the clock
    assert lr_factor(10, 100, 30.0, 60.0) == pytest.approx((1 - 0.5) / 0.9)
    assert lr_factor(10, 100, 60.0, 60.0) == 0.0


def test_the_base_embedder_matches_the_services_embedder() -> None:
    """Foreign negatives found on a device machine (the base MiniLM in torch) are the ones the
    service's embedder would find: the same sentence vectors."""
    from training import base_weights
    from training.encoder import pick_device
    from training.train_reader import base_embedder, service_embedder

    texts = ["Who opened the bridge?", "The mayor opened the bridge on Monday.", "It cost 12 million euros."]
    base = base_weights.default_base()
    ours = base_embedder(base, base_weights.tokenizer(base), pick_device("cpu"))(texts)
    theirs = np.asarray(service_embedder()(texts), dtype=np.float32)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(ours * theirs, axis=1))) > 0.999


def test_training_on_cuda_without_one_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from training.encoder import pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on CI's machine, wherever it runs

    with pytest.raises(SystemExit, match="no CUDA device"):
        pick_device("cuda")
    assert pick_device("auto").type == "cpu"


def test_news_files_become_squad_articles_and_bad_spans_are_refused() -> None:
    from training.newsqa import to_squad

    text = "The mayor opened the bridge on Monday. It cost 12 million euros. Critics said it was late."
    art = {
        "title": "Bridge",
        "text": text,
        "questions": [
            {
                "q": "How much did the crossing cost, and who complained?",
                "answers": ["12 million euros", "Critics"],
            },
            {"q": "Who built the bridge?", "unanswerable": True, "plausible": "The mayor opened the bridge"},
        ],
    }
    (squad,) = to_squad([art], "h9")
    para = squad["paragraphs"][0]
    assert squad["title"] == "Bridge" and para["context"] == text and squad["group"] == "h9"
    (multi, impossible) = questions([squad])
    assert multi.group == impossible.group == "h9"  # the file's events: not another story
    assert multi.answerable and len(multi.gold) == 2  # one sentence per part
    assert not impossible.answerable and impossible.gold == frozenset({0})  # the careless pick
    for qa in para["qas"]:
        for a in qa["answers"] + qa.get("plausible_answers", []):
            assert text[a["answer_start"] :].startswith(a["text"])
    art["questions"][0]["answers"] = ["it"]  # in "Critics" and in "it was": which one is unknown
    with pytest.raises(ValueError, match="exactly once"):
        to_squad([art], "h9")


def test_the_written_news_files_convert_whole() -> None:
    """Every span of training/data/news is exact and unique, and each file keeps about a third of its
    questions unanswerable (the on-topic negatives the reader learns to decline)."""
    from training.newsqa import to_squad

    files = sorted((PROJECT_ROOT / "training" / "data" / "news").glob("h*.json"))
    assert len(files) >= 5
    for path in files:
        data = to_squad(json.loads(path.read_text(encoding="utf-8"))["articles"], path.stem)
        qs = questions(data)
        assert all(q.gold for q in qs), path.name
        assert 0.2 < sum(not q.answerable for q in qs) / len(qs) < 0.45, path.name


def test_explorer_pages_become_squad_articles_without_guessed_answer_starts() -> None:
    from training.squad_explorer import article

    page = (
        '<html><h1 id="title">Some_Title</h1><div class="para-wrap"><pre>Tea &amp; cake cost 3 pounds. '
        "Cake was 3 pounds too.</pre>"
        '<div class="qa-wrap"><p><strong class="question">What did tea &amp; cake cost?</strong></p>'
        '<span class="answer">3 pounds</span></div>'
        '<div class="qa-wrap"><p><strong class="question">What came with tea?</strong></p>'
        '<span class="answer">cake</span><span class="answer">cake</span></div>'
        '<div class="qa-wrap"><p><strong class="question">What was missing?</strong></p>'
        '<span class="answer">coffee</span></div></div>'
        '<div class="para-wrap"><pre>Nothing here.</pre></div></html>'
    )
    art = article(page)

    assert art["title"] == "Some_Title" and len(art["paragraphs"]) == 1
    (para,) = art["paragraphs"]
    assert para["context"].startswith("Tea & cake cost")
    # "3 pounds" occurs twice (start unknown), "coffee" never: only "cake" has one place
    assert [(q["question"], q["answers"]) for q in para["qas"]] == [
        ("What came with tea?", [{"text": "cake", "answer_start": 6}] * 2)
    ]
    assert len(questions([art])) == 1  # the training pairs read it like any SQuAD article
