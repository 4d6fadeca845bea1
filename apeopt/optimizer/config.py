"""The optimize configuration: a dataclass validated on construction; written into every run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from apeopt.errors import UserError
from apeopt.models.spec import DEFAULT_SPEC


def check_cost_fields(config: "OptimizeConfig") -> None:
    """The cost options: a whole positive prompt-token limit, best | cheapest, a price >= 0."""
    from apeopt.records.cost import PREFER

    limit = config.max_prompt_tokens
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise UserError(f"config field 'max_prompt_tokens' must be a whole number >= 1, got {limit!r}")
    if config.prefer not in PREFER:
        raise UserError(f"config field 'prefer' must be one of {', '.join(PREFER)}, got {config.prefer!r}")
    price = config.price_per_mtok
    if price is not None and (isinstance(price, bool) or not isinstance(price, (int, float)) or not price >= 0):
        raise UserError(f"config field 'price_per_mtok' must be a number >= 0, got {price!r}")


@dataclass(frozen=True)
class OptimizeConfig:
    """The settings of one optimize run, validated on construction; written into the run's config.json."""

    task: str
    instruction: str | None = None  # overrides or supplies the task's human instruction (--instruction)
    model: str = DEFAULT_SPEC
    proposer_model: str | None = None  # None: the task model itself
    space: str = "fewshot"
    seed: int = 0
    split_seed: int = 0
    proposers: tuple[str, ...] = ("forward", "chat")
    # proposers of the rounds after round 0 (they read scored candidates): variation, history (OPRO),
    # reflect (a parent's dev failures with the scorer's feedback, GEPA), merge (two Pareto-front candidates)
    later_proposers: tuple[str, ...] = ("variation", "history", "reflect")
    parents: str = "top"  # parents of later rounds: top (best dev means) | pareto (per-example front, GEPA)
    reflect_tokens: int = 1200  # hard cap on a reflection or merge prompt, in estimated tokens
    reflect_failures: int = 4  # failing dev examples shown per reflection
    reflect_successes: int = 1  # and right ones
    subsamples: int = 4  # demo subsamples per proposer
    per_subsample: int = 3  # candidates sampled per subsample
    proposal_demos: int = 5
    # Induction levers (apeopt.optimizer.induction), each switchable so its effect can be measured:
    induce_samples: int = 24  # instructions the `induce` proposer samples per round, over `subsamples` demo subsets
    profile: bool = True  # show the proposer a profile of the outputs (apeopt.optimizer.data_profile)
    auto_induce: bool = True  # without a human instruction, round 0 also proposes with induce and constraints
    begin_reply: bool = True  # `induce` begins the proposer's reply ("Instruction: Write the") where it renders chat
    prescreen_items: int = 0  # >0: rank new instructions by gold-answer log-likelihood on this many dev items first
    prescreen_keep: int = 8  # ... and send only the best this many to halving
    guard: bool = True  # a winner chosen by likelihood must not be credibly worse by generation on dev
    proposal_temperature: float = 0.9
    minibatch: int = 10  # first rung of successive halving (dev examples)
    eta: int = 3  # keep the top 1/eta at each rung
    dev_limit: int | None = None
    rounds: int = 3
    patience: int = 1  # rounds without improvement before stopping
    resample_top: int = 3
    budget_calls: int | None = None
    budget_tokens: int | None = None
    budget_minutes: float | None = 10.0
    few_shot_k: int = 5
    device: str = "auto"
    dtype: str = "auto"  # auto: bf16 on CUDA and on CPUs with bf16 instructions, else fp32
    storage: str | None = None
    use_cache: bool = True
    max_prompt_tokens: int | None = None  # hard limit on a candidate's prompt tokens per call (None: none)
    prefer: str = "best"  # best: the best dev score | cheapest: the cheapest prompt not credibly worse on dev
    price_per_mtok: float | None = None  # price per million tokens, for the cost per 1,000 calls in money

    def __post_init__(self) -> None:
        from apeopt.field_types import check_field_types

        check_field_types(self)
        positive = ("subsamples", "per_subsample", "minibatch", "rounds", "resample_top", "reflect_failures")
        for name in positive:
            if getattr(self, name) < 1:
                raise UserError(f"config field {name!r} must be >= 1, got {getattr(self, name)!r}")
        if self.instruction is not None and not self.instruction.strip():
            raise UserError(
                f"config field 'instruction' must be a non-empty string when given, got {self.instruction!r}"
            )
        for name in ("induce_samples", "prescreen_keep"):
            if getattr(self, name) < 1:
                raise UserError(f"config field {name!r} must be >= 1, got {getattr(self, name)!r}")
        for name in ("patience", "few_shot_k", "proposal_demos", "reflect_successes", "prescreen_items"):
            if getattr(self, name) < 0:
                raise UserError(f"config field {name!r} must be >= 0, got {getattr(self, name)!r}")
        if self.eta < 2:
            raise UserError(f"config field 'eta' must be >= 2, got {self.eta!r}")
        if not 0 < self.proposal_temperature <= 2:
            raise UserError(f"config field 'proposal_temperature' must be in (0, 2], got {self.proposal_temperature!r}")
        for name in ("budget_calls", "budget_tokens", "budget_minutes", "dev_limit"):
            v = getattr(self, name)
            if v is not None and v <= 0:
                raise UserError(f"config field {name!r} must be > 0, got {v!r}")
        if not self.proposers:
            raise UserError("config field 'proposers' must name at least one proposer")
        from apeopt.optimizer.proposers.registry import PROPOSERS
        from apeopt.optimizer.proposers.reflect import MIN_TOKENS

        later = {n for n in PROPOSERS.names() if PROPOSERS.get(n).later_only}
        for p in self.proposers:
            if p not in PROPOSERS or p in later:
                valid = [n for n in PROPOSERS.names() if n not in later]
                raise UserError(f"config field 'proposers': unknown initial proposer {p!r}; valid: {', '.join(valid)}")
        for p in self.later_proposers:
            if p not in PROPOSERS:
                raise UserError(f"config field 'later_proposers': {PROPOSERS.unknown_message(p)}")
        from apeopt.models.device import DTYPES

        if str(self.dtype).strip().lower() not in DTYPES:
            raise UserError(f"config field 'dtype': unknown dtype {self.dtype!r}; valid: {', '.join(DTYPES)}")
        check_cost_fields(self)
        from apeopt.optimizer.proposers.parents import PARENTS

        if self.parents not in PARENTS:
            raise UserError(
                f"config field 'parents' must be {' or '.join(repr(n) for n in sorted(PARENTS.names(), reverse=True))}, got {self.parents!r}"
            )
        if (
            isinstance(self.reflect_tokens, bool)
            or not isinstance(self.reflect_tokens, int)
            or self.reflect_tokens < MIN_TOKENS
        ):
            raise UserError(
                f"config field 'reflect_tokens' must be a whole number >= {MIN_TOKENS}, got {self.reflect_tokens!r}"
            )

    @property
    def proposer_spec(self) -> str:
        return self.proposer_model or self.model

    def apply_instruction(self, task: Any) -> Any:
        """The task with ``instruction`` as its human instruction when one was given (else unchanged)."""
        if self.instruction is None:
            return task
        import dataclasses

        return dataclasses.replace(task, instruction=self.instruction.strip())

    def dev_split(self, task: Any) -> tuple[Any, ...]:
        """The dev examples the search scores candidates on (the first ``dev_limit``, or all)."""
        dev = task.split("dev")
        return tuple(dev[: self.dev_limit] if self.dev_limit else dev)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["proposers"] = list(self.proposers)
        d["later_proposers"] = list(self.later_proposers)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "config") -> "OptimizeConfig":
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                from apeopt.registry import unknown

                raise UserError(unknown("field", key, sorted(known), where))
        kw = dict(data)
        for key in ("proposers", "later_proposers"):
            if key in kw:
                kw[key] = tuple(kw[key])
        return cls(**kw)
