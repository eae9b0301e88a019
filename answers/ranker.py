"""The ranker: the probability that a candidate sentence answers the question, from its features.

A small MLP over answers/features.py's measurements, trained on SQuAD 2.0 by training/train_ranker.py
(its weights and the threshold it picked on held-out titles ship in ranker_model/ranker.json). It runs
in numpy in well under a millisecond for a pool, so every sentence of every retrieved chunk is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from answers.features import FEATURE_NAMES

WEIGHTS_PATH = Path(__file__).resolve().parent / "ranker_model" / "ranker.json"


class Ranker:
    def __init__(
        self, mean: np.ndarray, std: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]], threshold: float
    ):
        self.mean = mean
        self.std = std
        self.layers = layers
        self.threshold = threshold

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Ranker:
        if tuple(d["features"]) != FEATURE_NAMES:
            raise ValueError("the ranker's weights were trained on other features: retrain it")
        layers = [(np.asarray(x["w"], np.float32), np.asarray(x["b"], np.float32)) for x in d["layers"]]
        return cls(
            np.asarray(d["mean"], np.float32), np.asarray(d["std"], np.float32), layers, float(d["threshold"])
        )

    @classmethod
    def load(cls, path: Path = WEIGHTS_PATH) -> Ranker:
        return cls.from_dict(json.loads(path.read_text()))

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        if not len(x):
            return np.zeros(0, np.float32)
        h = (x - self.mean) / self.std
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < len(self.layers) - 1:
                h = np.tanh(h)
        return 1.0 / (1.0 + np.exp(-h[:, 0]))
