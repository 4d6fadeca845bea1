"""The optimizer: a search over instructions, demos and formats on train/dev, then one final scoring on test.

Where things are:

- ``run``: :func:`~apeopt.optimizer.run.optimize`, one run end to end (the only entry);
- ``loop``: the ``Optimizer``, its rounds and phases; ``config``: ``OptimizeConfig``;
- ``final``: the reference prompts and the one scoring on test; ``estimate``: ``--dry-run`` costs;
- ``progress``: the progress display;
- ``candidates/``: the candidate pool, the ``Entry`` record, entries as Optuna trials, the tables;
- ``proposers/``: who writes new instructions (APE, OPRO, reflection, merge) and what they read;
- ``demos/``: the incumbent ladder, demo credit, demo search and bootstrapped CoT demos;
- ``selection/``: the acceptance rules, the incumbent, and which cut leaders get finished;
- ``scheduling/``: the budget and its shares, the phases of a round, successive halving, the pruner and the
  Optuna study with its samplers.

Policies are small objects behind a name, each in a ``Registry``: ``PHASES`` (scheduling.phases),
``PARENTS`` (proposers.parents), ``ACCEPTANCE`` (selection.acceptance), ``SAMPLERS`` (scheduling.study)
and ``PROPOSERS`` (proposers.registry).
"""

__all__ = [
    "candidates",
    "config",
    "demos",
    "estimate",
    "final",
    "loop",
    "progress",
    "proposers",
    "run",
    "scheduling",
    "selection",
]
