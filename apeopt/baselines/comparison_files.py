"""The comparison's files: comparison.json (one row per method), summary.json, comparison.md and
comparison.png (test score with its 95% interval per method, the shifted test split beside it)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

from apeopt.atomic_files import atomic_write_text
from apeopt.runs.files import COMPARISON_JSON, COMPARISON_MD, COMPARISON_PNG, SUMMARY
from apeopt.records.compare import CompareRow, CompareSummary, save_comparison
from apeopt.records.scores import Paired, SplitScore
from apeopt.scorers import paired_bootstrap


def add_paired(
    rows: Sequence[CompareRow], predictions: Sequence[dict[str, Any]], split: str = "test"
) -> list[CompareRow]:
    """The rows with ``paired[other]``: mean(row) - mean(other) over the same test items, bootstrap 95%
    interval and p, and on how many items each side scored higher."""
    scores: dict[str, list[tuple[int, str, float]]] = {}
    for p in predictions:
        if p["split"] == split:
            scores.setdefault(p["method"], []).append((p["index"], p["input"], float(p["score"])))
    ordered = {m: sorted(v) for m, v in scores.items()}
    out = []
    for row in rows:
        paired: dict[str, Paired] = {}
        a = ordered.get(row.method, [])
        for other in rows:
            b = ordered.get(other.method, [])
            if other is row or not a or [x[:2] for x in a] != [x[:2] for x in b]:
                continue
            sa, sb = [x[2] for x in a], [x[2] for x in b]
            test = {k: round(v, 4) for k, v in paired_bootstrap(sa, sb).items()}
            paired[other.method] = Paired.from_dict(
                {**test, "a_better": sum(x > y for x, y in zip(sa, sb)), "b_better": sum(x < y for x, y in zip(sa, sb))}
            )
        out.append(dataclasses.replace(row, paired=paired))
    return out


def write_comparison(folder: Path, rows: Sequence[CompareRow], meta: CompareSummary) -> None:
    """comparison.json, summary.json (``meta`` with the methods in order), comparison.md and .png."""
    save_comparison(folder / COMPARISON_JSON, list(rows))
    dataclasses.replace(meta, methods=tuple(r.method for r in rows)).save(folder / SUMMARY)
    atomic_write_text(folder / COMPARISON_MD, markdown(rows, meta))
    plot(rows, meta, folder / COMPARISON_PNG)


def _score(s: SplitScore | None) -> str:
    if s is None:
        return "–"
    return f"{s.score:.3f} [{s.ci[0]:.2f}, {s.ci[1]:.2f}]"


def _diff(p: Paired | None) -> str:
    if p is None:
        return "–"
    return f"{p.diff:+.3f} [{p.ci_lo:+.2f}, {p.ci_hi:+.2f}] p={p.p:.3f}"


def _count(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n:,}"


def _seconds(s: float) -> str:
    return f"{s / 60:.1f} min" if s >= 90 else f"{s:.0f} s"


def markdown(rows: Sequence[CompareRow], meta: CompareSummary) -> str:
    items = meta.test_items
    test_n = items["test"]["n"]
    shift = f", test_shift n={items['test_shift']['n']}" if "test_shift" in items else " (no test_shift split)"
    ref = "human" if any(r.method == "human" for r in rows) else rows[0].method
    lines = [
        f"# {meta.task} on {meta.model} ({meta.device})",
        "",
        f"Scorer `{meta.scorer}` on the same items for every method: test n={test_n} "
        f"(items {items['test']['digest']}){shift}. Scores with 95% intervals; Δ is a paired bootstrap "
        f"over the same test items against `{ref}`. Train on train, select on dev, report on test.",
        "",
        f"| method | test | test_shift | Δ test vs {ref} | trainable params | train ex. | dev ex. (selection) "
        "| opt./train time | s/step | LM calls / tokens (before test) | inference tokens / ex. | device |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        sps = f"{r.s_per_step:.2f}" if r.s_per_step else "–"
        lines.append(
            f"| {r.method} | {_score(r.test)} | {_score(r.test_shift)} | "
            f"{'–' if r.method == ref else _diff(r.paired.get(ref))} | {_count(r.trainable_params)} | "
            f"{r.train_examples} | {r.dev_examples} | {_seconds(r.train_seconds)} | {sps} | "
            f"{r.lm_calls:,} / {r.lm_tokens:,} | {r.inference_tokens_per_example:.0f} | {r.device} |"
        )
    lines += ["", *_highlights(rows), "", *_notes(rows, meta)]
    return "\n".join(lines) + "\n"


def _best(rows: Sequence[CompareRow], family: str) -> CompareRow | None:
    return max((r for r in rows if r.family == family), key=lambda r: r.test.score, default=None)


def _highlights(rows: Sequence[CompareRow]) -> list[str]:
    out = ["Paired differences on test (A − B, 95% interval, p; items where A / B scored higher):", ""]
    pairs: list[tuple[str, str]] = []
    bp, bt = _best(rows, "prompt"), _best(rows, "tuning")
    if bp and bt:
        pairs.append((bp.method, bt.method))
    if any(r.method == "apeopt" for r in rows):
        shots = [r for r in rows if r.method.startswith("k-shot")]
        others = ["human"] + ([max(shots, key=lambda r: r.test.score).method] if shots else [])
        pairs += [("apeopt", m) for m in others] + [("apeopt", r.method) for r in rows if r.family == "tuning"]
    seen = set()
    for a, b in pairs:
        if (a, b) in seen:
            continue
        seen.add((a, b))
        row = next(r for r in rows if r.method == a)
        p = row.paired.get(b)
        if p:
            out.append(f"- {a} − {b}: {_diff(p)} ({p.a_better} / {p.b_better} items)")
    return out if len(out) > 2 else []


def _notes(rows: Sequence[CompareRow], meta: CompareSummary) -> list[str]:
    cfg = meta.config["effective"]
    budget = " + ".join(
        text
        for value, text in (
            (cfg.get("apeopt_minutes"), f"{cfg.get('apeopt_minutes')} min"),
            (cfg.get("apeopt_calls"), f"{cfg.get('apeopt_calls')} LM calls"),
        )
        if value
    )
    return [
        f"Settings: {cfg['steps']} training steps per tuning method (checkpoint chosen on {cfg['dev_limit']} dev "
        f"examples every {cfg['eval_every']} steps), apeopt search budget {budget or 'none'}"
        f"{', quick mode' if meta.config['quick'] else ''}. Total wall time {_seconds(meta.wall_seconds)}"
        + (
            "; LM cache on: cached requests cost ~0 s, LM calls count every request."
            if meta.config.get("use_cache")
            else "; LM cache off."
        ),
        "Train ex.: train examples the method consumed (k-shot: its demos; apeopt: the train split it may draw "
        "demos and proposals from; tuning: the train split, several epochs). LM calls / tokens: requests made "
        "before test (search or checkpoint selection). Inference tokens / ex.: prompt + completion tokens per "
        "scored item (prompt tuning adds its virtual tokens; prefix tuning's cached prefix is not counted).",
    ]


def plot(rows: Sequence[CompareRow], meta: CompareSummary, path: Path) -> None:
    """Test (and shifted test) score with 95% interval per method, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(rows) + 1.6))
    has_shift = any(r.test_shift for r in rows)
    for i, r in enumerate(rows):
        y = len(rows) - 1 - i
        for split, dy, color, marker in (
            ("test", 0.12 if has_shift else 0.0, "tab:blue", "o"),
            ("test_shift", -0.12, "tab:orange", "s"),
        ):
            s = getattr(r, split)
            if s is None:
                continue
            lo, hi = s.ci
            ax.errorbar(
                s.score,
                y + dy,
                xerr=[[s.score - lo], [hi - s.score]],
                fmt=marker,
                color=color,
                capsize=3,
                label=split if i == 0 else None,
            )
    ax.set_yticks(range(len(rows)), [r.method for r in reversed(rows)])
    values = [v for r in rows for s in (r.test, r.test_shift) if s is not None for v in s.ci]
    if values and min(values) >= 0 and max(values) <= 1:
        ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel(f"{meta.scorer} (95% interval)")
    ax.set_title(f"{meta.task} — {meta.model} ({meta.device})", fontsize=10, loc="left")
    ax.grid(axis="x", alpha=0.3)
    if has_shift:  # above the axes, where it never hides a point
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
