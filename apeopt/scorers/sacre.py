"""Sentence-level chrF and BLEU from sacrebleu, scaled to [0, 1]."""

from __future__ import annotations

from typing import Sequence

from apeopt.scorers.base import Scorer


class ChrF(Scorer):
    name = "chrf"

    def score(self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None) -> float:
        from sacrebleu.metrics import CHRF

        return CHRF().sentence_score(prediction.strip(), list(targets)).score / 100.0


class Bleu(Scorer):
    name = "bleu"

    def score(self, prediction: str, targets: Sequence[str], labels: Sequence[str] | None = None) -> float:
        from sacrebleu.metrics import BLEU

        return BLEU(effective_order=True).sentence_score(prediction.strip(), list(targets)).score / 100.0
