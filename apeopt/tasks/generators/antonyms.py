"""Antonyms: word -> a word of opposite meaning.

Built from hand-written pairs used in both directions; every antonym listed for a word is
an accepted answer (e.g. big -> small / little). In distribution: input words of wordfreq
rank < 5000; shifted: rarer input words (ranks 5000-30000).
"""

from __future__ import annotations

import random

from apeopt.tasks.generators.common import Record, pick
from apeopt.tasks.generators.lexicon import COMMON, RARE, words_by_rank

PAIRS = """
    hot-cold big-small large-small big-little tall-short long-short old-new old-young
    young-old happy-sad good-bad good-evil fast-slow quick-slow high-low up-down in-out
    open-closed open-shut early-late light-dark light-heavy heavy-light hard-soft hard-easy
    difficult-easy rich-poor strong-weak wet-dry full-empty clean-dirty right-wrong
    right-left true-false alive-dead cheap-expensive thick-thin fat-thin wide-narrow
    deep-shallow loud-quiet noisy-quiet near-far close-far first-last top-bottom
    inside-outside above-below over-under before-after day-night black-white love-hate
    win-lose buy-sell give-take push-pull come-go arrive-leave enter-exit begin-end
    start-finish start-stop open-close ask-answer question-answer accept-refuse
    accept-reject remember-forget laugh-cry friend-enemy war-peace north-south east-west
    summer-winter sunrise-sunset male-female man-woman boy-girl king-queen husband-wife
    brother-sister father-mother son-daughter uncle-aunt always-never everything-nothing
    everyone-nobody all-none many-few more-less most-least maximum-minimum increase-decrease
    rise-fall raise-lower add-subtract plus-minus positive-negative success-failure
    succeed-fail pass-fail victory-defeat winner-loser profit-loss export-import
    input-output public-private internal-external include-exclude inner-outer entrance-exit
    arrival-departure import-export safe-dangerous safety-danger healthy-sick
    healthy-unhealthy happy-unhappy possible-impossible legal-illegal fair-unfair
    known-unknown visible-invisible common-rare usual-unusual normal-abnormal
    natural-artificial real-fake honest-dishonest polite-rude kind-cruel calm-angry
    brave-cowardly clever-stupid smart-stupid wise-foolish beautiful-ugly pretty-ugly
    sweet-sour sweet-bitter soft-loud present-absent present-past past-future ancient-modern
    modern-ancient rough-smooth sharp-dull bright-dark bright-dim straight-crooked
    straight-curved simple-complex simple-complicated single-married single-multiple
    single-double even-odd major-minor guilty-innocent punish-reward reward-punishment
    hero-villain lend-borrow teach-learn teacher-student employer-employee parent-child
    host-guest buyer-seller send-receive attack-defend offense-defense build-destroy
    create-destroy appear-disappear agree-disagree like-dislike allow-forbid permit-forbid
    admit-deny include-omit increase-reduce expand-shrink tighten-loosen tight-loose
    lock-unlock pack-unpack tie-untie dress-undress cover-uncover load-unload hide-show
    find-lose gain-lose save-spend earn-spend sink-float freeze-melt wake-sleep awake-asleep
    sit-stand walk-run whisper-shout catch-throw inhale-exhale rural-urban domestic-foreign
    local-global temporary-permanent optional-mandatory formal-informal active-passive
    active-inactive strict-lenient generous-stingy humble-proud careful-careless
    patient-impatient regular-irregular responsible-irresponsible mature-immature
    pleasant-unpleasant comfortable-uncomfortable lucky-unlucky friendly-hostile
    vertical-horizontal liquid-solid solid-hollow cause-effect interior-exterior
    minimum-maximum shallow-deep dense-sparse vague-clear obvious-subtle visible-hidden
    crowded-empty busy-idle busy-free free-busy asleep-awake rapid-slow ascend-descend
    advance-retreat expand-contract accelerate-decelerate acquire-lose abundant-scarce
    scarce-plentiful ancient-new ally-enemy amateur-professional artificial-natural
    benevolent-malevolent brief-lengthy compulsory-voluntary concave-convex conceal-reveal
    cowardly-brave drought-flood dusk-dawn expand-compress fragile-sturdy frugal-wasteful
    generous-selfish gradual-sudden hostile-friendly implicit-explicit inferior-superior
    lenient-strict literal-figurative loyal-disloyal maximize-minimize modest-arrogant
    opaque-transparent optimist-pessimist optimistic-pessimistic permanent-temporary
    reluctant-eager shrink-grow sober-drunk transparent-opaque verbose-concise vivid-dull
    wealthy-poor zenith-nadir ascent-descent affirm-deny synonym-antonym majority-minority
    innocent-guilty arrogant-humble ignorant-knowledgeable fertile-barren feeble-strong
    fierce-gentle gentle-rough humid-dry obedient-disobedient praise-criticize
    prosperity-poverty reckless-cautious shy-outgoing tame-wild timid-bold bold-timid
    triumph-defeat vacant-occupied wholesale-retail
""".split()


def antonym_table() -> dict[str, list[str]]:
    """Each word of a pair -> its accepted antonyms, in the order the pairs list them."""
    table: dict[str, list[str]] = {}
    for pair in PAIRS:
        a, b = pair.split("-")
        for word, other in ((a, b), (b, a)):
            answers = table.setdefault(word, [])
            if other not in answers:
                answers.append(other)
    return table


def antonyms(rng: random.Random, n: int | None, shift: bool) -> list[Record]:
    table = antonym_table()
    words = words_by_rank(list(table), RARE if shift else COMMON)
    return [{"input": w, "target": list(table[w])} for w in pick(rng, words, n)]
