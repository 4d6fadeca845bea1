"""apeopt: automated prompt engineering with honest baselines."""

import os as _os

# PyTorch's OpenMP threads spin while they wait for each other. On a CPU shared with other jobs a
# spinning thread burns the time slice its descheduled peer needs: model forwards measured 3-7x
# slower in wall time than with sleeping waits (bench/results/throughput.md). Must be set before
# torch is imported; an explicit OMP_WAIT_POLICY or GOMP_SPINCOUNT in the environment wins.
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

__version__ = "0.1.0"
