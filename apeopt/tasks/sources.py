"""Reading raw records from a task's ``source``: generator, jsonl, csv, parquet, hf, bigbench.

Each reader returns a :class:`SourceData`: the records, each with a human-readable place
("line 3", "row 7", "examples[2]") so that a bad record can be named in an error.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from apeopt.errors import UserError
from apeopt.registry import did_you_mean

SOURCE_TYPES = ("generator", "jsonl", "csv", "parquet", "hf", "bigbench")
# keys allowed in a source mapping besides "type", per source type
SOURCE_KEYS: dict[str, tuple[str, ...]] = {
    "generator": ("name", "n", "shift", "seed"),
    "jsonl": ("path", "n"),
    "csv": ("path", "n"),
    "parquet": ("path", "n"),
    "bigbench": ("path", "n"),
    "hf": ("dataset", "config", "split", "n"),
}
REQUIRED_KEYS = {
    "generator": "name",
    "jsonl": "path",
    "csv": "path",
    "parquet": "path",
    "bigbench": "path",
    "hf": "dataset",
}


@dataclass
class SourceData:
    records: list[tuple[str, Mapping[str, Any]]]  # (place, record)
    origin: str  # the data file (or generator) named in record errors
    label: str  # short description for Task.source, e.g. "generator:plural"
    labels: tuple[str, ...] | None = None  # labels the source itself defines (BIG-bench)
    extra: dict[str, Any] = field(default_factory=dict)


def check_source_spec(spec: Any, where: str, key: str) -> dict[str, Any]:
    """Validate a source mapping's shape; ``where`` is the YAML file, ``key`` its field path."""
    if not isinstance(spec, dict):
        raise UserError(f"{where}: {key}: expected a mapping with 'type', got {type(spec).__name__}")
    stype = spec.get("type")
    if stype is None:
        raise UserError(f"{where}: {key}.type: missing required field (one of {', '.join(SOURCE_TYPES)})")
    if stype not in SOURCE_TYPES:
        raise UserError(
            f"{where}: {key}.type: unknown source type {stype!r};{did_you_mean(stype, SOURCE_TYPES)}"
            f" valid: {', '.join(SOURCE_TYPES)}"
        )
    allowed = SOURCE_KEYS[stype]
    for k in spec:
        if k != "type" and k not in allowed:
            raise UserError(
                f"{where}: {key}.{k}: unknown field for a {stype} source;{did_you_mean(k, allowed)}"
                f" valid: type, {', '.join(allowed)}"
            )
    req = REQUIRED_KEYS[stype]
    if spec.get(req) in (None, ""):
        raise UserError(f"{where}: {key}.{req}: missing required field for a {stype} source")
    for k in ("name", "path", "dataset", "config", "split"):
        if k in spec and spec[k] is not None and not isinstance(spec[k], str):
            raise UserError(f"{where}: {key}.{k}: expected a string, got {spec[k]!r}")
    for k in ("n", "seed"):
        v = spec.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < (0 if k == "seed" else 1)):
            raise UserError(
                f"{where}: {key}.{k}: expected a {'non-negative' if k == 'seed' else 'positive'} integer, got {v!r}"
            )
    if "shift" in spec and not isinstance(spec["shift"], bool):
        raise UserError(f"{where}: {key}.shift: expected true or false, got {spec['shift']!r}")
    return spec


def load_source(spec: dict[str, Any], yaml_path: Path, key: str = "source") -> SourceData:
    """Read the records of a validated source spec; relative paths are relative to the YAML."""
    check_source_spec(spec, str(yaml_path), key)
    stype = spec["type"]
    if stype == "generator":
        data = _read_generator(spec, yaml_path, key)
    elif stype == "hf":
        data = _read_hf(spec, yaml_path, key)
    else:
        path = _data_path(spec["path"], yaml_path, key, stype)
        reader: Callable[[Path], SourceData] = {
            "jsonl": _read_jsonl,
            "csv": _read_csv,
            "parquet": _read_parquet,
            "bigbench": _read_bigbench,
        }[stype]
        data = reader(path)
    if spec.get("n") is not None and stype != "generator":
        data.records = data.records[: spec["n"]]
    if not data.records:
        raise UserError(f"{data.origin}: no records (empty data; from {key} in {yaml_path})")
    return data


def _data_path(raw: str, yaml_path: Path, key: str, stype: str) -> Path:
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = yaml_path.parent / path
    if stype == "bigbench" and path.is_dir():
        path = path / "task.json"
    if not path.is_file():
        raise UserError(f"{yaml_path}: {key}.path: data file not found: {path}")
    return path


def _read_generator(spec: dict[str, Any], yaml_path: Path, key: str) -> SourceData:
    from apeopt.tasks.generators import NotEnoughData, generate

    name, shift, seed = spec["name"], bool(spec.get("shift", False)), spec.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UserError(f"{yaml_path}: {key}.seed must be a whole number, got {seed!r}")
    try:
        records = generate(name, spec.get("n"), shift, seed)
    except UserError as e:
        raise UserError(f"{yaml_path}: {key}.name: {e}") from None
    except LookupError as e:
        raise UserError(f"{yaml_path}: {key}.name: {e}") from None
    except NotEnoughData as e:
        raise UserError(f"{yaml_path}: {key}.n: generator {name!r}: {e}") from None
    except Exception as e:  # noqa: BLE001 - user code (``module:function``) that raised, or returned bad records
        raise UserError(f"{yaml_path}: {key}.name: generator {name!r} failed: {type(e).__name__}: {e}") from None
    origin = f"generator {name!r}{' (shift)' if shift else ''} in {yaml_path}"
    label = f"generator:{name}{':shift' if shift else ''}"
    return SourceData([(f"record {i}", r) for i, r in enumerate(records, 1)], origin, label)


def _read_jsonl(path: Path) -> SourceData:
    records: list[tuple[str, Mapping[str, Any]]] = []
    for lineno, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{path}: line {lineno}: invalid JSON: {e.msg} (column {e.colno})") from None
        if not isinstance(rec, dict):
            raise UserError(f"{path}: line {lineno}: expected a JSON object, got {type(rec).__name__}")
        records.append((f"line {lineno}", rec))
    return SourceData(records, str(path), f"jsonl:{path.name}")


def _read_csv(path: Path) -> SourceData:
    text = _read_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise UserError(f"{path}: empty CSV file (no header row)")
    records: list[tuple[str, Mapping[str, Any]]] = []
    try:
        for row in reader:
            rec = {k: v for k, v in row.items() if k is not None}
            records.append((f"line {reader.line_num}", rec))
    except csv.Error as e:
        raise UserError(f"{path}: line {reader.line_num}: invalid CSV: {e}") from None
    return SourceData(records, str(path), f"csv:{path.name}")


def _read_parquet(path: Path) -> SourceData:
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as e:  # pyarrow raises several types for bad files
        raise UserError(f"{path}: cannot read Parquet: {type(e).__name__}: {e}") from None
    return SourceData([(f"row {i}", r) for i, r in enumerate(rows, 1)], str(path), f"parquet:{path.name}")


def _read_bigbench(path: Path) -> SourceData:
    try:
        doc = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from None
    examples = doc.get("examples") if isinstance(doc, dict) else None
    if not isinstance(examples, list):
        raise UserError(f"{path}: examples: missing or not a list (expected a BIG-bench task.json)")
    records: list[tuple[str, Mapping[str, Any]]] = []
    key_sets: list[Any] = []
    for i, ex in enumerate(examples):
        place = f"examples[{i}]"
        if not isinstance(ex, dict):
            raise UserError(f"{path}: {place}: expected an object, got {type(ex).__name__}")
        rec = dict(ex)
        scores = ex.get("target_scores")
        if scores is not None:
            if not isinstance(scores, dict) or not scores:
                raise UserError(f"{path}: {place}: target_scores: expected a non-empty object of scores")
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scores.values()):
                raise UserError(f"{path}: {place}: target_scores: scores must be numbers")
            key_sets.append(tuple(scores))
            if ex.get("target") is None:
                best = max(scores.values())
                rec["target"] = [k for k, v in scores.items() if v == best]
        elif ex.get("target") is None:
            raise UserError(f"{path}: {place}: missing field 'target' (or 'target_scores')")
        records.append((place, rec))
    labels = None
    if key_sets and len(key_sets) == len(records) and all(set(k) == set(key_sets[0]) for k in key_sets):
        labels = tuple(str(k) for k in key_sets[0])
    extra = {"description": doc.get("description", "")} if isinstance(doc.get("description"), str) else {}
    return SourceData(records, str(path), f"bigbench:{path.parent.name}/{path.name}", labels, extra)


def _hf_target(spec: dict[str, Any], yaml_path: Path) -> tuple[Path, str]:
    """The local folder the dataset names (relative to the YAML), and what to hand to ``datasets``."""
    local = Path(spec["dataset"]).expanduser()
    if not local.is_absolute():
        local = yaml_path.parent / local
    return local, str(local) if local.exists() else spec["dataset"]


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else ""


def hf_split_names(spec: dict[str, Any], yaml_path: Path, key: str = "source") -> list[str] | None:
    """The split names of an ``hf`` source's dataset, or None for a single saved ``Dataset``.

    A ``save_to_disk`` DatasetDict folder is read from its ``dataset_dict.json``; a folder of data
    files (e.g. parquet) or a hub dataset is asked through ``datasets.get_dataset_split_names``."""
    local, target = _hf_target(spec, yaml_path)
    if local.is_dir() and (local / "state.json").is_file():
        return None
    if local.is_dir() and (local / "dataset_dict.json").is_file():
        try:
            names = json.loads((local / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserError(f"{yaml_path}: {key}.dataset: cannot read {local / 'dataset_dict.json'}: {e}") from None
        return [str(n) for n in names]
    try:
        import datasets

        return [str(n) for n in datasets.get_dataset_split_names(target, spec.get("config"))]
    except Exception as e:  # datasets raises many types; the message is what matters
        raise UserError(
            f"{yaml_path}: {key}.dataset: cannot load {spec['dataset']!r}: {type(e).__name__}: {_first_line(e)}"
        ) from None


def _read_hf(spec: dict[str, Any], yaml_path: Path, key: str) -> SourceData:
    dataset, config, split = spec["dataset"], spec.get("config"), spec.get("split") or "train"
    local, target = _hf_target(spec, yaml_path)
    if local.is_dir() and spec.get("split"):
        names = hf_split_names(spec, yaml_path, key)
        if names is not None and split not in names:
            raise UserError(
                f"{yaml_path}: {key}.split: {dataset!r} has no split {split!r};{did_you_mean(split, names)}"
                f" it has: {', '.join(names)}"
            )
    try:
        import datasets

        if local.is_dir() and (local / "state.json").is_file():
            ds = datasets.load_from_disk(str(local))
        elif local.is_dir() and (local / "dataset_dict.json").is_file():
            ds = datasets.load_from_disk(str(local))[split]
        else:
            ds = datasets.load_dataset(target, config, split=split)
        rows = ds.to_list()
    except Exception as e:  # datasets raises many types; the message is what matters
        raise UserError(
            f"{yaml_path}: {key}.dataset: cannot load {dataset!r} (split {split!r}): {type(e).__name__}: {_first_line(e)}"
        ) from None
    origin = f"{target} [{split}]"
    return SourceData([(f"row {i}", r) for i, r in enumerate(rows, 1)], origin, f"hf:{dataset}[{split}]")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e.strerror}") from None
