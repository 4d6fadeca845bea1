"""Scorers: per-example scores and aggregates with n and a 95% interval."""

from __future__ import annotations

import importlib

from apeopt.errors import UserError
from apeopt.registry import Registry
from apeopt.scorers.base import FunctionScorer, Scorer
from apeopt.scorers.stats import Aggregate, aggregate, paired_bootstrap

SCORERS: Registry[type[Scorer]] = Registry("scorer")
SCORERS.add("exact_match", "apeopt.scorers.text:ExactMatch")
SCORERS.add("contains", "apeopt.scorers.text:Contains")
SCORERS.add("token_f1", "apeopt.scorers.text:TokenF1")
SCORERS.add("label_accuracy", "apeopt.scorers.text:LabelAccuracy")
SCORERS.add("numeric_match", "apeopt.scorers.text:NumericMatch")
SCORERS.add("chrf", "apeopt.scorers.sacre:ChrF")
SCORERS.add("bleu", "apeopt.scorers.sacre:Bleu")
SCORERS.add("likelihood", "apeopt.scorers.likelihood:Likelihood")


def get_scorer(name: str) -> Scorer:
    """A registered scorer by name, or a user scorer given as ``module:function``."""
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise UserError(f"cannot load user scorer {name!r}: {exc}") from None
        if not callable(fn):
            raise UserError(f"user scorer {name!r} is not callable")
        return FunctionScorer(name, fn)
    return SCORERS.get(name)()


__all__ = ["SCORERS", "Aggregate", "Scorer", "aggregate", "get_scorer", "paired_bootstrap"]
