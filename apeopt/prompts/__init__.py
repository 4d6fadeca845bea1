"""Prompt configurations, their rendering, and the exported best-prompt file."""

from apeopt.prompts.prompt import Demo, PromptConfig

__all__ = ["Demo", "PromptConfig"]
