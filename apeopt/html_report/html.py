"""Render a :class:`Collection` as one static HTML page: inline CSS, images as data URIs, no external URL.

Everything shown is escaped (jinja2 autoescape): instructions and error texts are model- or
user-written and may contain markup.
"""

from __future__ import annotations

import shlex
import time
from typing import Any

from apeopt import __version__
from apeopt.html_report import plots
from apeopt.html_report.collect import Collection, Run, Score
from apeopt.html_report.cost_plot import cost_row
from apeopt.records.scores import Paired

STATES = ("done", "complete", "running", "pending", "failed", "interrupted", "incomplete")

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>apeopt report</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1240px;padding:16px 24px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #e3e7ee;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}.muted{color:#667085}.small{font-size:12px}
table{border-collapse:collapse;margin:6px 0 12px;width:100%}th,td{border:1px solid #dde2ea;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#f3f5f9;font-weight:600;white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr:nth-child(even) td{background:#fafbfd}.instr{max-width:520px;word-break:break-word}
.state{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;background:#e9ecf2}
.state-done,.state-complete{background:#d8f3dc;color:#14532d}.state-failed{background:#fde2e1;color:#7f1d1d}
.state-running{background:#dbeafe;color:#1e3a8a}.state-interrupted,.state-incomplete{background:#fef3c7;color:#78350f}
.err{color:#7f1d1d;font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap;word-break:break-word;max-width:380px}
img.plot{max-width:100%;height:auto;border:1px solid #e3e7ee;border-radius:4px;margin:4px 0}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;background:#f3f5f9;border-radius:3px;padding:1px 4px}
pre{padding:8px;overflow-x:auto}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:10px 0}
.card{border:1px solid #dde2ea;border-radius:6px;padding:8px 14px;min-width:120px}.card b{display:block;font-size:18px}
details>summary{cursor:pointer;font-weight:600;margin:6px 0}
</style></head>
<body>
<h1>apeopt report</h1>
<p class="muted small">generated {{ generated }} by apeopt {{ version }} from {% for p in inputs %}<code>{{ p }}</code>{% if not loop.last %}, {% endif %}{% endfor %}</p>
<div class="cards">
<div class="card"><span class="muted small">runs</span><b>{{ totals.runs }}</b></div>
<div class="card"><span class="muted small">jobs done / failed</span><b>{{ totals.done }} / {{ totals.failed }}</b></div>
<div class="card"><span class="muted small">LM calls</span><b>{{ totals.calls }}</b></div>
<div class="card"><span class="muted small">tokens</span><b>{{ totals.tokens }}</b></div>
<div class="card"><span class="muted small">wall time (sum)</span><b>{{ totals.time }}</b></div>
</div>

<h2 id="batch">Batch</h2>
{% for b in batches %}
<h3>{{ b.name }} <span class="muted small">— {% if b.path %}{{ b.path }}; {% endif %}states from {{ b.source }}</span></h3>
<table class="batch"><thead><tr><th>job</th><th>state</th><th>tries</th><th>test (95% CI)</th><th>human test</th><th>LM calls</th><th>time</th><th>winner instruction / error</th></tr></thead><tbody>
{% for j in b.jobs %}<tr>
<td>{{ j.key }}{% if j.label != j.key %}<br><span class="muted small">{{ j.label }}</span>{% endif %}</td>
<td><span class="state state-{{ j.css }}">{{ j.state }}</span></td><td class="num">{{ j.tries }}</td>
<td class="num">{{ j.test }}</td><td class="num">{{ j.human }}</td><td class="num">{{ j.calls }}</td><td class="num">{{ j.time }}</td>
<td>{% if j.error %}<div class="err">{{ j.error }}</div>{% else %}<div class="instr">{{ j.note }}</div>{% endif %}</td>
</tr>{% endfor %}
</tbody></table>
{% else %}<p class="muted">No batch or run folders.</p>{% endfor %}

<h2 id="comparison">Per-task comparison</h2>
<p class="muted small">Test score with its 95% interval per method: for optimize runs the human instruction, the k-shot baseline and the winner (scored once on test after the search); for compare runs every route of <code>comparison.json</code>.</p>
{% for t in tasks %}
<h3>{{ t.task }}</h3>
{% if t.plot %}<img class="plot" alt="test scores for {{ t.task }}" src="{{ t.plot }}">{% else %}<p class="muted">No test scores yet.</p>{% endif %}
{% for c in t.compares %}
<table class="compare"><caption class="muted small" style="text-align:left">{{ c.name }} ({{ c.model }})</caption>
<thead><tr><th>method</th><th>family</th><th>test</th><th>test_shift</th><th>Δ test vs human</th><th>trainable params</th><th>train time</th><th>LM calls</th><th>inference tok/ex</th></tr></thead><tbody>
{% for r in c.rows %}<tr><td>{{ r.method }}</td><td>{{ r.family }}</td><td class="num">{{ r.test }}</td><td class="num">{{ r.shift }}</td><td class="num">{{ r.diff }}</td><td class="num">{{ r.params }}</td><td class="num">{{ r.train }}</td><td class="num">{{ r.calls }}</td><td class="num">{{ r.tok }}</td></tr>{% endfor %}
</tbody></table>
{% endfor %}
{% else %}<p class="muted">No finished runs yet.</p>{% endfor %}

<h2 id="curves">Score by round</h2>
<p class="muted small">The incumbent's dev score (the best trial among those scored on the most dev examples) after each halving rung, against cumulative scoring LM calls and evaluations.</p>
{% for t in tasks if t.curve %}
<h3>{{ t.task }}</h3><img class="plot" alt="score by round for {{ t.task }}" src="{{ t.curve }}">
{% else %}<p class="muted">No evaluation logs.</p>{% endfor %}

<h2 id="candidates">Top candidates</h2>
{% for r in runs if r.leaderboard %}
<details open><summary>{{ r.label }} <span class="muted small">— {{ r.task }}, {{ r.model }}, {{ r.space }}</span></summary>
{% if r.human_instruction is not none %}<p class="small"><b>human:</b> <span class="instr">{{ r.human_instruction }}</span><br><b>winner:</b> <span class="instr">{{ r.winner_instruction }}</span></p>{% endif %}
<table class="leaderboard"><thead><tr><th>#</th><th>dev</th><th>n</th><th>trial</th><th>origin</th><th>round</th><th>phase</th><th>state</th><th>note</th><th>format</th><th>instruction</th></tr></thead><tbody>
{% for c in r.leaderboard %}<tr><td class="num">{{ c.rank }}</td><td class="num">{{ "%.3f"|format(c.score) }}</td><td class="num">{{ c.n }}</td><td class="num">{{ c.trial }}</td><td>{{ c.origin }}</td><td class="num">{{ c.round }}</td><td>{{ c.phase }}</td><td>{{ c.state }}</td><td class="small">{{ c.note }}</td><td class="small">{{ c.format }}</td><td class="instr">{{ c.instruction }}</td></tr>{% endfor %}
</tbody></table></details>
{% else %}<p class="muted">No leaderboards.</p>{% endfor %}

<h2 id="front">Dev score x tokens</h2>
<p class="muted small">What each prompt costs per call: prompt tokens per call (the model's tokenizer, mean over the dev inputs) / all tokens per example of its dev scoring (prompt and generated, CoT and votes included). The front holds the prompts no other beats on both; <em>cheapest within noise</em> is the cheapest prompt the best does not credibly beat on dev (paired bootstrap, as the search's selection rule) — <code>--prefer cheapest</code> exports it, otherwise it is in <code>cheapest_prompt.json</code>.</p>
{% for f in fronts %}
<h3>{{ f.label }} <span class="muted small">— {{ f.task }}, --prefer {{ f.prefer }}{% if f.limit %}, --max-prompt-tokens {{ f.limit }}{% endif %}</span></h3>
<table class="front"><thead><tr><th>winner tokens (prompt / per example)</th><th>winner tokens per 1,000 calls</th><th>cheapest within noise of the best</th><th>saves</th></tr></thead><tbody>
<tr><td class="num">{{ f.winner }}</td><td class="num">{{ f.per_1000 }}</td><td>{{ f.cheapest }}</td><td class="num">{{ f.saves }}</td></tr></tbody></table>
{% if f.plot %}<img class="plot" alt="dev score x tokens for {{ f.task }}" src="{{ f.plot }}">{% endif %}
{% else %}<p class="muted">No cost reports (runs before apeopt recorded tokens per prompt).</p>{% endfor %}

<h2 id="cost">Cost</h2>
<table class="cost"><thead><tr><th>run</th><th>kind</th><th>task</th><th>model</th><th>status</th><th>LM calls</th><th>tokens</th><th>wall time</th><th>candidates</th><th>trials</th></tr></thead><tbody>
{% for c in costs %}<tr><td>{{ c.label }}</td><td>{{ c.kind }}</td><td>{{ c.task }}</td><td>{{ c.model }}</td><td>{{ c.status }}</td><td class="num">{{ c.calls }}</td><td class="num">{{ c.tokens }}</td><td class="num">{{ c.time }}</td><td class="num">{{ c.candidates }}</td><td class="num">{{ c.trials }}</td></tr>{% endfor %}
<tr><th colspan="5">total</th><th class="num">{{ totals.calls }}</th><th class="num">{{ totals.tokens }}</th><th class="num">{{ totals.time }}</th><th></th><th></th></tr>
</tbody></table>

<h2 id="dashboard">Browse in optuna-dashboard</h2>
<p class="small">Each optimize run keeps its Optuna study; a batch keeps its job queue in <code>batch.db</code>. <code>pip install optuna-dashboard</code>, then:</p>
<pre>{% for d in dashboards %}optuna-dashboard {{ d }}
{% else %}optuna-dashboard sqlite:///runs/&lt;id&gt;/study.db
{% endfor %}</pre>
<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images", ok + "/" + imgs.length);
  document.body.setAttribute("data-images-loaded", ok === imgs.length ? "true" : "false");
});
</script>
</body></html>
"""


def fmt_score(s: Score | None) -> str:
    if s is None:
        return "–"
    ci = f" [{s.lo:.2f}, {s.hi:.2f}]" if s.lo is not None and s.hi is not None else ""
    return f"{s.score:.3f}{ci} n={s.n}"


def fmt_int(v: int | float | None) -> str:
    return "–" if v is None else f"{int(v):,}"


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "–"
    if s >= 5400:
        return f"{s / 3600:.1f} h"
    return f"{s / 60:.1f} min" if s >= 90 else f"{s:.0f} s"


def _diff(p: Paired | None) -> str:
    if p is None:
        return "–"
    return f"{p.diff:+.3f} [{p.ci_lo:+.2f}, {p.ci_hi:+.2f}] p={p.p:.3f}"


def _job_row(job: Any) -> dict[str, Any]:
    run: Run | None = job.run
    head = run.headline() if run else None
    human = run.method("human") if run else None
    test = fmt_score(head.test if head else None)
    if run is not None and run.kind == "compare" and head is not None:
        test += f" ({head.method})"
    note = (run.winner_instruction or "") if run else ""
    if run is not None and run.status not in ("complete", "") and run.stop_reason:
        note = f"{note} ({run.stop_reason})".strip()
    return {
        "key": job.key,
        "label": job.label,
        "state": job.state,
        "css": job.state if job.state in STATES else "other",
        "tries": "–" if job.tries is None else job.tries,
        "test": test
        if run
        else fmt_score(job.recorded.get("test")),  # a done job whose folder is gone: what batch.db says
        "human": fmt_score(human.test if human else job.recorded.get("human")),
        "calls": fmt_int(run.lm_calls if run else job.recorded.get("lm_calls")),
        "time": fmt_seconds(job.seconds),
        "error": job.error[:1500],
        "note": note,
    }


def _compare_rows(run: Run) -> list[dict[str, Any]]:
    rows = []
    for m in run.methods:
        e = m.extra
        rows.append(
            {
                "method": m.method,
                "family": e.get("family") or "",
                "test": fmt_score(m.test),
                "shift": fmt_score(m.test_shift),
                "diff": _diff(e.get("vs_human")),
                "params": fmt_int(e.get("trainable_params")),
                "train": fmt_seconds(e.get("train_seconds")),
                "calls": fmt_int(e.get("lm_calls")),
                "tok": "–"
                if e.get("inference_tokens_per_example") is None
                else f"{float(e['inference_tokens_per_example']):.0f}",
            }
        )
    return rows


def short_labels(group: list[Run]) -> list[str]:
    """Plot labels for the runs of one task: only what tells them apart (kind, model, space, seed)."""
    fields = [f for f in ("kind", "model", "space", "seed") if len({str(getattr(r, f)) for r in group}) > 1]
    names = [" ".join(f"s{r.seed}" if f == "seed" else str(getattr(r, f)) for f in fields) for r in group]
    if len(set(names)) < len(names):
        names = [f"{n} {r.name}".strip() for n, r in zip(names, group)]
    return names


def _tasks(runs: list[Run]) -> list[dict[str, Any]]:
    by_task: dict[str, list[Run]] = {}
    for r in runs:
        by_task.setdefault(r.task, []).append(r)
    out = []
    for task, group in by_task.items():
        names = short_labels(group)
        entries = [(names[i], m) for i, r in enumerate(group) for m in r.methods]
        metrics = {r.metric for r in group if r.metric}
        out.append(
            {
                "task": task,
                "plot": plots.comparison_plot(task, entries, metrics.pop() if len(metrics) == 1 else ""),
                "curve": plots.curve_plot(task, [(n, r) for n, r in zip(names, group) if r.kind == "optimize"]),
                "compares": [
                    {"name": r.label or r.name, "model": r.model, "rows": _compare_rows(r)}
                    for r in group
                    if r.kind == "compare"
                ],
            }
        )
    return out


def render(collection: Collection) -> str:
    import jinja2

    runs = collection.runs
    jobs = [j for b in collection.batches for j in b.jobs]
    seconds = sum(r.wall_seconds or 0.0 for r in runs)
    totals = {
        "runs": len(runs),
        "done": sum(j.state in ("done", "complete") for j in jobs),
        "failed": sum(j.state == "failed" for j in jobs),
        "calls": fmt_int(sum(r.lm_calls or 0 for r in runs)),
        "tokens": fmt_int(sum(r.tokens or 0 for r in runs)),
        "time": fmt_seconds(seconds),
    }
    costs = [
        {
            "label": r.label or r.name,
            "kind": r.kind,
            "task": r.task,
            "model": r.model,
            "status": r.status,
            "calls": fmt_int(r.lm_calls),
            "tokens": fmt_int(r.tokens),
            "time": fmt_seconds(r.wall_seconds),
            "candidates": fmt_int(r.candidates),
            "trials": fmt_int(r.trials),
        }
        for r in runs
    ]
    dashboards = [shlex.quote(d) for d in [b.dashboard for b in collection.batches] + [r.study for r in runs] if d]
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE).render(
        generated=time.strftime("%Y-%m-%d %H:%M:%S"),
        version=__version__,
        inputs=collection.inputs,
        batches=[
            {
                "name": b.name,
                "path": str(b.path) if b.path else "",
                "source": b.source,
                "jobs": [_job_row(j) for j in b.jobs],
            }
            for b in collection.batches
        ],
        tasks=_tasks(runs),
        runs=runs,
        costs=costs,
        totals=totals,
        dashboards=dashboards,
        fronts=[cost_row(r) for r in runs if r.cost is not None],
    )
