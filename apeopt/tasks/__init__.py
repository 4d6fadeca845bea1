"""Tasks: YAML-defined data with a human instruction, splits and a scorer."""

from apeopt.tasks.task import SPLITS, Example, Task

__all__ = ["SPLITS", "Example", "Task"]
