"""Process-wide switches, set once by an entry point (the CLI, a bench script, the test suite) and never on
import of a library module.

- ``GOMP_SPINCOUNT=1000``: PyTorch's OpenMP threads wait for each other between operations. Spinning
  long (libgomp's default, or ``OMP_WAIT_POLICY=ACTIVE``) burns the time slice a descheduled peer needs
  when another job shares the CPU: scoring ran 1.7-6x slower than with sleeping waits. Sleeping at once
  (``OMP_WAIT_POLICY=PASSIVE``, the earlier setting) wakes threads too late for a small model's many
  short operations: on a quiet CPU SmolLM2's bf16 scoring ran at half the speed. A short spin keeps
  most of both (``bench/results/wait_policy*.md``). It must be set before torch is imported; an
  explicit OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
- Hugging Face progress bars off: apeopt reports its own progress, one line per event.
- Optuna's per-trial INFO log and its ExperimentalWarnings (heartbeats, ``enqueue_trial``) off.

A program that uses apeopt as a library calls :func:`configure_process` itself if it wants the same.
"""

from __future__ import annotations

import os
import sys

SPIN_COUNT = "1000"  # spins before an OpenMP thread sleeps (bench/wait_policy.py)


def configure_process(optuna_quiet: bool = True) -> None:
    """Apply the switches above; call it before torch or transformers is imported."""
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read by huggingface_hub and transformers on import
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    if optuna_quiet:
        import warnings

        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
