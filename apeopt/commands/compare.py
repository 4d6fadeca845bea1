"""`apeopt compare`: every chosen route (prompts and PEFT tuning) on one task and model, one table."""

from __future__ import annotations

from apeopt.records.compare import CompareResult


def print_comparison(result: CompareResult) -> None:
    from rich.console import Console
    from rich.table import Table

    meta = result.meta
    table = Table(
        "method",
        "test",
        "test_shift",
        "Δ vs human",
        "trainable",
        "train time",
        "inf. tok/ex",
        title=f"{meta.task} — {meta.model} ({meta.device}), {meta.scorer}, n={meta.test_items['test']['n']}",
    )
    for r in result.rows:
        t, s = r.test, r.test_shift
        p = r.paired.get("human")
        table.add_row(
            r.method,
            f"{t.score:.3f} [{t.ci[0]:.2f}, {t.ci[1]:.2f}]",
            f"{s.score:.3f} [{s.ci[0]:.2f}, {s.ci[1]:.2f}]" if s else "-",
            f"{p.diff:+.3f} (p={p.p:.3f})" if p else "-",
            f"{r.trainable_params:,}",
            f"{r.train_seconds:.0f} s",
            f"{r.inference_tokens_per_example:.0f}",
        )
    Console().print(table)
    Console().print(f"{meta.wall_seconds:.0f} s -> {meta.run_dir}/comparison.md, comparison.png")
