"""The selection rule: credible paired gain, the multiple-comparison correction, which leaders contend."""

from __future__ import annotations

import pytest

from apeopt.optimizer.selection.rule import contends, paired_gain


def test_paired_gain_rule():
    inc = [0.0] * 30
    assert not paired_gain([1.0] + [0.0] * 29, inc).credible  # one item is noise
    assert paired_gain([1.0] * 10 + [0.0] * 20, inc).credible
    assert not paired_gain(inc, inc).credible
    mixed = [1.0, 0.0] * 15
    assert not paired_gain([0.0, 1.0] * 15, mixed).credible  # same mean, other items


def test_contends_finishes_leaders_and_near_ties_only_where_asked():
    ref = [1.0] * 22 + [0.0] * 8  # 0.73 on its first 30 items
    near_tie = [1.0] * 21 + [0.0] * 9  # 0.70 on the same 30: behind, but within noise
    far_behind = [0.0] * 30
    ahead = [1.0] * 25 + [0.0] * 5
    assert contends(ahead, ref)
    assert not contends(near_tie, ref)  # later phases: only what is ahead is finished
    assert contends(near_tie, ref, near=True)  # the ladder: a near-tie is finished too
    assert not contends(far_behind, ref, near=True)
    assert not contends([], ref, near=True)


def test_selection_is_corrected_for_the_candidates_compared():
    from apeopt.optimizer.selection.rule import corrected_confidence

    assert corrected_confidence(1) == 0.95 and corrected_confidence(25) == pytest.approx(0.998)
    inc = [0.0] * 12 + [1.0] * 5 + [0.0] * 83
    lucky = [1.0] * 12 + [0.0] * 5 + [0.0] * 83  # wins 12 items, loses 5: +0.07, credible alone, not as the best of 25
    assert paired_gain(lucky, inc).credible
    assert not paired_gain(lucky, inc, confidence=corrected_confidence(25)).credible
    strong = [1.0] * 30 + [0.0] * 70
    assert paired_gain(strong, inc, confidence=corrected_confidence(25)).credible
