"""Run folders: the store that reads and writes one (``RunStore``), the names of every file in it, and
the library versions a run records. Optimize runs, comparisons, batch jobs, reports and peers share it."""

from apeopt.runs.files import (
    BEST_FIXED_PROMPT,
    BEST_PROMPT,
    CANDIDATES,
    CHEAPEST_PROMPT,
    COMPARISON_JSON,
    COMPARISON_MD,
    COMPARISON_PNG,
    CONFIG,
    CURVES,
    DEMO_VALUES,
    EVALUATIONS,
    LEADERBOARD,
    LEADERBOARD_MD,
    PARTIAL_PROMPT,
    PREDICTIONS,
    PROPOSER_CALLS,
    STUDY_DB,
    SUMMARY,
)
from apeopt.runs.store import RunStore, new_run_id
from apeopt.runs.versions import versions

__all__ = [
    "BEST_FIXED_PROMPT",
    "BEST_PROMPT",
    "CANDIDATES",
    "CHEAPEST_PROMPT",
    "COMPARISON_JSON",
    "COMPARISON_MD",
    "COMPARISON_PNG",
    "CONFIG",
    "CURVES",
    "DEMO_VALUES",
    "EVALUATIONS",
    "LEADERBOARD",
    "LEADERBOARD_MD",
    "PARTIAL_PROMPT",
    "PREDICTIONS",
    "PROPOSER_CALLS",
    "STUDY_DB",
    "SUMMARY",
    "RunStore",
    "new_run_id",
    "versions",
]
