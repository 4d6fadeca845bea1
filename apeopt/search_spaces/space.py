"""Search spaces: YAML files naming which prompt dimensions Optuna samples, and how candidates are scored.

A space fixes or ranges over: ``template``, ``demos`` (how many), ``demo_seed`` (which ones),
``cot`` (a chain-of-thought trigger, "" for none), ``votes`` (self-consistency) and
``answer_prefix``. The instruction itself comes from the optimizer's growing candidate pool and is
kept in each trial's attributes (an Optuna categorical cannot grow).

    name: full
    scoring: generate          # how candidates are scored on dev: generate (task scorer) | likelihood
    sampler: tpe               # tpe | random
    format_trials: 12          # TPE trials per round over the non-demo dimensions (template, cot, votes, prefix)
    demo_trials: 6             # demo sets per round (credit-assigned and random), around the incumbent's demos
    incumbents: ladder         # ladder: human + 0/3/5/8/16/32 random demos + retrieved demos first | start
    params:
      template: {choices: [completion, chat]}
      demos: {low: 0, high: 8}
      demo_seed: {low: 0, high: 31}
      cot: {choices: ["", "Let's think step by step."]}
      votes: {choices: [1, 3, 5]}
      answer_prefix: {value: "Output:"}
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from apeopt.errors import UserError
from apeopt.registry import unknown
from apeopt.search_spaces.format import DEFAULTS, PARAMS, Format
from apeopt.yaml_files import parse_yaml, read_yaml

TOP_KEYS = {
    "name",
    "description",
    "scoring",
    "sampler",
    "format_trials",
    "demo_trials",
    "incumbents",
    "params",
    "start",
}
INCUMBENTS = ("ladder", "start")
DEMO_PARAMS = ("demos", "demo_seed")  # searched by the demo search, not by the format search
SCORINGS = ("generate", "likelihood")
SAMPLERS = ("tpe", "random")


@dataclass(frozen=True)
class Param:
    """One dimension: a fixed value, a list of choices, or an integer range."""

    name: str
    value: Any = None
    choices: tuple[Any, ...] | None = None
    low: int | None = None
    high: int | None = None

    @property
    def fixed(self) -> bool:
        return self.choices is None and self.low is None

    def values(self) -> tuple[Any, ...]:
        """Every value this dimension can take."""
        if self.choices is not None:
            return self.choices
        if self.low is not None:
            return tuple(range(self.low, self.high + 1))  # type: ignore[operator]
        return (self.value,)

    def suggest(self, trial: Any) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.low is not None:
            return trial.suggest_int(self.name, self.low, self.high)
        return self.value


@dataclass(frozen=True)
class SearchSpace:
    name: str
    params: Mapping[str, Param]
    scoring: str = "generate"
    sampler: str = "tpe"
    format_trials: int = 0
    demo_trials: int = 0
    incumbents: str = "start"
    start: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    source: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def defaults(self) -> Format:
        """The starting format: each param's fixed value, its first choice, or the default clamped into its range."""
        out: dict[str, Any] = {}
        for name, p in self.params.items():
            if name in self.start:
                out[name] = self.start[name]
            elif p.fixed:
                out[name] = p.value
            elif p.choices is not None:
                out[name] = DEFAULTS[name] if DEFAULTS[name] in p.choices else p.choices[0]
            else:
                out[name] = min(max(DEFAULTS[name], p.low), p.high)
        return Format(**out)

    def cost_formats(self) -> list[Format]:
        """The start format in every combination of votes and CoT trigger the space allows: the
        dimensions that change how many LM calls scoring one example costs."""
        base = self.defaults()
        return [
            dataclasses.replace(base, votes=v, cot=c)
            for v in self.params["votes"].values()
            for c in self.params["cot"].values()
        ]

    @property
    def searchable(self) -> list[Param]:
        return [p for p in self.params.values() if not p.fixed]

    @property
    def format_dims(self) -> list[Param]:
        """The dimensions the format search samples (demos have their own search)."""
        return [p for p in self.searchable if p.name not in DEMO_PARAMS]

    @property
    def searches_demos(self) -> bool:
        return any(p.name in DEMO_PARAMS for p in self.searchable) or self.params["demos"].value not in (0, None)

    def suggest(self, trial: Any) -> Format:
        """A format sampled by ``trial`` (an Optuna trial), one parameter per field, by name."""
        return Format(**{name: p.suggest(trial) for name, p in self.params.items()})


def _param(where: str, name: str, spec: Any) -> Param:
    kind = PARAMS[name]
    if not isinstance(spec, Mapping):
        spec = {"value": spec}
    keys = set(spec)
    if keys == {"value"}:
        return Param(name, value=_typed(where, name, spec["value"], kind))
    if keys == {"choices"}:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise UserError(f"{where}: params.{name}.choices must be a non-empty list, got {choices!r}")
        return Param(name, choices=tuple(_typed(where, name, c, kind) for c in choices))
    if keys == {"low", "high"} and kind is int:
        low, high = (_typed(where, name, spec[k], int) for k in ("low", "high"))
        if low > high:
            raise UserError(f"{where}: params.{name}: low {low} > high {high}")
        return Param(name, low=low, high=high)
    raise UserError(
        f"{where}: params.{name} must be a value, {{value: X}}, {{choices: [...]}} or {{low, high}}; got keys {sorted(keys)}"
    )


def _typed(where: str, name: str, value: Any, kind: type) -> Any:
    if value is None and kind is str:
        value = ""
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise UserError(f"{where}: params.{name} expects integers, got {value!r}")
    if kind is str and not isinstance(value, str):
        raise UserError(f"{where}: params.{name} expects text, got {value!r}")
    if name == "template" and value not in ("completion", "chat"):
        raise UserError(f"{where}: params.template must be completion or chat, got {value!r}")
    if name in ("votes",) and value < 1 or name in ("demos", "demo_seed") and value < 0:
        raise UserError(f"{where}: params.{name} out of range: {value!r}")
    return value


def parse_space(data: Any, where: str) -> SearchSpace:
    if not isinstance(data, Mapping):
        raise UserError(f"{where}: a search space must be a mapping, got {type(data).__name__}")
    for key in data:
        if key not in TOP_KEYS:
            raise UserError(unknown("key", key, sorted(TOP_KEYS), where))
    params_in = data.get("params") or {}
    if not isinstance(params_in, Mapping):
        raise UserError(f"{where}: 'params' must be a mapping")
    for key in params_in:
        if key not in PARAMS:
            raise UserError(unknown("param", key, sorted(PARAMS), where))
    params = {n: _param(where, n, params_in.get(n, {"value": DEFAULTS[n]})) for n in PARAMS}
    scoring = data.get("scoring", "generate")
    if scoring not in SCORINGS:
        raise UserError(f"{where}: 'scoring' must be one of {', '.join(SCORINGS)}, got {scoring!r}")
    sampler = data.get("sampler", "tpe")
    if sampler not in SAMPLERS:
        raise UserError(f"{where}: 'sampler' must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    trials = _count(where, data, "format_trials", 0 if all(p.fixed for p in params.values()) else 12)
    demo_default = 6 if any(p.name in DEMO_PARAMS and not p.fixed for p in params.values()) else 0
    demo_trials = _count(where, data, "demo_trials", demo_default)
    incumbents = data.get("incumbents", "ladder")
    if incumbents not in INCUMBENTS:
        raise UserError(f"{where}: 'incumbents' must be one of {', '.join(INCUMBENTS)}, got {incumbents!r}")
    start = _start(where, data.get("start") or {}, params)
    return SearchSpace(
        name=str(data.get("name", Path(where).stem)),
        params=params,
        scoring=scoring,
        sampler=sampler,
        format_trials=trials,
        demo_trials=demo_trials,
        incumbents=incumbents,
        start=start,
        description=str(data.get("description", "")),
        source=where,
        raw=dict(data),
    )


def _count(where: str, data: Mapping[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UserError(f"{where}: {key!r} must be an integer >= 0, got {value!r}")
    return value


def _start(where: str, start: Any, params: Mapping[str, Param]) -> dict[str, Any]:
    """The format used for instruction search before any format trial: must lie in each param's domain."""
    if not isinstance(start, Mapping):
        raise UserError(f"{where}: 'start' must be a mapping of param values")
    out = {}
    for name, value in start.items():
        if name not in params:
            raise UserError(f"{where}: start.{name} is not a param; valid: {', '.join(sorted(params))}")
        p = params[name]
        ok = (
            (p.fixed and value == p.value)
            or (p.choices is not None and value in p.choices)
            or (
                p.low is not None and isinstance(value, int) and p.low <= value <= p.high  # type: ignore[operator]
            )
        )
        if not ok:
            raise UserError(f"{where}: start.{name} = {value!r} lies outside params.{name}")
        out[name] = value
    return out


def builtin_space_names() -> list[str]:
    files = resources.files("apeopt.search_spaces")
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".yaml"))


def load_space(name_or_path: str) -> SearchSpace:
    """A built-in space by name, or a path to a space YAML."""
    path = Path(name_or_path)
    if name_or_path.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise UserError(f"search space file {name_or_path!r} does not exist")
        return parse_space(read_yaml(path), str(path))
    names = builtin_space_names()
    if name_or_path not in names:
        raise UserError(unknown("search space", name_or_path, names) + " or a path to a YAML file")
    text = resources.files("apeopt.search_spaces").joinpath(f"{name_or_path}.yaml").read_text(encoding="utf-8")
    where = f"search space {name_or_path!r}"
    return parse_space(parse_yaml(text, where), where)
