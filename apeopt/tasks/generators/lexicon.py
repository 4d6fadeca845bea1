"""Hand-checked English word lists for the built-in word tasks.

The lists only say what a word *is* (a countable noun, a verb and its past tense); how
common a word is comes from ``wordfreq`` at load time (see :func:`words_by_rank`), so the
in-distribution splits use common words and the shifted test splits use rarer ones.
Irregular forms and accepted alternatives were checked against inflect and lemminflect.
"""

from __future__ import annotations

from functools import lru_cache

MAX_RANK = 30000  # ranks looked up in wordfreq's English list
COMMON = (0, 5000)  # wordfreq rank range of "common" words
COMMON_LETTERS = (0, 3000)  # common words for the letter tasks
RARE = (5000, MAX_RANK)  # the shifted (rarer) words

NOUNS = """
    academy accident activity actor actress address adult affair agency agent airline
    airport alarm album alley ambassador analysis angel animal ankle anniversary answer
    antenna apartment apex appendix apple application appointment apron area argument arm
    army arrow article artist ashtray assistant association athlete attic attitude attorney
    audience aunt author avenue award axis baby bag baker balcony ball balloon banana band
    bandage bank bar barn barrel basket bath bathroom battery battle beach bean bear beard
    beast bed bedroom bee beetle belief bell belt bench berry bike bill bird biscuit bishop
    bison blade blanket blender block blossom boat body bomb bone bonus book boot border
    boss bottle bowl boy boyfriend bracelet brain branch breakfast brick bride bridge
    brochure broom brother brush bubble bucket buddy budget buffalo buffet bug building bull
    bullet bunny burger bus bush butterfly button cab cabin cabinet cable cactus cage cake
    calendar calf camel camera camp campus canal candle candy cannon canvas cap captain car
    card carpet carrot cart cartoon castle cat category cave ceiling celebration celebrity
    cell cemetery century ceremony chain chair chairman chamber champion championship
    channel chapel chapter character charity chart cheek chef cherry chest chicken chief
    child chimney chin chip church circle citizen city class classroom clerk client cliff
    clock closet cloud clown club coach coalition coast coat coconut coin collar collection
    college column comb combination comedy comet commander commissioner committee community
    company comparison competition component computer concept concert conference connection
    contest context convention conversation cook cookie cord corner corporation corpus
    costume cottage couch counter country court cousin cover cow crab crane crayon creature
    creek crisis criterion crowd crown crystal cube cup curriculum cushion customer dance
    dancer daughter day decade decision deer definition degree delivery dentist department
    deputy description desk destination device diagnosis diamond diary dictionary dinner
    dinosaur director discovery discussion disease dish district division doctor dog doll
    dollar dolphin domino donkey door dot dragon dragonfly drama drawer dream dress drink
    driver drum duck duke duty dwarf eagle ear echo editor egg elbow election element
    elephant elevator elf emergency emperor employee employer enemy engine entry envelope
    episode era eraser error escalator essay event exam example exhibition explosion
    expression eye face facility factory failure fairy family fan farm farmer father feather
    fence fern ferry festival fever field fighter film finger fire fireman fish flag
    flashlight flight floor flute fly folder foot forest fork formula fort foundation
    fountain fox frame freezer fridge friend frog fruit funeral fungus galaxy gallery game
    garage garden gate gene generation genus ghost giant gift giraffe girl girlfriend
    glacier glass globe glove goal goat goose governor grape guard guardian guest guitar gun
    habit half hall halo hammer hamster hand handle harbor hat head heart hedge helmet hen
    hero highway hill hip hobby hole holiday home hoof hook horn horse hospital hotel hour
    house hunter hut hypothesis iceberg idea index injury insect inspector institution
    introduction investigation invoice island item jacket jar jeep jewel job joke journal
    journalist judge kangaroo kettle key kid king kingdom kitchen kitten knee knife knight
    laboratory ladder lady lake lamb lamp lane lantern laptop larva law lawyer leader leaf
    leg legend lemon leopard lesson letter library lieutenant life light line lion lip list
    lizard loaf lobster location lock locker log lunch machine magazine man mango map market
    mask match matrix mattress mayor meal medal meeting melon member memory menu message
    method microwave mile minute mirror mission mitten moment monkey monster month moon
    moose mosquito moth mother motor mountain mouse mouth movie muscle museum mystery nail
    name napkin neck necklace needle neighborhood nephew newspaper niece night noodle nose
    note novel nucleus nun nurse nut oasis ocean octopus office officer onion operator
    opinion opportunity orange organization oven owl owner ox page painting pair palace palm
    pan panda panther paper parent park parrot party passenger path pea peach peanut pear
    pebble pen penalty pencil penguin pepper perfume person pet phenomenon phone photo
    photographer piano picture pie pig pigeon pillow pilot pipe pirate pitcher pizza plane
    planet plant plate platform player plum pocket poem poet policeman pony pool portrait
    possibility poster pot potato presentation priest prince princess prison prize problem
    procedure producer professor proposal province pump pumpkin puppet puppy purse puzzle
    pyramid queen question rabbit raccoon racket radio radius railway rainbow rat razor
    reaction receipt recipe region regulation reindeer religion reporter republic residence
    restaurant ribbon riddle ring river road robot rock rocket roof room rope rose rug
    saddle sailor salad salesman sandal sandwich saucer sausage scarf school scientist
    scooter scout screen sea seat secretary senator server session shadow shark sheep shelf
    shell shepherd ship shirt shoe shop shoulder shovel shower shrimp sign signature singer
    sink sister skeleton skier skirt skull sled sleeve slipper snail snake sock sofa soldier
    solution son song sparrow spear spider sponge spoon sport squid squirrel stadium stamp
    stapler star statement station statue stick stimulus stone stool store storm story stove
    strategy strawberry street student studio submarine suitcase summit sun surfer swan
    sweater swing sword syllabus symbol synopsis syringe system table tablet tail tale tank
    taxi teacher team teapot technique telescope temple tent territory theater theme theory
    therapy thesis thief thing threat throat thumb ticket tie tiger toaster toe toilet
    tomato tongue tool tooth torch tornado torpedo tournament towel tower town toy tractor
    tradition trail train tray treaty tree trick trip trophy truck trumpet tube tulip tunnel
    turkey turtle typewriter umbrella uncle unit universe university user valley vase
    vehicle venue vessel victim victory video village violin visitor voice volcano vortex
    waiter waitress wall wallet walnut wardrobe warrior wasp watch wave weapon week whale
    wharf wheel whistle wife wig windmill window wing winner witch wizard wolf woman word
    worker world worm wound wrist writer yacht yard year zebra zoo
""".split()

REGULAR_VERBS = """
    accept achieve act add admire admit adopt advise afford agree aim allow alter announce
    annoy apologize appear applaud apply appreciate approve argue arrange arrest arrive ask
    assist assume attach attack attempt attend avoid bake balance ban bang bathe battle beg
    behave belong blame blink boil boost borrow bounce brake breathe browse bump bury
    calculate call calm cancel capture care carry carve cause celebrate change charge chase
    cheat check cheer chew choke chop claim clap clarify clean clear climb close collect
    comb combine command commit communicate compare compete compile complain complete
    complicate compose concentrate conclude conduct confess confirm confront confuse connect
    consider consult consume contact contain continue contribute control convert convince
    cooperate coordinate copy correct cough count crack crash crawl create criticize cross
    crush cry cure damage dance dare debate decide declare decorate define delay delete
    delight deliver demand deny depend describe deserve design destroy detect determine
    develop differ direct disagree disappear discover discuss dislike display divide
    dominate donate doubt download drag drain drip drop drown dry earn edit educate elect
    eliminate embarrass emerge employ empty enable encourage end enjoy ensure enter
    entertain escape establish estimate evaluate evolve examine exceed exchange excite
    excuse execute exist expand expect explain explode expose express extend fade fail
    fasten fear fetch fill finish fire fix float flood flow focus fold follow fool force
    frighten fry gather gaze generate glow govern grab graduate grant greet grin grip
    guarantee guess guide handle happen harm hate haunt heal heat help hire hop hope hover
    hug hum hunt hurry identify ignore illustrate imagine implement imply impress improve
    include increase indicate influence inform inject injure inspire install instruct insure
    integrate intend interfere interrupt introduce invent invest investigate invite involve
    irritate isolate itch jog join joke judge juggle jump kick kidnap kill kiss knock land
    laugh launch lick lighten like limit listen live locate lock look love maintain manage
    manufacture march marry maximize measure melt memorize mend mention miss mix moan
    monitor mourn move multiply murder need negotiate nod nominate notice obey observe
    obtain occur offend offer open operate organize overflow owe own pack paddle paint
    participate pass paste pat pause peck peel perform permit persuade pick pinch place plan
    play please pledge plug point poke polish pop possess pour practice pray preach precede
    predict prefer prepare preserve press pretend prevent preview prick print proceed
    produce program promise promote propose protect prove provide publish pull punch
    puncture punish purchase pursue push qualify quote radiate rain raise reach react
    realize recall receive recognize recommend recover recruit reduce refer reflect refuse
    register regret regulate reign reject rejoice relate relax release rely remain remember
    remind remove repair repeat replace reply report represent reproduce request require
    rescue resign resolve respond restore retain retire return reveal revise reward rinse
    risk rob roll rot rub ruin rush sail satisfy save scare scatter scold scorch scrape
    scratch scream scribble scrub search select separate serve settle share shave shiver
    shock shop shrug sigh sip skip slap slip slow smash smile smoke snatch sneeze sniff
    snore snow soak soothe spare spark sparkle specify spray sprout squash squeak squeal
    squeeze stare start stay steer step stir stitch stop strengthen stretch strip struggle
    submit subtract succeed suck suffer suggest summarize supervise supply support suppose
    surprise surround survive suspect suspend sustain switch talk tame tap taste tease tempt
    tend terrify test thank thaw tickle tie tire touch tow trace transfer transform
    translate travel treat tremble trot trouble trust try tug tumble turn twist undress
    unfasten unite unlock unpack update upgrade upload urge use vanish vary verify visit
    vote wail wait walk wander want warm warn wash waste watch wave weigh welcome whine whip
    whirl whisper whistle wink wipe wish wobble wonder work worry worship wrap wreck wrestle
    wriggle yawn yell zoom
""".split()

IRREGULAR_PAST_TEXT = """
    arise:arose awake:awoke bear:bore beat:beat become:became begin:began behold:beheld
    bend:bent bind:bound bite:bit bleed:bled bless:blessed/blest blow:blew break:broke
    breed:bred bring:brought broadcast:broadcast/broadcasted build:built burn:burned/burnt
    burst:burst buy:bought cast:cast catch:caught choose:chose cling:clung come:came
    cost:cost/costed creep:crept cut:cut deal:dealt dig:dug dive:dove/dived do:did draw:drew
    dream:dreamed/dreamt drink:drank drive:drove dwell:dwelt/dwelled eat:ate fall:fell
    feed:fed feel:felt fight:fought find:found fit:fit/fitted flee:fled fling:flung fly:flew
    forbid:forbade/forbad forecast:forecast/forecasted foresee:foresaw forget:forgot
    forgive:forgave forsake:forsook freeze:froze get:got give:gave go:went grind:ground
    grow:grew hang:hung/hanged have:had hear:heard hide:hid hit:hit hold:held hurt:hurt
    keep:kept kneel:knelt/kneeled knit:knitted/knit know:knew lay:laid lead:led
    lean:leaned/leant leap:leaped/leapt learn:learned/learnt leave:left lend:lent let:let
    light:lit/lighted lose:lost make:made mean:meant meet:met mislead:misled mistake:mistook
    overcome:overcame overhear:overheard oversee:oversaw overtake:overtook
    overthrow:overthrew pay:paid put:put quit:quit/quitted read:read rebuild:rebuilt
    rethink:rethought rewrite:rewrote rid:rid/ridded ride:rode ring:rang rise:rose run:ran
    say:said see:saw seek:sought sell:sold send:sent set:set sew:sewed shake:shook shed:shed
    shine:shone/shined shoot:shot show:showed shrink:shrank/shrunk shut:shut sing:sang
    sink:sank/sunk sit:sat slay:slew/slayed sleep:slept slide:slid sling:slung slink:slunk
    smell:smelled/smelt smite:smote speak:spoke speed:sped/speeded spell:spelled/spelt
    spend:spent spill:spilled/spilt spin:spun spit:spat/spit split:split
    spoil:spoiled/spoilt spread:spread spring:sprang/sprung stand:stood steal:stole
    stick:stuck sting:stung stink:stank/stunk stride:strode strike:struck string:strung
    strive:strove/strived swear:swore sweep:swept swim:swam swing:swung take:took
    teach:taught tell:told think:thought thrive:thrived/throve throw:threw thrust:thrust
    tread:trod undergo:underwent understand:understood undertake:undertook undo:undid
    uphold:upheld upset:upset wake:woke/waked wear:wore weave:wove/weaved weep:wept win:won
    withdraw:withdrew withhold:withheld withstand:withstood wring:wrung write:wrote
"""

# Nouns whose plural has more than one accepted form, or where inflect is wrong
# (canonical form first).
PLURAL_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "thief": ("thieves",),
    "person": ("people", "persons"),
    "fish": ("fish", "fishes"),
    "deer": ("deer",),
    "sheep": ("sheep",),
    "moose": ("moose",),
    "bison": ("bison", "bisons"),
    "shrimp": ("shrimp", "shrimps"),
    "squid": ("squid", "squids"),
    "reindeer": ("reindeer", "reindeers"),
    "scarf": ("scarves", "scarfs"),
    "dwarf": ("dwarfs", "dwarves"),
    "hoof": ("hooves", "hoofs"),
    "wharf": ("wharves", "wharfs"),
    "cactus": ("cacti", "cactuses"),
    "fungus": ("fungi", "funguses"),
    "nucleus": ("nuclei",),
    "stimulus": ("stimuli",),
    "radius": ("radii", "radiuses"),
    "syllabus": ("syllabi", "syllabuses"),
    "curriculum": ("curricula", "curriculums"),
    "larva": ("larvae",),
    "antenna": ("antennas", "antennae"),
    "formula": ("formulas", "formulae"),
    "index": ("indexes", "indices"),
    "appendix": ("appendices", "appendixes"),
    "matrix": ("matrices",),
    "vortex": ("vortices", "vortexes"),
    "octopus": ("octopuses", "octopi"),
    "apex": ("apexes", "apices"),
    "corpus": ("corpora", "corpuses"),
    "genus": ("genera",),
    "ox": ("oxen",),
    "tornado": ("tornadoes", "tornados"),
    "torpedo": ("torpedoes",),
    "buffalo": ("buffaloes", "buffalos", "buffalo"),
    "domino": ("dominoes",),
    "halo": ("halos", "haloes"),
    "mango": ("mangoes", "mangos"),
    "mosquito": ("mosquitoes", "mosquitos"),
    "volcano": ("volcanoes", "volcanos"),
    "cannon": ("cannons", "cannon"),
    "bus": ("buses", "busses"),
}

IRREGULAR_PAST: dict[str, tuple[str, ...]] = {
    base: tuple(forms.split("/")) for base, _, forms in (item.partition(":") for item in IRREGULAR_PAST_TEXT.split())
}

_VOWELS = frozenset("aeiou")
# Verbs of two or more syllables stressed on the last one: the final consonant doubles.
_DOUBLE_FINAL = frozenset(
    "admit commit compel control occur omit patrol permit prefer refer regret submit "
    "transfer equip expel incur propel rebel recur confer defer deter excel acquit".split()
)
# American single -l first, British double -l accepted (traveled, travelled).
_BRITISH_L = frozenset(
    "cancel travel label model signal fuel level quarrel marvel channel dial total equal "
    "pedal tunnel shovel funnel rival counsel duel grovel revel barrel panel parcel".split()
)
# Both spellings in use; the first is the more common one.
_BOTH_SPELLINGS = {
    "program": ("programmed", "programed"),
    "kidnap": ("kidnapped", "kidnaped"),
    "worship": ("worshipped", "worshiped"),
    "focus": ("focused", "focussed"),
}


def _vowel_groups(word: str) -> int:
    groups, prev = 0, False
    for ch in word:
        is_vowel = ch in _VOWELS
        groups += is_vowel and not prev
        prev = is_vowel
    return groups


def regular_past(verb: str) -> tuple[str, ...]:
    """Accepted past-tense spellings of a regular verb (canonical first)."""
    v = verb
    if v in _BOTH_SPELLINGS:
        return _BOTH_SPELLINGS[v]
    if v.endswith("e"):
        return (v + "d",)
    if v.endswith("c") and v[-2] in _VOWELS:
        return (v + "ked",)  # panic -> panicked
    if v.endswith("y"):
        return (v + "ed",) if v[-2] in _VOWELS else (v[:-1] + "ied",)
    if v in _DOUBLE_FINAL:
        return (v + v[-1] + "ed",)
    if v in _BRITISH_L:
        return (v + "ed", v + "led")
    cvc = (
        len(v) >= 3
        and v[-1] not in _VOWELS
        and v[-1] not in "wxy"
        and v[-2] in _VOWELS
        and (v[-3] not in _VOWELS or v[-4:-2] == "qu")
    )
    if cvc and _vowel_groups(v.replace("qu", "q")) == 1:
        return (v + v[-1] + "ed",)  # stop -> stopped, quiz -> quizzed
    return (v + "ed",)


def past_tense(verb: str) -> tuple[str, ...]:
    """Accepted past-tense forms of ``verb`` (canonical first)."""
    return IRREGULAR_PAST.get(verb) or regular_past(verb)


@lru_cache(maxsize=1)
def word_ranks() -> dict[str, int]:
    """wordfreq rank (0 = most frequent) of the MAX_RANK most frequent English words."""
    from wordfreq import top_n_list

    return {w: i for i, w in enumerate(top_n_list("en", MAX_RANK))}


def words_by_rank(
    words: "list[str] | tuple[str, ...] | set[str]",
    rank_range: tuple[int, int],
    min_len: int = 1,
) -> list[str]:
    """The words whose wordfreq rank is in ``[lo, hi)``, most frequent first."""
    lo, hi = rank_range
    ranks = word_ranks()
    found = {w for w in words if lo <= ranks.get(w, MAX_RANK) < hi and len(w) >= min_len}
    return sorted(found, key=lambda w: (ranks[w], w))
