"""A deterministic rule-based LM for fast optimizer tests (no torch)."""

from __future__ import annotations

import re
import zlib
from typing import Callable, Sequence

from apeopt.models.base import (
    Completion,
    GenerateRequest,
    LMBackend,
    LogprobRequest,
    LogprobResult,
    Message,
    Usage,
    cut_at_stop,
)


def _text(prompt: object) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n".join(f"<{role}>{content}" for role, content in prompt)  # type: ignore[union-attr]


class FakeBackend(LMBackend):
    """Answers a query correctly iff the prompt contains ``keyword``; proposes instructions on meta-prompts.

    ``solve(x)`` gives the correct answer for input x. Proposal prompts get varied instructions, some
    containing the keyword, chosen deterministically from the request seed.
    """

    def __init__(self, solve: Callable[[str], str], keyword: str = "plural", spec: str = "fake") -> None:
        self.solve = solve
        self.keyword = keyword
        self.spec = spec
        self.usage = Usage()
        self.seen_prompts: list[str] = []

    def _answer(self, prompt: str) -> str:
        m = re.findall(r"Input: (.*)\n(?:Output|Answer):[^\n]*$", prompt)
        if not m:
            m = re.findall(r"Input: (.*)$", prompt)
        x = m[-1] if m else ""
        head = prompt.split("Input:")[0]
        if self.keyword in head.lower():
            return " " + self.solve(x)
        return " " + x  # echo: wrong for most tasks

    def _propose(self, seed: int, k: int) -> str:
        options = [
            f" write the {self.keyword} form of the word",
            " repeat the word",
            " say something nice",
            f" give the {self.keyword} of each input",
            " copy the input exactly",
        ]
        return options[(seed + k) % len(options)]

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Completion]:
        out = []
        for r in requests:
            text = _text(r.prompt)
            self.seen_prompts.append(text)
            texts = []
            for k in range(r.n):
                if "\nExpected answer: " in text:  # a reflection or merge prompt: a rule that names the keyword
                    raw = f" Answer with the {self.keyword} form of the input word only, one word" if k == 0 else self._propose(r.seed, k)
                elif text.startswith("Generate a variation"):
                    instr = re.findall(r"Input: (.*)", text)[0]
                    raw = f" Please {instr[0].lower()}{instr[1:]}" if k == 0 else f" Kindly {instr}"
                elif text.endswith(("Write the", "Each output is the")):  # a begun reply: the rest of the instruction
                    raw = " " + re.sub(r"^\s*(?:write|give) the\s*", "", self._propose(r.seed + zlib.crc32(text.encode()) % 97, k))
                elif "instruction" in text.lower() and "Input:" in text and "Output:" in text and not re.search(r"Output:[^\n]*$", text):
                    raw = self._propose(r.seed + zlib.crc32(text.encode()) % 97, k)
                else:
                    raw = self._answer(text)
                texts.append(cut_at_stop(raw, r.stop))
            out.append(Completion(tuple(texts), len(text) // 4, sum(len(t) // 4 + 1 for t in texts)))
        self.usage.add(calls=len(requests), prompt_tokens=sum(c.prompt_tokens for c in out), completion_tokens=sum(c.completion_tokens for c in out))
        return out

    def logprob(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        out = []
        for r in requests:
            text = _text(r.prompt)
            self.seen_prompts.append(text)
            right = self._answer(text).strip() == r.continuation.strip()
            out.append(LogprobResult((-0.1 if right else -2.0, -0.5)))
        self.usage.add(calls=len(requests), prompt_tokens=sum(len(_text(r.prompt)) // 4 for r in requests))
        return out

    def render_chat(self, messages: tuple[Message, ...]) -> str:
        return _text(messages)

    counts_tokens = True

    def count_tokens(self, prompt: object) -> int:
        """The fake's tokenizer: one token per whitespace-separated word or punctuation mark."""
        return count_words(_text(prompt))


def count_words(text: str) -> int:
    """Tokens of ``text`` by the fake LMs' tokenizer (words and single punctuation marks)."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def demo_inputs(prompt: str) -> list[str]:
    """The inputs of the demos in a completion prompt (every ``Input:`` line but the query's)."""
    return re.findall(r"Input: (.*)\nOutput: ", prompt)


class DemoFake(FakeBackend):
    """Answers correctly iff ``rule(demo inputs, query input, instruction head)`` holds: a fake LM on which
    the choice and number of demos, not the wording, decide the score."""

    def __init__(self, solve: Callable[[str], str], rule: Callable[[list[str], str, str], bool]) -> None:
        super().__init__(solve, keyword="\x00never\x00")
        self.rule = rule

    def _answer(self, prompt: str) -> str:
        m = re.findall(r"Input: (.*)\nOutput:[^\n]*$", prompt)
        x = m[-1] if m else ""
        head = prompt.split("Input:")[0]
        return " " + (self.solve(x) if self.rule(demo_inputs(prompt), x, head) else x)
