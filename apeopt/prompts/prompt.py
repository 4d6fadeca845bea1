"""A prompt configuration (instruction, template, demos, format, CoT, votes) and its rendering."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, Mapping

from apeopt.errors import UserError
from apeopt.models.base import Message, Prompt
from apeopt.prompts.retrieval import BM25Index, Retriever, retrieve

TEMPLATES = ("completion", "chat")
COT_ANSWER_TRIGGER = "Therefore, the answer is"


@dataclass(frozen=True)
class Demo:
    input: str
    output: str


@dataclass(frozen=True)
class PromptConfig:
    """Everything that turns an input into model requests; the exported best-prompt file holds one."""

    instruction: str
    template: str = "completion"
    demos: tuple[Demo, ...] = ()
    input_prefix: str = "Input:"
    answer_prefix: str = "Output:"
    cot: str = ""
    votes: int = 1
    vote_temperature: float = 0.7
    max_tokens: int = 32
    cot_max_tokens: int = 96
    stop: tuple[str, ...] = ("\n",)
    system: str = ""
    # Retrieved demos: with a retriever, each input gets its k nearest ``demo_pool`` entries
    # (``demos`` is then empty); the pool travels with the prompt, so its file reproduces anywhere.
    retriever: Retriever | None = None
    demo_pool: tuple[Demo, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.template not in TEMPLATES:
            raise UserError(f"prompt field 'template' must be one of {', '.join(TEMPLATES)}, got {self.template!r}")
        if self.votes < 1:
            raise UserError(f"prompt field 'votes' must be >= 1, got {self.votes}")
        if self.max_tokens < 1:
            raise UserError(f"prompt field 'max_tokens' must be >= 1, got {self.max_tokens}")
        if self.votes > 1 and self.vote_temperature <= 0:
            raise UserError(f"prompt field 'vote_temperature' must be > 0 when votes > 1, got {self.vote_temperature}")
        if self.retriever is not None and (self.demos or not self.demo_pool):
            raise UserError("prompt with a 'retriever' needs a non-empty 'demo_pool' and no fixed 'demos'")

    # ----- demos -------------------------------------------------------------------------
    @cached_property
    def _index(self) -> BM25Index:
        assert self.retriever is not None
        return BM25Index([d.input for d in self.demo_pool], self.retriever.k1, self.retriever.b)

    def demos_for(self, x: str) -> tuple[Demo, ...]:
        """The demos shown before input ``x``: the fixed ones, or those retrieved for ``x``."""
        if self.retriever is None:
            return self.demos
        return tuple(self.demo_pool[i] for i in retrieve(self._index, x, self.retriever))

    @property
    def retrieves(self) -> bool:
        return self.retriever is not None

    @property
    def demo_count(self) -> int:
        return self.retriever.k if self.retriever is not None else len(self.demos)

    # ----- rendering -------------------------------------------------------------------
    def render(self, x: str) -> Prompt:
        """The prompt that asks for the answer to ``x`` (before any CoT reasoning)."""
        if self.template == "chat":
            return self._chat(x)
        parts = [self.instruction.strip()] if self.instruction.strip() else []
        parts += [f"{self.input_prefix} {d.input}\n{self.answer_prefix} {d.output}" for d in self.demos_for(x)]
        query = f"{self.input_prefix} {x}\n{self.answer_prefix}"
        if self.cot:
            query += f" {self.cot}"
        parts.append(query)
        return "\n\n".join(parts)

    def _chat(self, x: str) -> tuple[Message, ...]:
        system = "\n\n".join(s for s in (self.system.strip(), self.instruction.strip()) if s)
        msgs: list[Message] = [("system", system)] if system else []
        for d in self.demos_for(x):
            msgs += [("user", f"{self.input_prefix} {d.input}"), ("assistant", d.output)]
        user = f"{self.input_prefix} {x}"
        if self.cot:
            user += f"\n{self.cot}"
        msgs.append(("user", user))
        return tuple(msgs)

    def continuation(self, target: str) -> str:
        """How a gold answer follows the rendered prompt (for likelihood scoring)."""
        return f" {target}" if self.template == "completion" else target

    def with_reasoning(self, prompt: Prompt, reasoning: str) -> Prompt:
        """Stage two of zero-shot CoT: the reasoning followed by the answer trigger."""
        if isinstance(prompt, str):
            return f"{prompt} {reasoning.strip()}\n{COT_ANSWER_TRIGGER}"
        return prompt + (("assistant", f"{reasoning.strip()}\n{COT_ANSWER_TRIGGER}"),)

    # ----- (de)serialization ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["demos"] = [{"input": x.input, "output": x.output} for x in self.demos]
        d["stop"] = list(self.stop)
        d["extra"] = dict(self.extra)
        d["retriever"] = self.retriever.to_dict() if self.retriever is not None else None
        d["demo_pool"] = [{"input": x.input, "output": x.output} for x in self.demo_pool]
        if self.retriever is None:  # files of fixed-demo prompts stay as they were
            del d["retriever"], d["demo_pool"]
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "prompt") -> "PromptConfig":
        if not isinstance(data, Mapping):
            raise UserError(f"{where}: expected an object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"{where}: unknown field {unknown[0]!r} (valid: {', '.join(sorted(known))})")
        if "instruction" not in data:
            raise UserError(f"{where}: missing field 'instruction'")
        kw = dict(data)
        for name in ("demos", "demo_pool"):
            try:
                kw[name] = tuple(Demo(str(d["input"]), str(d["output"])) for d in kw.get(name) or ())
            except (KeyError, TypeError):
                raise UserError(f"{where}: field {name!r} must be a list of {{input, output}} objects") from None
        if kw.get("retriever") is not None:
            kw["retriever"] = Retriever.from_dict(kw["retriever"], where=f"{where}: field 'retriever'")
        kw["stop"] = tuple(kw.get("stop", ("\n",)))
        return cls(**kw)
