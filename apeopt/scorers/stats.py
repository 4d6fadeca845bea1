"""Aggregates with n and a 95% interval: Wilson for 0/1 scores, bootstrap otherwise."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np


@dataclass(frozen=True)
class Aggregate:
    """A mean score over n items with its 95% interval (rounded to 6 digits): the score of a split
    wherever one is shown or recorded (summary.json, comparison rows, job attributes)."""

    score: float
    n: int
    ci: tuple[float, float]
    method: str = "wilson"

    def as_dict(self) -> dict[str, object]:
        return {"score": self.score, "n": self.n, "ci": [self.ci[0], self.ci[1]], "ci_method": self.method}

    to_dict = as_dict

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Aggregate":
        lo, hi = data["ci"]
        return cls(float(data["score"]), int(data["n"]), (float(lo), float(hi)), str(data.get("ci_method", "wilson")))

    def __str__(self) -> str:
        return f"{self.score:.3f} (n={self.n}, 95% CI [{self.ci[0]:.3f}, {self.ci[1]:.3f}])"


def _rounded(ci: tuple[float, float]) -> tuple[float, float]:
    return (round(ci[0], 6), round(ci[1], 6))


def wilson(successes: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap(values: Sequence[float], reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, size=(reps, arr.size))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return (float(lo), float(hi))


def aggregate(values: Sequence[float]) -> Aggregate:
    """Mean of per-example scores with a 95% interval."""
    n = len(values)
    if n == 0:
        return Aggregate(0.0, 0, (0.0, 0.0), "none")
    mean = float(np.mean(values))
    if all(v in (0.0, 1.0) for v in values):
        return Aggregate(mean, n, _rounded(wilson(sum(values), n)), "wilson")
    return Aggregate(mean, n, _rounded(bootstrap(values)), "bootstrap")


def paired_bootstrap(a: Sequence[float], b: Sequence[float], reps: int = 5000, seed: int = 0) -> dict[str, float]:
    """Paired difference mean(a) - mean(b) over the same items, with a 95% interval and a two-sided p."""
    if len(a) != len(b):
        raise ValueError(f"paired test needs the same items: {len(a)} != {len(b)}")
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if d.size == 0:
        return {"diff": 0.0, "ci_lo": 0.0, "ci_hi": 0.0, "p": 1.0}
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(reps, d.size))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    p = 2 * min((means <= 0).mean(), (means >= 0).mean())
    return {"diff": float(d.mean()), "ci_lo": float(lo), "ci_hi": float(hi), "p": float(min(1.0, p))}
