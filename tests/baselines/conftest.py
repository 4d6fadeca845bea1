"""Fixtures for the baselines tests."""

from __future__ import annotations

import pytest
from baselines.helpers import toy_task

from apeopt.tasks.task import Task


@pytest.fixture()
def task() -> Task:
    return toy_task()
