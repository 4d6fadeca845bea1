"""The report's cost view of an optimize run: dev score against tokens per example, with the
Pareto front, the winner and the cheapest prompt within noise of the best marked."""

from __future__ import annotations

from typing import Any

from apeopt.html_report.collect import Run
from apeopt.html_report.plots import FIXED, _plt, to_data_uri


def front_plot(run: Run) -> str | None:
    """A PNG data URI: every prompt fully scored on dev (grey), the front (line, 95% intervals), the
    winner and the cheapest within noise; None for a run without a cost report."""
    cost = run.cost
    if cost is None:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 3.9))
    if run.scored:
        ax.scatter(
            [t for t, _ in run.scored], [s for _, s in run.scored], s=14, color="#b0b7c3", label="scored on all of dev"
        )
    xs = [p.tokens_per_example for p in cost.front]
    ys = [p.score for p in cost.front]
    ax.errorbar(
        xs,
        ys,
        yerr=[
            [max(0.0, y - p.ci[0]) for y, p in zip(ys, cost.front)],
            [max(0.0, p.ci[1] - y) for y, p in zip(ys, cost.front)],
        ],
        fmt="o-",
        color="#2ca02c",
        ms=5,
        lw=1.5,
        capsize=3,
        label="front (dev, 95% CI)",
    )
    for p, name, color, marker in (
        (cost.best, "best dev", FIXED["winner"], "*"),
        (cost.cheapest, "cheapest within noise", "#d62728", "D"),
    ):
        ax.scatter(
            [p.tokens_per_example],
            [p.score],
            s=140 if marker == "*" else 60,
            marker=marker,
            color=color,
            zorder=5,
            label=f"{name}: {p.describe()}",
        )
    unit = "tokens" if cost.tokenizer == "model" else "tokens (estimated)"
    ax.set_xlabel(f"{unit} per example (prompt + generated, dev scoring)", fontsize=9)
    ax.set_ylabel(f"dev {run.metric or 'score'}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=7)
    ax.set_title(f"{run.task}: dev score x tokens ({len(cost.front)} on the front)", fontsize=11)
    fig.tight_layout()
    return to_data_uri(fig)


def cost_row(run: Run) -> dict[str, Any]:
    """The run's cost line in the report: the winner's tokens and price per 1,000 calls, and what the
    cheapest prompt within noise of the best would save."""
    c = run.cost
    assert c is not None
    cheap = c.cheapest
    same = cheap.trial == c.best.trial
    return {
        "label": run.label or run.name,
        "task": run.task,
        "prefer": c.prefer,
        "plot": front_plot(run),
        "winner": f"{c.winner.prompt_tokens:.0f} / {c.winner.tokens_per_example:.0f}",
        "per_1000": f"{c.per_1000_calls:,.0f}"
        + (f" ({c.money_per_1000_calls:.4f} at {c.price_per_mtok:g}/M)" if c.money_per_1000_calls is not None else ""),
        "cheapest": "the best itself"
        if same
        else f"{cheap.describe()}: dev {cheap.score:.3f} [{cheap.ci[0]:.2f}, "
        f"{cheap.ci[1]:.2f}] n={cheap.n}, {cheap.prompt_tokens:.0f} / {cheap.tokens_per_example:.0f} tokens",
        "saves": f"{c.saves:.0%}",
        "limit": "" if c.max_prompt_tokens is None else str(c.max_prompt_tokens),
    }
