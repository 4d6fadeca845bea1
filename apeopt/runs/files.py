"""Every file name a run folder may hold: optimize runs, comparisons and batch jobs alike."""

from __future__ import annotations

# an optimize run
CONFIG = "config.json"
SUMMARY = "summary.json"
CANDIDATES = "candidates.jsonl"
EVALUATIONS = "evaluations.jsonl"
LEADERBOARD = "leaderboard.json"
LEADERBOARD_MD = "leaderboard.md"
BEST_PROMPT = "best_prompt.json"
BEST_FIXED_PROMPT = "best_fixed_prompt.json"  # when the winner retrieves its demos: the best fixed-demo prompt
PARTIAL_PROMPT = "partial_prompt.json"  # an interrupted run: its best prompt fully scored on dev so far
CHEAPEST_PROMPT = "cheapest_prompt.json"  # the cheapest prompt within noise of the best on dev, when not the winner
STUDY_DB = "study.db"
PREDICTIONS = "predictions.jsonl"
DEMO_VALUES = "demo_values.json"
STUDY_NAME = "study.json"  # the name of the run's Optuna study (unique per run: ``apeopt.runs.studies``)
RUN_LOCK = "run.lock"  # the pid and host of the process that owns the run folder (``apeopt.runs.lock``)
PROPOSER_CALLS = "proposer_calls.json"  # LM calls of each proposer (reflection included), summed over rounds
GUARD = "generation_guard.json"  # the generation guard's checks (likelihood scoring, apeopt.optimizer.selection.guard)
PRESCREEN = "prescreen.json"  # the likelihood pre-screen of new instructions, per round

# a comparison (``apeopt compare``); its summary.json is ``SUMMARY``
COMPARISON_JSON = "comparison.json"
COMPARISON_MD = "comparison.md"
COMPARISON_PNG = "comparison.png"
CURVES = "curves.jsonl"  # a tuned method's training curves
