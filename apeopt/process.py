"""Process-wide switches, set once by an entry point (the CLI, a bench script, the test suite) and never on
import of a library module.

- ``OMP_WAIT_POLICY=PASSIVE``: PyTorch's OpenMP threads spin while they wait for each other. On a CPU
  shared with other jobs a spinning thread burns the time slice its descheduled peer needs: model
  forwards measured 3-7x slower in wall time than with sleeping waits (bench/results/throughput.md).
  It must be set before torch is imported; an explicit OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
- Hugging Face progress bars off: apeopt reports its own progress, one line per event.
- Optuna's per-trial INFO log and its ExperimentalWarnings (heartbeats, ``enqueue_trial``) off.

A program that uses apeopt as a library calls :func:`configure_process` itself if it wants the same.
"""

from __future__ import annotations

import os
import sys


def configure_process(optuna_quiet: bool = True) -> None:
    """Apply the switches above; call it before torch or transformers is imported."""
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read by huggingface_hub and transformers on import
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    if optuna_quiet:
        import warnings

        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
