"""The process-wide switches: a short OpenMP spin unless the user chose a wait policy."""

from __future__ import annotations

import os

import pytest

from apeopt.process import SPIN_COUNT, configure_process


def test_short_spin_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    configure_process()
    assert os.environ["GOMP_SPINCOUNT"] == SPIN_COUNT == "1000"
    assert "OMP_WAIT_POLICY" not in os.environ


@pytest.mark.parametrize("name, value", [("OMP_WAIT_POLICY", "PASSIVE"), ("GOMP_SPINCOUNT", "50000")])
def test_a_users_setting_wins(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.setenv(name, value)
    configure_process()
    assert os.environ[name] == value
    other = "GOMP_SPINCOUNT" if name == "OMP_WAIT_POLICY" else "OMP_WAIT_POLICY"
    assert other not in os.environ
