"""Credit assignment for demonstrations: what each train example adds when it is shown as a demo.

Every scored trial with fixed demos is evidence: its per-dev-example scores, and which train
examples its prompt showed. The estimate is a ridge regression of the scores on demo-inclusion
indicators, after removing each dev example's own difficulty (its mean score over the trials that
scored it) and each instruction's effect (its trials' mean), so a demo is credited for lifting the
examples it was shown with above what they score anyway:

    y[t, i] - mean_t'(y[t', i]) - (mean of t's instruction) ~ sum_j w_j * shown[t, j]

``w_j`` is the value of train example ``j`` (in score units: +0.05 means trials that show it score
about 0.05 higher). New demo sets take the highest-valued examples (with an exploration bonus for
examples seen rarely) and order them with the most valuable last, next to the query.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Observation:
    """One trial's scores: the train indices it showed as demos, and its score on each dev example."""

    demo_ids: tuple[int, ...]
    scores: tuple[float, ...]  # scores[i] is the score on dev example i (dev order, a prefix of dev)
    group: str = ""  # the instruction (or other non-demo setting) the trial used


@dataclass(frozen=True)
class DemoValue:
    """The estimated value of one train example as a demo, and how many trials showed it."""

    index: int  # into train
    value: float
    shown: int  # trials that showed it


def estimate_values(observations: Sequence[Observation], ridge: float = 1.0) -> list[DemoValue]:
    """Each train example's estimated value as a demo, best first (only examples some trial showed)."""
    obs = [o for o in observations if o.demo_ids and o.scores]
    features = sorted({j for o in obs for j in o.demo_ids})
    if len(obs) < 2 or not features:
        return []
    col = {j: c for c, j in enumerate(features)}
    n_dev = max(len(o.scores) for o in obs)
    sums, counts = np.zeros(n_dev), np.zeros(n_dev)
    for o in obs:
        sums[: len(o.scores)] += o.scores
        counts[: len(o.scores)] += 1
    difficulty = sums / np.maximum(counts, 1)
    resid_by_group: dict[str, list[float]] = {}
    residuals = []
    for o in obs:
        r = np.asarray(o.scores, dtype=float) - difficulty[: len(o.scores)]
        residuals.append(r)
        resid_by_group.setdefault(o.group, []).extend(r.tolist())
    group_mean = {g: float(np.mean(v)) for g, v in resid_by_group.items()}
    # One row per trial, weighted by how many dev examples it was scored on.
    x = np.zeros((len(obs), len(features)))
    y = np.zeros(len(obs))
    w = np.zeros(len(obs))
    for t, (o, r) in enumerate(zip(obs, residuals)):
        for j in o.demo_ids:
            x[t, col[j]] = 1.0
        y[t] = float(r.mean()) - group_mean[o.group]
        w[t] = len(o.scores)
    xw = x * w[:, None]
    a = x.T @ xw + ridge * np.mean(w) * np.eye(len(features))
    coef = np.linalg.solve(a, xw.T @ y)
    shown = x.sum(axis=0)
    values = [DemoValue(j, float(coef[col[j]]), int(shown[col[j]])) for j in features]
    return sorted(values, key=lambda v: (-v.value, v.index))


def propose_demo_sets(
    values: Sequence[DemoValue], n_train: int, k: int, count: int, seed: int, explore: float = 0.05
) -> list[tuple[int, ...]]:
    """``count`` demo sets of ``k`` train indices built from the estimated values.

    The first is greedy (the ``k`` highest values); the others are drawn without replacement with
    Gumbel noise on value + ``explore`` / sqrt(1 + trials shown), so unseen examples (value 0) get
    tried too. Each set is ordered by value, ascending: the most valuable demo sits next to the query.
    """
    k = min(k, n_train)
    if k <= 0 or count <= 0:
        return []
    by_index = {v.index: v for v in values}
    value = [by_index[j].value if j in by_index else 0.0 for j in range(n_train)]
    shown = [by_index[j].shown if j in by_index else 0 for j in range(n_train)]
    rng = random.Random(seed)
    out: list[tuple[int, ...]] = []
    seen: set[frozenset[int]] = set()
    scale = max(1e-3, float(np.std([v.value for v in values])) if values else explore)
    for attempt in range(count * 4):
        if attempt == 0 and values:
            picked = sorted(range(n_train), key=lambda j: (-value[j], j))[:k]
        else:
            keyed = [
                (value[j] + explore / math.sqrt(1 + shown[j]) + scale * -math.log(-math.log(rng.random() or 1e-12)), j)
                for j in range(n_train)
            ]
            picked = [j for _, j in sorted(keyed, reverse=True)[:k]]
        key = frozenset(picked)
        if key in seen:
            continue
        seen.add(key)
        out.append(tuple(sorted(picked, key=lambda j: (value[j], -j))))
        if len(out) == count:
            break
    return out
