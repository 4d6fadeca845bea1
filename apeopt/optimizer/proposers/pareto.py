"""The per-example Pareto front of candidates on dev (GEPA, Agrawal et al., 2025), as pure functions.

Candidates are compared on the dev examples that all of them were scored on (dev is scored in
order, so that is the shortest prefix among them). On each example the candidates with the top score
*win* it, unless every compared candidate has the same score there (an example nobody gets wrong, or
nobody gets right, tells the candidates apart no more than it does their means). A candidate is on
the front if it wins at least one example; as in GEPA (``gepa_utils.remove_dominated_programs``),
a candidate whose every win is shared with another front member is dominated and dropped, the
lowest-mean one first. Parents are drawn from the front with probability proportional to the
number of examples they win, so a candidate that is best on a few examples stays a possible
parent although its mean is not the top. A merge pairs two front members that win different
examples.

The final pick never comes from here: it stays with the selection rule (:mod:`apeopt.optimizer.selection.rule`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping, Sequence


@dataclass(frozen=True)
class Front:
    """The front over ``n`` shared examples: each member's mean and the examples it wins (dev indices)."""

    n: int
    wins: dict[str, tuple[int, ...]]
    means: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "wins": {k: list(v) for k, v in self.wins.items()}, "means": dict(self.means)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Front":
        return cls(
            int(data["n"]),
            {k: tuple(v) for k, v in data["wins"].items()},
            {k: float(v) for k, v in data["means"].items()},
        )


@dataclass(frozen=True)
class MergePair:
    """Two front members and the examples each wins that the other does not."""

    a: str
    b: str
    only_a: tuple[int, ...]
    only_b: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "only_a": list(self.only_a), "only_b": list(self.only_b)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MergePair":
        return cls(str(data["a"]), str(data["b"]), tuple(data["only_a"]), tuple(data["only_b"]))


def shared_rows(rows: Mapping[str, Sequence[float]], min_candidates: int = 3) -> dict[str, Sequence[float]]:
    """The rows to compare: the candidates scored on the most examples such that at least
    ``min_candidates`` of them (or all, when fewer) are compared, each cut to the shared prefix."""
    if not rows:
        return {}
    lengths = sorted((len(v) for v in rows.values()), reverse=True)
    n = lengths[min(min_candidates, len(lengths)) - 1]
    return {k: list(v)[:n] for k, v in rows.items() if len(v) >= n and n > 0}


def winners(rows: Mapping[str, Sequence[float]]) -> list[set[str]]:
    """Per shared example, the candidates with its top score (empty where all compared candidates tie)."""
    if len(rows) < 2:
        return []
    n = min(len(v) for v in rows.values())
    out = []
    for i in range(n):
        col = {k: float(v[i]) for k, v in rows.items()}
        top, low = max(col.values()), min(col.values())
        out.append(set() if top - low <= 1e-12 else {k for k, s in col.items() if s >= top - 1e-12})
    return out


def _dominated(y: str, others: set[str], fronts: Sequence[set[str]]) -> bool:
    """``y`` is dominated when every example it wins is also won by one of ``others``."""
    return all(front & others for front in fronts if y in front)


def pareto_front(rows: Mapping[str, Sequence[float]]) -> Front:
    """The non-dominated candidates that win at least one shared example, with their wins."""
    fronts = winners(rows)
    n = len(fronts)
    means = {k: (sum(list(v)[:n]) / n if n else 0.0) for k, v in rows.items()}
    members = sorted({k for f in fronts for k in f}, key=lambda k: (means[k], k))  # lowest mean dropped first
    dominated: set[str] = set()
    changed = True
    while changed:
        changed = False
        for y in members:
            if y not in dominated and _dominated(y, set(members) - dominated - {y}, fronts):
                dominated.add(y)
                changed = True
                break
    keep = [k for k in members if k not in dominated]
    wins = {k: tuple(i for i, f in enumerate(fronts) if k in f) for k in keep}
    return Front(n, wins, {k: means[k] for k in keep})


def sample_parents(front: Front, k: int, seed: int) -> list[str]:
    """Up to ``k`` distinct front members, drawn with probability proportional to their wins."""
    rng = random.Random(seed)
    pool = {c: len(w) for c, w in front.wins.items() if w}
    out: list[str] = []
    while pool and len(out) < k:
        names = sorted(pool)
        pick = rng.choices(names, weights=[pool[c] for c in names])[0]
        out.append(pick)
        del pool[pick]
    return out


def merge_pairs(front: Front, k: int = 2) -> list[MergePair]:
    """Up to ``k`` pairs of front members that win different examples, most complementary first
    (the larger of the two one-sided win counts' minimum), each member in at most one pair."""
    ids = sorted(front.wins)
    scored = []
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            only_a = tuple(sorted(set(front.wins[a]) - set(front.wins[b])))
            only_b = tuple(sorted(set(front.wins[b]) - set(front.wins[a])))
            if only_a and only_b:
                scored.append(
                    (-min(len(only_a), len(only_b)), -(front.means[a] + front.means[b]), a, b, only_a, only_b)
                )
    out: list[MergePair] = []
    used: set[str] = set()
    for *_, a, b, only_a, only_b in sorted(scored):
        if a in used or b in used:
            continue
        out.append(MergePair(a, b, only_a, only_b))
        used |= {a, b}
        if len(out) >= k:
            break
    return out
