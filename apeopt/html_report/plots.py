"""The report's figures: matplotlib (Agg, no display) rendered to PNG and embedded as base64 data URIs."""

from __future__ import annotations

import base64
import io
from typing import Any, Sequence

from apeopt.html_report.collect import Evaluation, MethodScore, Run

FIXED = {"human": "#7f7f7f", "few_shot": "#ff7f0e", "winner": "#1f77b4", "apeopt": "#1f77b4"}
PALETTE = ["#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#ff7f0e", "#7f7f7f"]
SPLITS = (("test", "test"), ("test_shift", "test_shift (distribution shift)"))


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def to_data_uri(fig: Any, dpi: int = 96) -> str:
    """PNG bytes of ``fig`` as a data: URI; the figure is closed."""
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _color(method: str, others: dict[str, str]) -> str:
    if method in FIXED:
        return FIXED[method]
    if method not in others:
        others[method] = PALETTE[len(others) % len(PALETTE)]
    return others[method]


def _short(text: str, n: int = 38) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def comparison_plot(task: str, entries: Sequence[tuple[str, MethodScore]], metric: str = "") -> str | None:
    """Test score with its 95% interval per (run, method), test_shift in a panel beside it when present.

    ``entries`` are (run label, method score) pairs; rows of one run are drawn together, top to bottom.
    """
    rows = [(label, m) for label, m in entries if m.test is not None or m.test_shift is not None]
    if not rows:
        return None
    plt = _plt()
    splits = [s for s in SPLITS if any(getattr(m, s[0]) is not None for _, m in rows)]
    runs = list(dict.fromkeys(label for label, _ in rows))
    height = 0.32 * len(rows) + 0.35 * len(runs) + 1.3
    fig, axes = plt.subplots(1, len(splits), figsize=(5.2 * len(splits) + 2.2, height), sharey=True, squeeze=False)
    others: dict[str, str] = {}
    ys, names = [], []
    y, last = 0.0, None
    for label, m in rows:
        if last is not None and label != last:
            y += 0.6  # a gap between runs
        last = label
        ys.append(y)
        text = str(m.extra.get("label") or m.method)
        names.append(text if len(runs) == 1 else f"{_short(label, 30)} · {text}")
        y += 1.0
    for ax, (split, title) in zip(axes[0], splits):
        for yy, (_, m) in zip(ys, rows):
            s = getattr(m, split)
            if s is None:
                continue
            lo = s.lo if s.lo is not None else s.score
            hi = s.hi if s.hi is not None else s.score
            ax.errorbar(
                s.score,
                yy,
                xerr=[[max(0.0, s.score - lo)], [max(0.0, hi - s.score)]],
                fmt="o",
                color=_color(m.method, others),
                capsize=3,
                ms=5,
            )
            ax.annotate(
                f"{s.score:.2f}",
                (s.score, yy),
                textcoords="offset points",
                xytext=(0, 5),
                fontsize=7,
                ha="center",
                color="#333333",
            )
        values = [
            v
            for _, m in rows
            for s in (getattr(m, split),)
            if s is not None
            for v in (s.lo, s.hi, s.score)
            if v is not None
        ]
        if values and min(values) >= 0 and max(values) <= 1:
            ax.set_xlim(-0.03, 1.03)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"{metric or 'score'} (95% interval)", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(ys, names, fontsize=8)
    axes[0][0].invert_yaxis()
    fig.suptitle(f"{task}: test scores", fontsize=11)
    fig.tight_layout()
    return to_data_uri(fig)


def incumbent(evals: Sequence[Evaluation]) -> list[float]:
    """After each evaluation, the dev score of the best trial among those scored on the most dev examples.

    Each record holds a trial's running mean after a halving rung (``step`` examples so far): a trial
    that reached a larger rung outranks one stopped on a smaller, noisier rung, as in the optimizer.
    """
    latest: dict[int, tuple[int, float]] = {}
    out: list[float] = []
    for e in evals:
        latest[e.trial] = (e.step, e.mean)
        out.append(max(latest.values())[1])
    return out


def curve_plot(task: str, labelled: Sequence[tuple[str, Run]]) -> str | None:
    """Best dev score so far against cumulative LM calls (left) and evaluations (right), one line per (label, run)."""
    labelled = [(label, r) for label, r in labelled if r.evaluations]
    runs = [r for _, r in labelled]
    if not runs:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 3.9), sharey=True)
    single = len(runs) == 1
    for i, (name, run) in enumerate(labelled):
        color = PALETTE[i % len(PALETTE)] if not single else FIXED["winner"]
        best = incumbent(run.evaluations)
        calls, total = [], 0
        for e in run.evaluations:
            total += e.lm_calls
            calls.append(total)
        counts = list(range(1, len(best) + 1))
        label = _short(name or run.name, 48)
        for ax, xs in ((axes[0], calls), (axes[1], counts)):
            ax.step(xs, best, where="post", color=color, lw=2, label=label)
            if len(runs) <= 3:  # every rung's running mean, larger for larger rungs
                top = max(e.step for e in run.evaluations) or 1
                ax.scatter(
                    xs,
                    [e.mean for e in run.evaluations],
                    s=[8 + 40 * e.step / top for e in run.evaluations],
                    color=color,
                    alpha=0.3,
                    lw=0,
                )
            if single:  # round boundaries
                for j in range(1, len(run.evaluations)):
                    if run.evaluations[j].round != run.evaluations[j - 1].round:
                        ax.axvline(xs[j], color="#999999", ls=":", lw=1)
                        ax.annotate(
                            f"round {run.evaluations[j].round}",
                            (xs[j], 0.02),
                            xycoords=("data", "axes fraction"),
                            fontsize=7,
                            color="#666666",
                            rotation=90,
                            ha="right",
                        )
    axes[0].set_xlabel("cumulative LM calls (scoring)", fontsize=9)
    axes[1].set_xlabel("evaluations (halving rungs)", fontsize=9)
    metric = runs[0].metric or "dev score"
    axes[0].set_ylabel(f"best dev {metric} so far", fontsize=9)
    for ax in axes:
        ax.grid(alpha=0.3)
    means = [e.mean for r in runs for e in r.evaluations]
    if means and min(means) >= 0 and max(means) <= 1:
        axes[0].set_ylim(-0.03, 1.05)
    axes[1].legend(loc="lower right", fontsize=7)
    fig.suptitle(
        f"{task}: score by round (dots: each rung's running mean)" if len(runs) <= 3 else f"{task}: score by round",
        fontsize=11,
    )
    fig.tight_layout()
    return to_data_uri(fig)
