"""Loading tasks from YAML files: the built-ins in ``apeopt/tasks/builtin/`` or any path.

Task YAML schema (``yaml.safe_load``; unknown keys are errors)::

    name: plural                       # optional; defaults to the file name without .yaml
    description: Singular noun -> plural.               # optional, one line
    instruction: Write the plural form of the word.     # optional: the human baseline prompt; without one
                                       #   the baselines are "no instruction" and the search induces one
    scorer: exact_match                # optional (default exact_match); a scorer registry name
    labels: [positive, negative]       # optional; every canonical target must be one of them
    max_tokens: 16                     # optional (default 32): answer generation length
    source:                            # required: where the examples come from
      type: generator                  #   generator | jsonl | csv | parquet | hf | bigbench
      name: plural                     #   generator: registry name (or "module:function"),
      n: 400                           #     n (count, optional), shift (bool), seed (default 0)
                                       #   jsonl | csv | parquet | bigbench: path (relative to
                                       #     this YAML; bigbench: task.json or its folder), n (cap)
                                       #   hf: dataset (hub id, save_to_disk folder or folder of
                                       #     data files such as parquet), config, split, n
    # or one source per split (pre-split data; a split not given is cut from source.train):
    # source:
    #   train: {type: jsonl, path: train.jsonl}
    #   dev: {type: hf, dataset: my_dataset, split: validation}
    #   test: {type: csv, path: test.csv}
    input_field: input                 # default "input"; dotted paths reach nested fields
    input_template: "{question} {context}"  # instead of input_field: str.format over the record
    target_field: target               # default "target"; a string or a list of accepted answers
    target_map: {0: negative, 1: positive}  # optional: map raw target values to text
    target_sep: "|"                    # optional: split string targets into accepted answers
    splits: {train: 200, dev: 100, test: 100, seed: 0}
                                       # counts (ints) or fractions (floats summing to <= 1);
                                       # default {train: 0.5, dev: 0.25, test: 0.25, seed: 0}
                                       # per-split sources: each size caps its split (any may
                                       # be left out: the whole split is kept)
    test_shift:                        # optional shifted test split
      source: {type: generator, name: plural, shift: true, n: 100}
      size: 100                        # optional: keep the first `size` examples
      # input_field / input_template / target_field / target_map / target_sep may be overridden

Semantics: records become examples (input text, accepted targets; the first target is the
canonical one); examples are deduplicated on the input (later targets are merged unless the
task has labels) before splitting; ``train``/``dev``/``test`` are cut from one seeded shuffle,
so they never overlap and are the same for the same seed. ``test_shift`` drops every input
that also occurs in the in-distribution data and keeps source order, so it does not depend on
the split seed.

Per-split sources (``source: {train: …, dev: …, test: …}``, or an ``hf`` dataset without a named
``split`` whose own splits are train/validation/test): nothing is reshuffled across splits; a
size caps its split with a seeded subsample kept in source order; an input that occurs in two
given splits is dropped from the later one (train, then dev, then test) and counted; a split not
given is a seeded cut of ``source.train``. A dataset with other split names stops with an error
(name the split of each task split); a train-only dataset is one pool. ``Task.origins`` records
where each split came from. The data seed of a generator (``source.seed``) is separate from the split
seed (``splits.seed``, overridden by ``load_task(..., seed=)``).

BIG-bench ``task.json``: each of ``examples`` has ``input`` and ``target`` (a string or a list)
or ``target_scores`` (targets = the keys with the highest score; when every example has the
same keys they become the task's labels unless the YAML sets ``labels``).

Every mistake raises :class:`apeopt.errors.UserError` with a one-line message naming the file
and the field (and the line, for YAML syntax errors; the record, for bad data records).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

from apeopt.errors import UserError
from apeopt.registry import did_you_mean, unknown
from apeopt.yaml_files import read_yaml
from apeopt.tasks.examples import FieldSpec, dedupe, record_examples, scalar_text, template_fields
from apeopt.tasks.sources import check_source_spec, load_source
from apeopt.tasks.presplit import expand_dataset_splits, load_given, parse_plan
from apeopt.tasks.provenance import CUT, GIVEN, SHIFT, SplitOrigin, origins_to_dict
from apeopt.tasks.splits import make_splits, parse_split_spec, resolve_sizes, shift_split
from apeopt.tasks.task import Task

BUILTIN_DIR = Path(__file__).parent / "builtin"
TOP_KEYS = (
    "name",
    "description",
    "instruction",
    "scorer",
    "labels",
    "max_tokens",
    "source",
    "input_field",
    "input_template",
    "target_field",
    "target_map",
    "target_sep",
    "splits",
    "test_shift",
)
FIELD_KEYS = ("input_field", "input_template", "target_field", "target_map", "target_sep")
SHIFT_KEYS = ("source", "size", *FIELD_KEYS)


def builtin_task_names() -> list[str]:
    """Names of the built-in tasks (the YAML files in ``apeopt/tasks/builtin/``)."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def resolve_task_path(name_or_path: str) -> Path:
    """The YAML file for a built-in task name or a path; UserError if there is none."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    looks_like_path = path.suffix in (".yaml", ".yml") or "/" in text or "\\" in text
    names = builtin_task_names()
    if not looks_like_path and text in names:
        return BUILTIN_DIR / f"{text}.yaml"
    if looks_like_path or path.exists():
        if path.is_dir():
            raise UserError(f"{path}: is a directory, expected a task YAML file")
        if not path.is_file():
            raise UserError(f"task file not found: {path}")
        return path
    raise UserError(unknown("task", text, names) + " (or give a path to a task YAML file)")


def portable_task_ref(name_or_path: str) -> str:
    """The task as a prompt file or summary records it, so it loads from any folder: a built-in's
    name, or the absolute path of a task YAML. A name that is neither is returned as it is."""
    try:
        path = resolve_task_path(name_or_path)
    except UserError:
        return str(name_or_path)
    if path.parent.resolve() == BUILTIN_DIR.resolve() and path.stem == str(name_or_path):
        return path.stem
    return str(path.resolve())


def load_task(name_or_path: str, seed: int | None = None) -> Task:
    """Load a built-in task by name or a task YAML by path; ``seed`` overrides ``splits.seed``."""
    path = resolve_task_path(name_or_path)
    return _build(path, _read_yaml(path), seed)


def task_row(task: Task, path: Path | str) -> dict[str, Any]:
    """What ``apeopt tasks`` shows of a task: its fields, sizes and where each split came from."""
    return {
        "name": task.name,
        "description": task.description,
        "instruction": task.instruction,
        "scorer": task.scorer,
        "source": task.source,
        "labels": list(task.labels) if task.labels else None,
        "max_tokens": task.max_tokens,
        "sizes": task.sizes(),
        "split_sources": origins_to_dict(task.origins),
        "path": str(path),
    }


@lru_cache(maxsize=1)
def _list_tasks_cached() -> tuple[dict[str, Any], ...]:
    return tuple(task_row(load_task(name), BUILTIN_DIR / f"{name}.yaml") for name in builtin_task_names())


def list_tasks(names: list[str] | None = None) -> list[dict[str, Any]]:
    """One dict per built-in task (or per given task name or YAML path): name, description,
    instruction, scorer, source, labels, max_tokens, sizes (examples per split), split_sources
    (each split's :class:`SplitOrigin` as a dict) and path. The built-ins are computed once per process."""
    if names:
        return [task_row(load_task(n), resolve_task_path(n)) for n in names]
    return copy.deepcopy(list(_list_tasks_cached()))


# ------------------------------------------------------------------ YAML parsing
def _read_yaml(path: Path) -> dict[str, Any]:
    doc = read_yaml(path)
    if doc is None:
        raise UserError(f"{path}: empty task file (needs at least source)")
    if not isinstance(doc, dict):
        raise UserError(f"{path}: expected a mapping of task fields, got {type(doc).__name__}")
    for key in doc:
        if key not in TOP_KEYS:
            raise UserError(f"{path}: {key}: unknown field;{did_you_mean(key, TOP_KEYS)} valid: {', '.join(TOP_KEYS)}")
    return doc


def _str(
    doc: dict[str, Any], key: str, where: str, *, required: bool = False, default: str | None = None, prefix: str = ""
) -> str | None:
    value = doc.get(key)
    if value is None:
        if required:
            raise UserError(f"{where}: {prefix}{key}: missing required field")
        return default
    if not isinstance(value, str) or (required and not value.strip()):
        raise UserError(f"{where}: {prefix}{key}: expected a non-empty string, got {value!r}")
    return value.strip()


def _field_spec(doc: dict[str, Any], where: str, base: FieldSpec | None = None, prefix: str = "") -> FieldSpec:
    base = base or FieldSpec()
    if "input_field" in doc and "input_template" in doc:
        raise UserError(f"{where}: {prefix}input_template: give either input_field or input_template, not both")
    input_field, input_template = base.input_field, base.input_template
    if "input_field" in doc:
        named = _str(doc, "input_field", where, required=True, prefix=prefix)
        assert named is not None  # required: _str raises when it is missing
        input_field, input_template = named, None
    if "input_template" in doc:
        input_template = _str(doc, "input_template", where, required=True, prefix=prefix)
        try:
            template_fields(input_template)  # type: ignore[arg-type]
        except ValueError as e:
            raise UserError(f"{where}: {prefix}input_template: bad template {input_template!r}: {e}") from None
    target_field = _str(doc, "target_field", where, default=base.target_field, prefix=prefix)
    target_map = base.target_map
    if "target_map" in doc:
        raw = doc["target_map"]
        if not isinstance(raw, dict) or not raw:
            raise UserError(f"{where}: {prefix}target_map: expected a non-empty mapping of value: text")
        target_map = {}
        for k, v in raw.items():
            ks, vs = scalar_text(k), scalar_text(v)
            if ks is None or vs is None:
                raise UserError(f"{where}: {prefix}target_map: bad entry {k!r}: {v!r} (expected text)")
            target_map[ks] = vs
    target_sep = base.target_sep
    if "target_sep" in doc:
        sep = doc["target_sep"]
        if not isinstance(sep, str) or not sep:
            raise UserError(f"{where}: {prefix}target_sep: expected a non-empty string, got {sep!r}")
        target_sep = sep
    return FieldSpec(input_field, input_template, target_field, target_map, target_sep)  # type: ignore[arg-type]


def _labels(doc: dict[str, Any], where: str) -> tuple[str, ...] | None:
    raw = doc.get("labels")
    if raw is None:
        return None
    if isinstance(raw, list) and any(isinstance(x, bool) for x in raw):
        raise UserError(f"{where}: labels: got {raw!r}; quote labels like 'yes'/'no' (YAML reads them as booleans)")
    if not isinstance(raw, list) or not raw or not all(isinstance(x, (str, int)) for x in raw):
        raise UserError(f"{where}: labels: expected a non-empty list of strings, got {raw!r}")
    labels = tuple(str(x).strip() for x in raw)
    if len(set(labels)) != len(labels) or not all(labels):
        raise UserError(f"{where}: labels: labels must be distinct and non-empty, got {list(labels)}")
    return labels


def _build(path: Path, doc: dict[str, Any], seed: int | None) -> Task:
    where = str(path)
    name = _str(doc, "name", where, default=path.stem)
    instruction = _str(doc, "instruction", where, default="")
    if doc.get("instruction") is not None and not instruction:
        raise UserError(
            f"{where}: instruction: expected a non-empty string or no field at all, got {doc['instruction']!r}"
        )
    description = _str(doc, "description", where, default="")
    scorer = _str(doc, "scorer", where, default="exact_match")
    labels = _labels(doc, where)
    max_tokens = doc.get("max_tokens", 32)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= 8192:
        raise UserError(f"{where}: max_tokens: expected an integer from 1 to 8192, got {max_tokens!r}")
    if "source" not in doc:
        raise UserError(f"{where}: source: missing required field")
    plan = parse_plan(doc["source"], where)
    fields = _field_spec(doc, where)
    parse_split_spec(doc.get("splits"), where, partial=True)  # shape only: which sizes are needed depends on the data
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise UserError(f"seed: expected an integer, got {seed!r}")

    shift_doc = doc.get("test_shift")
    if shift_doc is not None:  # validate the whole file before reading any data
        if not isinstance(shift_doc, dict):
            raise UserError(f"{where}: test_shift: expected a mapping with a source")
        for key in shift_doc:
            if key not in SHIFT_KEYS:
                raise UserError(f"{where}: test_shift.{key}: unknown field; valid: {', '.join(SHIFT_KEYS)}")
        if "source" not in shift_doc:
            raise UserError(f"{where}: test_shift.source: missing required field")
        check_source_spec(shift_doc["source"], where, "test_shift.source")
        shift_fields = _field_spec(shift_doc, where, base=fields, prefix="test_shift.")
        shift_size = shift_doc.get("size")
        if shift_size is not None and (
            isinstance(shift_size, bool) or not isinstance(shift_size, int) or shift_size < 1
        ):
            raise UserError(f"{where}: test_shift.size: bad split size {shift_size!r} (expected a positive count)")

    plan = expand_dataset_splits(plan, path)
    split_spec = parse_split_spec(doc.get("splits"), where, partial=plan.per_split)
    split_seed = split_spec.seed if seed is None else seed
    metadata: dict[str, Any] = {
        "path": where,
        "builtin": path.parent.resolve() == BUILTIN_DIR.resolve(),
        "seed": split_seed,
    }
    if plan.per_split:
        given = load_given(plan, path, fields, labels, split_spec, split_seed)
        splits, origins, labels, in_distribution = given.splits, given.origins, given.labels, given.in_distribution
        extra = given.data["train"].extra
        source_label = "; ".join(f"{n}: {given.data[n].label}" for n in given.data)
        metadata.update(
            sources={n: dict(s) for n, s in plan.given.items()},
            duplicates_dropped=sum(o.duplicates_dropped for o in origins.values()),
            overlaps_dropped={n: o.overlaps_dropped for n, o in origins.items() if o.how == GIVEN},
        )
    else:
        assert plan.pool is not None
        data = load_source(plan.pool, path, "source")
        labels = labels if labels is not None else data.labels
        in_distribution, duplicates = dedupe(record_examples(data, fields, labels), merge_targets=labels is None)
        sizes = resolve_sizes(split_spec, len(in_distribution), where, data.origin)
        splits = make_splits(in_distribution, sizes, split_seed)
        origins = {n: SplitOrigin(n, data.label, CUT, len(in_distribution), len(splits[n])) for n in splits}
        extra, source_label = data.extra, data.label
        metadata.update(source=dict(plan.pool), pool_size=len(in_distribution), duplicates_dropped=duplicates)
    if shift_doc is not None:
        shift_data = load_source(shift_doc["source"], path, "test_shift.source")
        shift_examples, shift_dups = dedupe(record_examples(shift_data, shift_fields, labels), labels is None)
        splits["test_shift"], overlaps = shift_split(
            shift_examples, in_distribution, shift_size, where, shift_data.origin
        )
        origins["test_shift"] = SplitOrigin(
            "test_shift",
            shift_data.label,
            SHIFT,
            len(shift_examples) - overlaps,
            len(splits["test_shift"]),
            shift_dups,
            overlaps,
        )
        metadata.update(
            test_shift_source=dict(shift_doc["source"]),
            test_shift_duplicates_dropped=shift_dups,
            test_shift_overlaps_dropped=overlaps,
        )
    if extra.get("description") and not description:
        description = " ".join(extra["description"].split())
    return Task(
        name=name,  # type: ignore[arg-type]
        instruction=instruction,  # type: ignore[arg-type]
        splits=splits,
        scorer=scorer,  # type: ignore[arg-type]
        labels=labels,
        description=description or "",
        source=source_label,
        max_tokens=max_tokens,
        metadata=metadata,
        origins=origins,
    )
