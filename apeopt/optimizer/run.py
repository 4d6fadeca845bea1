"""One optimize run end to end: search on train/dev, score the winner and baselines once on test, write files.

``optimize`` is the only way a search runs: the CLI, batch jobs, the peer table and the comparison's
apeopt route all call it.
"""

from __future__ import annotations

import time
from typing import Any

from apeopt.errors import UserError
from apeopt.models.base import LMBackend
from apeopt.optimizer.candidates.entry import Entry
from apeopt.optimizer.config import OptimizeConfig
from apeopt.optimizer.progress import View
from apeopt.runs import BEST_FIXED_PROMPT, BEST_PROMPT, CHEAPEST_PROMPT, PARTIAL_PROMPT, RunStore, versions
from apeopt.records.scores import SplitScore, scores_to_dict
from apeopt.records.summary import Baseline, DevSelection, RunSummary, SearchCost, Winner
from apeopt.search_spaces import SearchSpace
from apeopt.tasks.task import Task


class NoWinnerError(UserError):
    """The budget ran out before any candidate was scored."""


def settle_cost(opt: Any, best: Any, config: OptimizeConfig, store: RunStore) -> tuple[Any, Any, Any]:
    """The prompt the run exports under ``config.prefer``, the cheapest prompt within noise of the
    best, and the run's cost report; the leaderboard is rewritten to mark the exported prompt as the winner."""
    from apeopt.optimizer.candidates.tables import leaderboard

    if len(best.scores) == len(opt.dev):
        opt.finish_cheaper(best)
    best, cheapest, cost = opt.costs.settle(best, opt.completed(), config.prefer, config.price_per_mtok)
    store.write_leaderboard(opt.costs.annotate(leaderboard(opt.entries, 20, best), opt.entries))
    return best, cheapest, cost


def optimize(
    config: OptimizeConfig,
    task: Task,
    space: SearchSpace,
    backend: LMBackend,
    proposer: LMBackend,
    store: RunStore,
    view: View,
    resume: bool = False,
    final: bool = True,
) -> RunSummary:
    """Search on train/dev, then score winner and baselines once on test; write the run's files.

    ``resume=True`` continues an interrupted run in ``store``: evaluations already in its log are
    replayed (not recomputed, not logged twice) and the search goes on from where it stopped.
    ``final=False`` stops after the search (a comparison scores its routes on test itself): nothing
    is scored on test, and best_prompt.json records the winner's dev selection.
    An interrupted run (Ctrl-C) scores nothing on test and writes no best_prompt.json; its best prompt
    fully scored on dev so far goes to partial_prompt.json, marked ``partial``. Interrupted before
    anything was scored on all of dev, it raises KeyboardInterrupt (the CLI exits 130).
    """
    from apeopt.optimizer.final import paired, reference_prompts, score_final
    from apeopt.optimizer.loop import Optimizer
    from apeopt.prompts.file import PromptFile
    from apeopt.scorers import aggregate
    from apeopt.tasks import portable_task_ref

    started = time.monotonic()
    if not resume:
        store.write_config(
            {
                "optimize": config.to_dict(),
                "space": dict(space.raw),
                "task": task.name,
                "versions": versions(),
                "resolved": {"model": backend.identity, "proposer": proposer.identity},
            }
        )
    opt = Optimizer(config, task, space, backend, proposer, store, view, storage=config.storage, resume=resume)
    best = opt.run()
    interrupted = opt.stop_reason is not None and opt.stop_reason.startswith("interrupted")
    if best is None and interrupted:
        raise KeyboardInterrupt
    if best is None:
        raise NoWinnerError(
            "no candidate was scored before the budget ran out; raise --budget-minutes or --budget-calls"
        )
    best, cheapest, cost = settle_cost(opt, best, config, store)
    search = SearchCost(opt.budget.spent_calls(), opt.budget.spent_tokens(), round(opt.budget.elapsed(), 2))
    source = portable_task_ref(config.task)
    prompts = {"winner": best.prompt, **reference_prompts(task, config.few_shot_k, config.split_seed)}
    # a winner with retrieved demos: also the best fixed-demo prompt, for exports
    fixed = opt.best_fixed() if best.prompt.retrieves else None
    if fixed is not None:
        prompts["best_fixed"] = fixed.prompt
    scores: dict[str, dict[str, SplitScore]] = {}
    raw: dict[str, Any] = {}
    if final and not interrupted:
        view.update(phase="final scoring on dev and test (once)")
        scores, raw = score_final(task, prompts, backend, dev=opt.dev)
        store.write_predictions(
            {"method": m, "split": sp, **row}
            for m, per_split in raw.items()
            for sp, r in per_split.items()
            for row in r.rows()
        )
    winner = Winner(
        best.prompt,
        best.candidate.id,
        best.candidate.origin,
        best.trial.number,
        DevSelection(best.value, len(best.scores), opt.scorer.name),
        scores.get("winner", {}),
    )
    summary = RunSummary(
        task=task.name,
        task_source=source,
        model=config.model,
        proposer_model=config.proposer_spec,
        space=space.name,
        seed=config.seed,
        split_seed=config.split_seed,
        status="interrupted" if interrupted else "complete",
        stop_reason=opt.stop_reason or "rounds finished",
        winner=winner,
        human=Baseline(prompt=prompts["human"], scores=scores.get("human", {})),
        few_shot=Baseline(k=config.few_shot_k, scores=scores.get("few_shot", {})) if "few_shot" in prompts else None,
        paired_test={
            "winner_vs_human": paired(raw, "winner", "human"),
            "winner_vs_few_shot": paired(raw, "winner", "few_shot"),
        },
        search=search,
        lm_calls=backend.usage.calls + (proposer.usage.calls if proposer is not backend else 0),
        tokens=backend.usage.tokens + (proposer.usage.tokens if proposer is not backend else 0),
        computed=backend.computed.as_dict() if hasattr(backend, "computed") else None,
        candidates=len(opt.pool),
        trials=len(opt.entries),
        wall_seconds=round(time.monotonic() - started, 2),
        data_fingerprint=task.fingerprint(),
        versions=versions(),
        run_dir=str(store.root.resolve()),
        incumbents=tuple(opt.incumbency.ladder_rows),
        selection=tuple(opt.incumbency.challenges),
        demo_values=opt.demo_credits(),
        split_sources=dict(task.origins),
        model_identity=backend.identity,
        proposer_identity=proposer.identity,
        cost=cost,
    )

    def prompt_file(entry: Entry, file_scores: dict[str, Any], partial: bool = False) -> PromptFile:
        return PromptFile(
            prompt=entry.prompt,
            task=task.name,
            task_source=source,
            model=config.model,
            scoring="generate",
            split_seed=config.split_seed,
            data_fingerprint=task.fingerprint(),
            scores=file_scores,
            partial=partial,
            human_instruction=task.has_instruction,
        )

    def dev_selection(entry: Entry) -> dict[str, Any]:
        return {"dev_selection": DevSelection(entry.value, len(entry.scores), opt.scorer.name).to_dict()}

    if interrupted:
        full = [e for e in [opt.incumbent, *opt.completed()] if e is not None and len(e.scores) >= len(opt.dev)]
        if full:
            top = full[0] if opt.incumbent in full else max(full, key=lambda e: (e.value, -e.trial.number))
            file_scores = {"dev": aggregate(list(top.scores)).to_dict(), **dev_selection(top)}
            prompt_file(top, file_scores, partial=True).save(store.path(PARTIAL_PROMPT))
    else:
        files = [(best, BEST_PROMPT, winner.scores)] + (
            [(fixed, BEST_FIXED_PROMPT, scores.get("best_fixed", {}))] if fixed else []
        )
        for entry, name, got in files:
            prompt_file(entry, scores_to_dict(got) if final else dev_selection(entry)).save(store.path(name))
        store.path(PARTIAL_PROMPT).unlink(missing_ok=True)  # a resumed run that finished
        if cheapest is not best:  # the cheapest prompt within noise of the best, for `--prefer cheapest` after the fact
            prompt_file(cheapest, dev_selection(cheapest)).save(store.path(CHEAPEST_PROMPT))
    store.write_summary(summary)
    return summary
