"""Sentence generators built from templates: negation and sentiment.

negation: a short affirmative sentence -> the same sentence negated at its main verb.
Accepted answers list the full and the contracted forms ("does not" / "doesn't").
Shifted split: longer sentences (a modified subject plus time and place phrases).

sentiment: a one-sentence product or film review -> positive / negative. Shifted split:
three-sentence restaurant and hotel reviews with a neutral opening sentence.
"""

from __future__ import annotations

import random
from typing import Sequence

from apeopt.tasks.generators.common import Record, inflect_engine, unique

DEFAULT_N = 400
DEFAULT_SHIFT_N = 100

# ---------------------------------------------------------------- negation
SUBJECTS_SINGULAR = (
    "he",
    "she",
    "my brother",
    "my sister",
    "the teacher",
    "our neighbor",
    "my friend",
    "the doctor",
    "the farmer",
    "the boy",
    "the girl",
    "my uncle",
    "the pilot",
    "the manager",
)
SUBJECTS_PLURAL = (
    "they",
    "we",
    "you",
    "the children",
    "my parents",
    "the students",
    "our neighbors",
    "the players",
    "the workers",
    "my cousins",
    "the tourists",
    "I",
)
LONG_SUBJECTS_SINGULAR = (
    "the old farmer from the village",
    "my younger sister",
    "the new teacher at our school",
    "the manager of the small hotel",
    "the girl with the red umbrella",
    "the driver of the blue bus",
    "the tall man in the grey coat",
    "the doctor from the city hospital",
)
LONG_SUBJECTS_PLURAL = (
    "the children from the house on the corner",
    "my friends from college",
    "the workers at the old factory",
    "the tourists on the crowded bus",
    "my grandparents in the countryside",
    "the students in the back row",
)
# (base, third person singular, past, complement)
VERBS = (
    ("like", "likes", "liked", "chocolate"),
    ("play", "plays", "played", "the piano"),
    ("eat", "eats", "ate", "breakfast"),
    ("drink", "drinks", "drank", "coffee"),
    ("read", "reads", "read", "the newspaper"),
    ("watch", "watches", "watched", "television"),
    ("speak", "speaks", "spoke", "French"),
    ("live", "lives", "lived", "in the city"),
    ("work", "works", "worked", "at the bakery"),
    ("swim", "swims", "swam", "in the lake"),
    ("sing", "sings", "sang", "in the choir"),
    ("drive", "drives", "drove", "a red car"),
    ("own", "owns", "owned", "a bicycle"),
    ("know", "knows", "knew", "the answer"),
    ("want", "wants", "wanted", "a new phone"),
    ("need", "needs", "needed", "help"),
    ("enjoy", "enjoys", "enjoyed", "the movie"),
    ("visit", "visits", "visited", "the museum"),
    ("cook", "cooks", "cooked", "dinner"),
    ("wash", "washes", "washed", "the dishes"),
    ("write", "writes", "wrote", "letters"),
    ("study", "studies", "studied", "history"),
    ("understand", "understands", "understood", "the question"),
    ("remember", "remembers", "remembered", "the password"),
    ("trust", "trusts", "trusted", "the mechanic"),
    ("carry", "carries", "carried", "an umbrella"),
    ("go", "goes", "went", "to school"),
    ("have", "has", "had", "a dog"),
    ("fix", "fixes", "fixed", "the fence"),
    ("wear", "wears", "wore", "glasses"),
    ("grow", "grows", "grew", "tomatoes"),
    ("teach", "teaches", "taught", "math"),
    ("clean", "cleans", "cleaned", "the kitchen"),
    ("answer", "answers", "answered", "the phone"),
    ("feed", "feeds", "fed", "the cat"),
    ("buy", "buys", "bought", "fresh bread"),
)
ADJECTIVES = (
    "happy",
    "tired",
    "hungry",
    "ready",
    "angry",
    "busy",
    "late",
    "nervous",
    "sick",
    "at home",
    "afraid of dogs",
    "good at chess",
    "interested in art",
    "sure about the plan",
)
# modal -> its accepted negations (full form first)
MODALS = {
    "can": ("cannot", "can't", "can not"),
    "will": ("will not", "won't"),
    "should": ("should not", "shouldn't"),
    "could": ("could not", "couldn't"),
    "must": ("must not", "mustn't"),
}
TIME_PHRASES = (
    "every morning",
    "on Sundays",
    "after dinner",
    "during the summer holidays",
    "at the weekend",
    "before work",
    "in the evening",
    "twice a week",
)
PLACE_PHRASES = (
    "at the community center",
    "in the garden behind the house",
    "near the old bridge",
    "with a few friends",
    "at the end of the street",
    "in the small town by the river",
)
_BE_PRESENT = {"I": "am", "he": "is", "she": "is"}
_CONTRACTED_BE = {"is": "isn't", "are": "aren't", "was": "wasn't", "were": "weren't"}
_PRONOUN_BE = {"he": "he's", "she": "she's", "we": "we're", "you": "you're", "they": "they're", "I": "I'm"}


def _sentence(subject: str, rest: str) -> str:
    return f"{subject[0].upper()}{subject[1:]} {rest}."


def _negation_record(rng: random.Random, shift: bool) -> Record:
    singular = rng.random() < 0.5
    if shift:
        subject = rng.choice(LONG_SUBJECTS_SINGULAR if singular else LONG_SUBJECTS_PLURAL)
        tail = f" {rng.choice(TIME_PHRASES)}"
        if rng.random() < 0.6:
            tail += f" {rng.choice(PLACE_PHRASES)}"
    else:
        subject = rng.choice(SUBJECTS_SINGULAR if singular else SUBJECTS_PLURAL)
        tail = ""
    kind = rng.choice(("present", "past", "be", "be_past", "modal"))
    negs: Sequence[str]
    if kind in ("present", "past", "modal"):
        base, third, past, comp = rng.choice(VERBS)
        if kind == "present":
            verb, aux = (third, "does") if singular else (base, "do")
            negs = (f"{aux} not", f"{aux}n't")
        elif kind == "past":
            verb, negs = past, ("did not", "didn't")
        else:
            modal = rng.choice(sorted(MODALS))
            verb, negs = f"{modal} {base}", MODALS[modal]
        text = _sentence(subject, f"{verb} {comp}{tail}")
        targets = [_sentence(subject, f"{neg} {base} {comp}{tail}") for neg in negs]
    else:
        adj = rng.choice(ADJECTIVES)
        if kind == "be":
            be = _BE_PRESENT.get(subject, "is" if singular else "are")
        else:
            be = "was" if singular or subject == "I" else "were"
        text = _sentence(subject, f"{be} {adj}{tail}")
        negs = [f"{be} not"] + ([_CONTRACTED_BE[be]] if be in _CONTRACTED_BE else [])
        targets = [_sentence(subject, f"{neg} {adj}{tail}") for neg in negs]
        if kind == "be" and subject in _PRONOUN_BE:
            targets.append(_sentence(_PRONOUN_BE[subject], f"not {adj}{tail}"))
    return {"input": text, "target": targets}


def negation(rng: random.Random, n: int | None, shift: bool) -> list[Record]:
    count = n if n is not None else (DEFAULT_SHIFT_N if shift else DEFAULT_N)
    return unique(rng, lambda r: _negation_record(r, shift), count)


# ---------------------------------------------------------------- sentiment
ITEMS = (
    "movie",
    "film",
    "book",
    "album",
    "game",
    "show",
    "phone",
    "laptop",
    "camera",
    "blender",
    "jacket",
    "chair",
    "novel",
    "app",
    "soundtrack",
    "story",
    "ending",
    "plot",
    "screen",
    "keyboard",
    "backpack",
    "lamp",
    "series",
    "headset",
    "printer",
)
POSITIVE_ADJ = (
    "great",
    "excellent",
    "wonderful",
    "fantastic",
    "amazing",
    "brilliant",
    "superb",
    "delightful",
    "lovely",
    "outstanding",
    "perfect",
    "enjoyable",
    "impressive",
    "charming",
)
NEGATIVE_ADJ = (
    "terrible",
    "awful",
    "horrible",
    "boring",
    "disappointing",
    "poor",
    "dreadful",
    "bad",
    "useless",
    "annoying",
    "mediocre",
    "unpleasant",
    "frustrating",
    "pathetic",
)
POSITIVE_VERBS = ("loved", "enjoyed", "adored", "really liked")
NEGATIVE_VERBS = ("hated", "disliked", "could not stand", "was disappointed by")
SHORT_TEMPLATES = (
    "The {item} was {adj}.",
    "This {item} is {adj}.",
    "What {a_adj} {item}!",
    "I {verb} this {item}.",
    "The {item} was {adj} and {adj2}.",
    "Honestly, {a_adj} {item}.",
    "I think the {item} is {adj}.",
)
OPENINGS = {
    "restaurant": (
        "I had dinner here with my family last Friday.",
        "We came for lunch on a busy Saturday.",
        "My friends booked a table for a birthday.",
        "We tried this place after a long walk.",
    ),
    "hotel": (
        "We stayed at this hotel for three nights.",
        "I booked a room here for a work trip.",
        "We spent a weekend here in the spring.",
        "My parents stayed here last summer.",
    ),
}
BODY = {
    ("restaurant", "positive"): (
        "The food was delicious and fresh.",
        "The waiter was friendly and attentive.",
        "Every dish was cooked to perfection.",
        "The desserts were wonderful.",
        "The prices were fair for such great food.",
        "The staff made us feel very welcome.",
    ),
    ("restaurant", "negative"): (
        "The food arrived cold and bland.",
        "The waiter was rude and ignored us.",
        "We waited an hour for a terrible meal.",
        "The tables were dirty and sticky.",
        "The prices were outrageous for such poor food.",
        "The soup tasted awful.",
    ),
    ("hotel", "positive"): (
        "The room was spotless and comfortable.",
        "The staff were helpful and kind.",
        "The breakfast was excellent.",
        "The view from the balcony was beautiful.",
        "The bed was wonderfully comfortable.",
        "Check-in was quick and pleasant.",
    ),
    ("hotel", "negative"): (
        "The room was filthy and smelled bad.",
        "The staff were unhelpful and rude.",
        "The breakfast was awful.",
        "The walls were so thin that we could not sleep.",
        "The shower was broken the whole time.",
        "Check-in was slow and chaotic.",
    ),
}
CLOSINGS = {
    "positive": (
        "I would happily come back.",
        "Highly recommended.",
        "We loved it.",
        "It was a wonderful experience.",
    ),
    "negative": (
        "I will never return.",
        "Avoid this place.",
        "What a waste of money.",
        "It was a miserable experience.",
    ),
}


def _short_review(rng: random.Random, label: str) -> str:
    adjs = POSITIVE_ADJ if label == "positive" else NEGATIVE_ADJ
    verbs = POSITIVE_VERBS if label == "positive" else NEGATIVE_VERBS
    adj, adj2 = rng.sample(adjs, 2)
    text = rng.choice(SHORT_TEMPLATES).format(
        item=rng.choice(ITEMS), adj=adj, adj2=adj2, a_adj=inflect_engine().a(adj), verb=rng.choice(verbs)
    )
    return text[0].upper() + text[1:]


def _long_review(rng: random.Random, label: str) -> str:
    domain = rng.choice(sorted(OPENINGS))
    first, second = rng.sample(BODY[(domain, label)], 2)
    parts = [rng.choice(OPENINGS[domain]), first, second, rng.choice(CLOSINGS[label])]
    return " ".join(parts)


def sentiment(rng: random.Random, n: int | None, shift: bool) -> list[Record]:
    """Balanced positive/negative reviews in a seeded random order."""
    count = n if n is not None else (DEFAULT_SHIFT_N if shift else DEFAULT_N)
    make = _long_review if shift else _short_review
    out: list[Record] = []
    for label, k in (("positive", (count + 1) // 2), ("negative", count // 2)):

        def record(r: random.Random, label: str = label) -> Record:
            return {"input": make(r, label), "target": label}

        out += unique(rng, record, k)
    rng.shuffle(out)
    return out
