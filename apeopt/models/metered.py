"""Counts logical LM usage (every request, cached or not) so budgets decide identically on reruns."""

from __future__ import annotations

from typing import Sequence

from apeopt.models.base import Completion, GenerateRequest, LogprobRequest, LogprobResult, Usage, WrappedBackend


class MeteredBackend(WrappedBackend):
    """Wraps a backend; ``usage`` counts every request and the tokens its results report.

    One call is one completion sampled or one log-prob scored: a request for ``n`` samples counts
    ``n`` calls, as an API bills ``n`` completions (and as DSPy's ``n=k`` reaches an engine as ``k``
    requests), so budgets and comparisons count the same work the same way.
    """

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Completion]:
        out = self.inner.generate(requests)
        self.usage.add(
            calls=sum(r.calls for r in requests),
            prompt_tokens=sum(c.prompt_tokens for c in out),
            completion_tokens=sum(c.completion_tokens for c in out),
        )
        return out

    def logprob(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        out = self.inner.logprob(requests)
        self.usage.add(
            calls=sum(r.calls for r in requests),
            prompt_tokens=sum(r.prompt_tokens for r in out),
            completion_tokens=sum(len(r.token_logprobs) for r in out),
        )
        return out

    @property
    def computed(self) -> Usage:
        """What the wrapped stack actually computed (the innermost counter), cache hits included."""
        return self.inner.usage
