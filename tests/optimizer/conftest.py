from __future__ import annotations

from pathlib import Path

import pytest
from toy import run_toy


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    counter = iter(range(1000))

    def _run(**kw: object):  # type: ignore[no-untyped-def]
        return run_toy(tmp_path / f"run{next(counter)}", **kw)  # type: ignore[arg-type]

    return _run
