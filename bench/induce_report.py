"""Renders bench/results/induce.md from the merged rows of bench/induce.py (targets, per-task rows, levers)."""

from __future__ import annotations

import statistics
from typing import Any


def _ci(d: dict[str, float]) -> str:
    mark = "*" if d["ci_lo"] > 0 else "°" if d["ci_hi"] < 0 else ""
    return f"{d['diff']:+.2f} [{d['ci_lo']:+.2f}, {d['ci_hi']:+.2f}]{mark}"


def _score(s: dict[str, Any]) -> str:
    lo, hi = s["ci"]
    return f"{s['score']:.2f} [{lo:.2f}, {hi:.2f}]"


def targets(rows: list[dict[str, Any]], space: str) -> list[str]:
    """The issue's targets for one space, counted over the tasks that have the rows."""
    by = {(r["task"], r["method"]): r for r in rows if r["space"] == space and r.get("variant", "all") == "all"}
    tasks = sorted({t for t, _ in by})
    ind = [by[(t, "induced")] for t in tasks if (t, "induced") in by]
    wh = [by[(t, "with_human")] for t in tasks if (t, "with_human") in by]
    out = []
    if ind:
        not_below = sum(r["vs_human"]["ci_hi"] >= 0 for r in ind)
        below_none = [r["task"] for r in ind if r["vs_none"]["ci_hi"] < 0]
        human_helps = [t for t in tasks if (t, "human") in by and by[(t, "human")]["vs_none"]["ci_lo"] > 0]
        above_none = [t for t in human_helps if (t, "induced") in by and by[(t, "induced")]["vs_none"]["ci_lo"] > 0]
        out += [
            f"- Induced from examples alone, not credibly below the human instruction: **{not_below} of {len(ind)}** "
            f"(target ≥ 11 of 14).",
            f"- Credibly below no instruction: **{len(below_none)}** ({', '.join(below_none) or 'none'}; target 0).",
            f"- Where the human instruction is credibly above no instruction ({len(human_helps)} tasks: "
            f"{', '.join(human_helps) or 'none'}), induced is too on **{len(above_none)}** "
            f"({', '.join(sorted(set(human_helps) - set(above_none))) or 'none'} missed).",
            f"- Mean test score: none {statistics.fmean(by[(t, 'none')]['test']['score'] for t in tasks if (t, 'none') in by):.3f}, "
            f"human {statistics.fmean(by[(t, 'human')]['test']['score'] for t in tasks if (t, 'human') in by):.3f}, "
            f"induced {statistics.fmean(r['test']['score'] for r in ind):.3f}.",
        ]
    if wh:
        wins = [r["task"] for r in wh if r["vs_human"]["ci_lo"] > 0]
        losses = [r["task"] for r in wh if r["vs_human"]["ci_hi"] < 0]
        out.append(f"- With the human instruction available, credible wins over it: **{len(wins)} of {len(wh)}** "
                   f"({', '.join(wins) or 'none'}; target ≥ 5 of 14); credible losses: {len(losses)} ({', '.join(losses) or 'none'}).")
    for m in ("induced", "with_human"):
        ceil = [by[(t, f"ceiling_{m}")] for t in tasks if (t, f"ceiling_{m}") in by]
        if ceil:
            reach = sum(r["vs_human"]["ci_hi"] >= 0 for r in ceil)
            above = sum(r["vs_human"]["ci_lo"] > 0 for r in ceil)
            out.append(f"- Ceiling of `{m}` (best of its scored proposals on test, an oracle): not credibly below human on "
                       f"{reach} of {len(ceil)}, credibly above on {above}.")
    return out


def lever_table(rows: list[dict[str, Any]]) -> list[str]:
    lev = [r for r in rows if r["method"] == "induced"]
    variants = sorted({r.get("variant", "all") for r in lev})
    if variants == ["all"]:
        return []
    tasks = sorted({r["task"] for r in lev if r.get("variant", "all") != "all"})
    by = {(r["task"], r["space"], r.get("variant", "all")): r for r in lev}
    spaces = sorted({r["space"] for r in lev})
    lines = ["", "## Levers: the induced search with one lever off", "",
             f"Tasks: {', '.join(tasks)}. Cells: test score, Δ vs human [95% CI]; `all` = every lever on.", ""]
    for space in spaces:
        head = ["task"] + variants
        lines += [f"Space `{space}`:", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for t in tasks:
            cells = [t]
            for v in variants:
                r = by.get((t, space, v))
                cells.append(f"{r['test']['score']:.2f} ({r['vs_human']['diff']:+.2f})" if r else "-")
            lines.append("| " + " | ".join(cells) + " |")
        means = ["mean"]
        for v in variants:
            got = [by[(t, space, v)]["test"]["score"] for t in tasks if (t, space, v) in by]
            means.append(f"{statistics.fmean(got):.3f} (n={len(got)})" if got else "-")
        lines += ["| " + " | ".join(means) + " |", ""]
    return lines


def render(rows: list[dict[str, Any]]) -> str:
    lines = ["# Instruction induction from examples alone (bench/induce.py)", ""]
    chunks = {r["chunk"]["command"]: r["chunk"] for r in rows if "chunk" in r}
    any_chunk = next(iter(chunks.values()), {})
    lines += [
        f"Task model `{any_chunk.get('model')}`, proposer `{any_chunk.get('proposer_model')}`; {any_chunk.get('dev')} dev items, "
        f"first {any_chunk.get('test')} test items, {any_chunk.get('budget_calls')} LM calls per search, "
        f"rounds: {any_chunk.get('rounds')}, likelihood pre-screen on {any_chunk.get('prescreen')} dev items. "
        "Rows: `none` no instruction; `human` the task's instruction; `induced` apeopt from examples alone; "
        "`with_human` apeopt with the human instruction available; `ceiling_*` the best on test of that search's "
        "scored proposals (an oracle pick, a ceiling only, never used for selection). Δ: paired bootstrap "
        "difference to `human` (and to `none`) with its 95% interval (* above 0, ° below 0). Commands (each a chunk "
        "of tasks, merged):", "",
    ]
    lines += [f"- `{c}` — {v['date']}{', commit ' + v['commit'] if v.get('commit') else ''}, load before {v['load_avg_before']:.1f} on {v['cpus']} CPUs, model load "
              f"{v['load_seconds']:.0f} s" for c, v in chunks.items()]
    for space in sorted({r["space"] for r in rows}):
        main = [r for r in rows if r["space"] == space and r.get("variant", "all") == "all"]
        if not main:
            continue
        lines += ["", f"## Space `{space}`", "", "Targets:", ""] + targets(rows, space) + [
            "", "| task | method | test [95% CI] | Δ vs human | Δ vs none | instruction | calls | new tokens | wall s | load |",
            "|---|---|---|---|---|---|---|---|---|---|"]
        for r in main:
            text = (r["instruction"] or "(no instruction)").replace("|", "\\|")
            text = text if len(text) <= 90 else text[:87] + "..."
            lines.append(f"| {r['task']} | {r['method']} | {_score(r['test'])} | {_ci(r['vs_human'])} | {_ci(r['vs_none'])} | "
                         f"{text} | {r.get('lm_calls') or '-'} | {r.get('new_tokens') or '-'} | "
                         f"{r.get('wall_seconds') or '-'} | {r['load_avg']:.1f} |")
    lines += lever_table(rows)
    return "\n".join(lines) + "\n"
