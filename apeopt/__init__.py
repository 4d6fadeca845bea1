"""apeopt: automated prompt engineering with honest baselines.

Process-wide switches (OpenMP waits, progress bars, Optuna's log) are set by the entry points through
:func:`apeopt.process.configure_process`, never on import.
"""

__version__ = "0.1.0"
