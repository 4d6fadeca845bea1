"""Tasks: YAML-defined data with a human instruction, splits and a scorer."""

from apeopt.tasks.loader import builtin_task_names, list_tasks, load_task, portable_task_ref
from apeopt.tasks.task import SPLITS, Example, Task

__all__ = ["SPLITS", "Example", "Task", "builtin_task_names", "list_tasks", "load_task", "portable_task_ref"]
