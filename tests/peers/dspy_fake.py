"""A rule-based fake LM that also speaks DSPy's ChatAdapter format (no torch).

Chat prompts whose system message describes DSPy fields are answered field by field: ``output``
is correct iff the instruction mentions the keyword; inputs listed in ``malformed`` get a bare
answer without field markers (a format failure); fields naming an instruction get proposals
(some with the keyword) chosen by the request seed; other fields get filler text. Everything
else goes to :class:`fakes.FakeBackend`.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

from fakes import FakeBackend, _text

from apeopt.models.base import Completion, GenerateRequest, cut_at_stop

OUTPUT_FIELDS = re.compile(r"Your output fields are:\n(.*?)\n(?:All interactions|Your objective)", re.S)
FIELD_NAME = re.compile(r"`(\w+)`")
INPUT = re.compile(r"\[\[ ## input ## \]\]\n(.*?)\n", re.S)


class DSPyFakeBackend(FakeBackend):
    def __init__(self, solve: Callable[[str], str], keyword: str = "plural", malformed: Sequence[str] = ()) -> None:
        super().__init__(solve, keyword)
        self.malformed = set(malformed)
        self.dspy_requests = 0

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Completion]:
        dspy_reqs = [isinstance(r.prompt, tuple) and "[[ ## " in r.prompt[0][1] for r in requests]
        rest = iter(super().generate([r for r, d in zip(requests, dspy_reqs) if not d]))
        out = []
        for r, is_dspy in zip(requests, dspy_reqs):
            if not is_dspy:
                out.append(next(rest))
                continue
            self.dspy_requests += 1
            self.seen_prompts.append(_text(r.prompt))
            text = self._dspy(r)
            text = cut_at_stop(text, r.stop)
            out.append(Completion((text,), sum(len(c) for _, c in r.prompt) // 4, len(text) // 4 + 1))  # type: ignore[union-attr]
        self.usage.add(calls=sum(dspy_reqs))
        return out

    def _dspy(self, r: GenerateRequest) -> str:
        system = r.prompt[0][1]  # type: ignore[index]
        last_user = r.prompt[-1][1]  # type: ignore[index]
        m = OUTPUT_FIELDS.search(system)
        names = FIELD_NAME.findall(m.group(1)) if m else ["output"]
        parts = []
        for name in names:
            parts.append(f"[[ ## {name} ## ]]\n{self._value(name, system, last_user, r.seed)}")
        if names == ["output"]:
            found = INPUT.search(last_user + "\n")
            if found and found.group(1) in self.malformed:
                return self._value("output", system, last_user, r.seed)  # no markers: a format failure
        return "\n\n".join(parts) + "\n\n[[ ## completed ## ]]"

    def _value(self, name: str, system: str, user: str, seed: int) -> str:
        if name == "output":
            found = INPUT.search(user + "\n")
            x = found.group(1) if found else ""
            objective = system.split("your objective is:")[-1].lower()
            return self.solve(x) if self.keyword in objective else x
        if "instruction" in name:
            options = [f"Write the {self.keyword} form of the input.", "Repeat the input.", "Be nice.",
                       f"Give the {self.keyword} of the word."]
            return options[seed % len(options)]
        if "prefix" in name:
            return "Output:"
        return "A list of words."
