"""`apeopt optimize`: the run's result as a table (the run itself is :mod:`apeopt.services.optimize`)."""

from __future__ import annotations

from pathlib import Path

from apeopt.runs import PARTIAL_PROMPT
from apeopt.records.scores import SplitScore
from apeopt.records.summary import Baseline, RunSummary, Winner


def _fmt(score: SplitScore | None) -> str:
    if score is None:
        return "-"
    lo, hi = score.ci
    return f"{score.score:.3f} [{lo:.2f}, {hi:.2f}] n={score.n}"


def print_summary(summary: RunSummary) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print()  # a line between the progress view's last lines and the table
    table = Table("method", "dev", "test", "test_shift", title=f"{summary.task} — {summary.space} — {summary.model}")
    rows: dict[str, Baseline | Winner] = {**summary.baselines(), "winner": summary.winner}
    given = summary.human_given
    for name, row in rows.items():
        label = f"{name} (k={row.k})" if name == "few_shot" else name  # type: ignore[union-attr]
        if not given and name in ("human", "few_shot"):
            label = "no instruction (zero-shot)" if name == "human" else f"no instruction + {row.k} demos"  # type: ignore[union-attr]
        table.add_row(label, _fmt(row.score("dev")), _fmt(row.score("test")), _fmt(row.score("test_shift")))
    console.print(table)
    w = summary.winner.prompt
    if not given:
        console.print(
            "[bold]no human instruction was given:[/] the baselines are the format and demos alone; "
            "the winner's instruction was induced from the examples"
        )
    console.print(f"[bold]winner instruction:[/] {w.instruction or '(none)'}")
    demos = f"{w.demo_count} retrieved per input (of {len(w.demo_pool)})" if w.retrieves else str(len(w.demos))
    console.print(
        f"format: template={w.template} demos={demos} cot={w.cot!r} votes={w.votes} answer_prefix={w.answer_prefix!r}"
    )
    if summary.incumbents:
        ladder = ", ".join(
            f"{r.name.removeprefix('human + ').removeprefix('no instruction + ')} {r.dev:.2f}/{r.n}"
            for r in summary.incumbents
            if r.dev is not None
        )
        console.print(f"incumbent ladder (dev score/n): {ladder}")
    won = [c for c in summary.selection if c.credible]
    console.print(
        f"challenges of the incumbent: {len(summary.selection)}, credible: {len(won)}"
        + (f" (last: {won[-1].phase}, {won[-1].diff:+.3f} on dev, lower bound {won[-1].lower:+.3f})" if won else "")
    )
    pt = summary.paired_test.get("winner_vs_human")
    if pt:
        console.print(
            f"winner - {'human' if given else 'no instruction'} on test: {pt.diff:+.3f} (95% CI [{pt.ci_lo:+.3f}, {pt.ci_hi:+.3f}], p={pt.p:.3f})"
        )
    for line in cost_lines(summary):
        console.print(line, soft_wrap=True)
    console.print(
        f"{closing_status(summary)}; {summary.candidates} candidates, {summary.trials} trials, "
        f"{summary.lm_calls} LM calls, {summary.tokens} tokens, {summary.wall_seconds:.0f} s -> {summary.run_dir}",
        soft_wrap=True,
    )
    if not summary.complete:
        partial = Path(summary.run_dir) / PARTIAL_PROMPT
        kept = (
            f"its best prompt fully scored on dev is in {partial} (not scored on test)"
            if partial.is_file()
            else "no prompt was fully scored on dev yet"
        )
        console.print(
            f"interrupted: {kept}; `apeopt optimize --resume {summary.run_dir}` finishes the run", soft_wrap=True
        )


def closing_status(summary: RunSummary) -> str:
    """``complete (rounds finished)``, ``interrupted (Ctrl-C)``: the status, then why, each word once."""
    reason = summary.stop_reason
    if reason.startswith(summary.status):
        reason = reason[len(summary.status) :].strip()
        reason = reason[1:-1] if reason.startswith("(") and reason.endswith(")") else reason
    return f"{summary.status} ({reason})" if reason else summary.status


def cost_lines(summary: RunSummary) -> list[str]:
    """The winner's deployment cost, and the cheapest prompt within noise of the best and what it saves."""
    cost = summary.cost
    if cost is None:
        return []
    w, best, cheap = cost.winner, cost.best, cost.cheapest
    unit = "tokens" if cost.tokenizer == "model" else "tokens (estimated, ~4 characters a token)"
    money = cost.money_per_1000_calls
    lines = [
        f"winner cost: {w.prompt_tokens:.0f} prompt tokens per call, {w.tokens_per_example:.0f} tokens per example "
        f"-> {cost.per_1000_calls:,.0f} {unit} per 1,000 calls"
        + (f" = {money:.4f} at {cost.price_per_mtok:g} per million tokens" if money is not None else "")
    ]
    if cheap.trial == best.trial:
        lines.append(
            "cheapest within noise of the best: the best itself (no cheaper prompt scored on all of dev ties it)"
        )
    else:
        chosen = (
            "exported (--prefer cheapest)"
            if w.trial == cheap.trial
            else f"its prompt file: {Path(summary.run_dir) / 'cheapest_prompt.json'}"
        )
        lines.append(
            f"cheapest within noise of the best: {cheap.describe()}, dev {cheap.score:.3f} [{cheap.ci[0]:.2f}, {cheap.ci[1]:.2f}] "
            f"n={cheap.n} vs {best.score:.3f} (best - it {cost.diff:+.3f}, lower bound {cost.lower:+.3f}), "
            f"{cheap.tokens_per_example:.0f} vs {best.tokens_per_example:.0f} tokens per example: saves {cost.saves:.0%}; {chosen}"
        )
    if cost.max_prompt_tokens is not None:
        lines.append(f"--max-prompt-tokens {cost.max_prompt_tokens}: {cost.over_limit} longer candidate(s) not scored")
    lines.append(
        f"dev-score x tokens front: {len(cost.front)} prompt(s): "
        + ", ".join(f"{p.score:.2f}@{p.tokens_per_example:.0f}" for p in cost.front)
    )
    return lines
