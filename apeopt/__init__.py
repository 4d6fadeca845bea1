"""apeopt: automated prompt engineering with honest baselines."""

__version__ = "0.1.0"
