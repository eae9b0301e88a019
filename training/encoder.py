"""all-MiniLM-L6-v2 in torch, for the training scripts: the base weights, the device, and sentence
vectors computed as the service's embedder computes them (mean-pooled last layer, unit length)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training import base_weights


def load_base(bert, base: Path) -> None:  # type: ignore[no-untyped-def]
    """The bundled MiniLM's tensors into a transformers BertModel of the same shape."""
    import torch

    arrays = base_weights.load(base)
    wanted = bert.state_dict()
    missing = sorted(set(wanted) - set(arrays))
    if missing:
        raise SystemExit(f"{base}: no {', '.join(missing[:3])} ...")
    bert.load_state_dict({k: torch.from_numpy(arrays[k]) for k in wanted})


def pick_device(name: str):  # type: ignore[no-untyped-def]
    """ "auto" is CUDA where torch sees it, else the CPU; asking for CUDA without one is an error."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    return torch.device(name)


class Encoder:
    """all-MiniLM-L6-v2 in torch as the service embeds: mean-pooled last layer, unit length."""

    def __init__(self, base: Path, tok, device) -> None:  # type: ignore[no-untyped-def]
        from transformers import BertConfig, BertModel

        self.tok, self.device = tok, device
        self.bert = BertModel(BertConfig.from_json_file(str(base / "config.json")), add_pooling_layer=False)
        load_base(self.bert, base)
        self.bert.embeddings.word_embeddings.weight.requires_grad_(False)
        self.bert.to(device)

    def __call__(self, texts: list[str], max_tokens: int):  # type: ignore[no-untyped-def]
        import torch

        ids = [e.ids[:max_tokens] for e in self.tok.encode_batch(texts)]
        width = max(len(i) for i in ids)
        x = torch.zeros((len(ids), width), dtype=torch.long)
        mask = torch.zeros_like(x)
        for r, row in enumerate(ids):
            x[r, : len(row)] = torch.tensor(row)
            mask[r, : len(row)] = 1
        x, mask = x.to(self.device), mask.to(self.device)
        h = self.bert(input_ids=x, attention_mask=mask, token_type_ids=torch.zeros_like(x)).last_hidden_state
        m = mask.unsqueeze(-1).to(h.dtype)
        return torch.nn.functional.normalize(((h * m).sum(1) / m.sum(1).clamp(min=1e-9)).float(), dim=-1)

    def vectors(self, texts: list[str], max_tokens: int, bf16: bool = False) -> np.ndarray:
        import torch

        self.bert.eval()
        out = np.zeros((len(texts), self.bert.config.hidden_size), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
            for lo in range(0, len(order), 128):
                b = order[lo : lo + 128]
                out[b] = self([texts[i] for i in b], max_tokens).cpu().numpy()
        return out
