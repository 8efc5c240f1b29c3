"""The type of a memory written without one: deterministic, offline, in microseconds.

MEMANTO classifies an untyped memory before storing it, so its clients omit `type` and
expect a sensible one back. This does the same by cue words: the text's words are read
once, left to right, and at each position the longest known phrase (up to four words)
counts for its type with its weight. The type with the strongest single cue wins (a
decisive "remind me to" outweighs several topical words), then the larger sum, then a
fixed priority. When no cue is found, each longer word is matched against the cue words
with rapidfuzz, so "perfers" or "desicion" still count; with nothing at all, a memory is a
fact.

It runs in the door's hot path: a dict lookup per word and phrase, no regex over the
whole cue list (tests/shared/memory/test_classify.py measures it).
"""

from __future__ import annotations

import re
from typing import Final

from rapidfuzz import fuzz, process

from memanto_redis.shared.memory.rules import MEMORY_TYPES

DEFAULT: Final = "fact"
# Below this, a lone cue is too weak to call the type (it stays a fact).
MIN_WEIGHT: Final = 3
# The fuzzy fallback: only words this long, only this close (rapidfuzz's 0-100 ratio).
FUZZY_MIN_LEN: Final = 6
FUZZY_CUTOFF: Final = 85.0
MAX_PHRASE: Final = 4
# A memory's kind shows in its opening; reading only this much bounds the cost of a long
# one (10,000 characters would take ~1 ms, beside ~10 us for a sentence).
MAX_CHARS: Final = 2000
# The fuzzy fallback looks at this many distinct long words at most (~5 us each).
FUZZY_MAX_WORDS: Final = 12

# Cue phrases by type: (weight, "phrase | phrase | ..."), lower-case, words as tokenised
# below ("don't" is one word). Weights: 6 decisive, 5 strong, 4 telling, 3 a hint.
CUES: Final[dict[str, tuple[tuple[int, str], ...]]] = {
    "preference": (
        (6, "prefer | prefers | preferred | preferring | preference | preferences | favorite"
            " | favourite | favorites | favourites | dislike | dislikes | disliked | hate"
            " | hates | can't stand | cannot stand | not a fan | would rather | 'd rather"
            " | rather than | fond of | doesn't like | does not like | don't like | do not like"
            " | didn't like | no longer likes | allergic to"),
        (5, "i like | i love | we like | we love | user likes | user loves | he likes"
            " | she likes | they like | likes to | loves to | enjoys | enjoy | enjoyed"
            " | is a fan of | big fan of | go-to"),
        (4, "likes | loves | more comfortable with | works best for"),
    ),
    "instruction": (
        (6, "must | must not | mustn't | must always | make sure | be sure to | remember to"
            " | from now on | never ever | do not ever"),
        (5, "always | never | should | shouldn't | should not | ensure | required | mandatory"
            " | do not | don't | please | by default | is required to | only use"),
        (4, "avoid | rule | guideline | guidelines | policy | instructions | instruction"),
    ),
    "decision": (
        (6, "decided | decide | decision | decisions | chose | chosen | opted | opted for"
            " | settled on | went with | going with | signed off | agreed to | agreed on"
            " | agreed that | will use | picked | selected | approved | rejected"
            " | standardized on | standardised on | switched to | migrate to"),
        (4, "agreed | accepted | concluded | final call | ruled out"),
    ),
    "goal": (
        (6, "goal | goals | objective | objectives | aim is | aims to | milestone | okr | okrs"
            " | north star | ambition | aspires to | wants to achieve | target is"),
        (5, "want to | wants to | hope to | hopes to | trying to | plans to | plan to"
            " | working toward | working towards | intend to | intends to | aiming for"
            " | aiming to | would like to | dream is"),
        (3, "achieve | increase | reduce | improve | grow | target"),
    ),
    "commitment": (
        (6, "promised | promise to | committed to | commit to | todo | to-do | action item"
            " | action items | follow up | follow-up | remind me | deadline | due by"
            " | due on | is due | by tomorrow | by eod | by end of | i will | we will"
            " | i'll | we'll | will send | will get back"),
        (5, "i need to | we need to | i have to | we have to | has to | needs to | owes"
            " | owe | assigned to | responsible for | on the hook | scheduled to"),
    ),
    "event": (
        (6, "meeting | met with | met | standup | stand-up | demo | workshop | interview"
            " | conference | webinar | launched | released | deployed | shipped"
            " | happened | occurred | attended | visited | celebrated | took place"
            " | call with | kickoff | kick-off | offsite | retro"),
        (4, "yesterday | today | last week | last night | last month | last year"
            " | this morning | this afternoon | earlier today | on monday | on tuesday"
            " | on wednesday | on thursday | on friday | on saturday | on sunday"),
        (3, "discussed | talked | mentioned | announced | presented"),
    ),
    "learning": (
        (6, "learned | learnt | lesson | lessons | takeaway | takeaways | discovered"
            " | realized | realised | found out | figured out | turns out | turned out"
            " | insight | insights | root cause | til | in hindsight | in retrospect"),
        (4, "understood | next time | what worked | lesson learned"),
    ),
    "error": (
        (6, "error | errors | exception | exceptions | traceback | stack trace | crash"
            " | crashed | crashes | crashing | bug | bugs | failed | fails | failure"
            " | failures | failing | outage | outages | incident | segfault | regression"
            " | timed out | timeout | timeouts | broke | broken | 500s"),
        (5, "doesn't work | does not work | not working | stopped working | returns 500"),
        (3, "issue | issues | problem | problems | wrong | incorrect | blocked by"),
    ),
    "relationship": (
        (6, "manager | boss | reports to | works with | colleague | colleagues | coworker"
            " | co-worker | teammate | teammates | mentor | mentee | wife | husband"
            " | girlfriend | boyfriend | spouse | sister | brother | mother | father | mom"
            " | dad | son | daughter | cousin | friend | friends | married to"
            " | cofounder | co-founder | collaborates with | is the lead"),
        (4, "team | client | customer | stakeholder | vendor | partner | contact for"),
    ),
    "context": (
        (6, "currently | right now | at the moment | for now | in progress | working on"
            " | context | background | ongoing | status is | at present"),
        (4, "pending | blocked | waiting on | waiting for | this sprint | this project"
            " | the project | environment | setup | stack is"),
    ),
    "observation": (
        (6, "noticed | observed | seems | seem | seemed | appears | appeared | looks like"
            " | tends to | tend to | usually | often | frequently | rarely | sometimes"
            " | typically | pattern | trend | recurring | repeatedly | keeps"),
    ),
    "artifact": (
        (6, "file | files | document | documents | doc | docs | report | spreadsheet"
            " | slide | slides | deck | repository | repo | pull request | attachment"
            " | diagram | screenshot | notebook | dashboard | readme | wiki | template"
            " | spec | design doc | mockup"),
        (4, "created | generated | exported | uploaded | saved | link"),
    ),
    "fact": (
        (4, "is called | is named | is located | is based in | lives in | was born"
            " | born in | works at | works as | version | port | api key | endpoint"
            " | capital of | consists of | written in | located in | runs on"
            " | depends on | stands for | is made of | email is | phone number"),
        (2, "uses | contains | supports | has"),
    ),
}
# Ties go to the more specific, more actionable type.
PRIORITY: Final = ("error", "decision", "commitment", "instruction", "preference", "goal",
                   "learning", "event", "relationship", "artifact", "observation",
                   "context", "fact")
_RANK: Final = {t: i for i, t in enumerate(PRIORITY)}

# An instruction is often just an imperative: "Use tabs.", "Never push on Fridays."
IMPERATIVES: Final = frozenset((
    "use", "reply", "respond", "answer", "write", "format", "keep", "include", "add", "run",
    "call", "send", "show", "explain", "list", "summarize", "summarise", "check", "stop",
    "start", "put", "mention", "ask", "confirm", "document", "cite", "prioritize",
    "prioritise", "always", "never", "please", "don't", "avoid", "ensure"))

_WORD = re.compile(r"[a-z0-9]+(?:['.\-][a-z0-9]+)*|'[a-z]+")
# ValueError, NullPointerException, ...: kept case-sensitive, so "mirror" is no error.
_ERROR_CLASS = re.compile(r"\b[A-Z][a-z]\w*(?:Error|Exception)\b")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FILE_EXTENSIONS: Final = frozenset((
    "py", "md", "txt", "json", "yaml", "yml", "csv", "xlsx", "pdf", "docx", "pptx", "png",
    "jpg", "jpeg", "html", "css", "js", "ts", "tsx", "toml", "ini", "sql", "ipynb"))


def _phrases() -> dict[tuple[str, ...], tuple[str, int]]:
    table: dict[tuple[str, ...], tuple[str, int]] = {}
    for memory_type, tiers in CUES.items():
        for weight, listed in tiers:
            for phrase in listed.split("|"):
                words = tuple(_WORD.findall(phrase.strip()))
                assert 0 < len(words) <= MAX_PHRASE, phrase
                # A phrase listed twice keeps its strongest reading.
                if words not in table or table[words][1] < weight:
                    table[words] = (memory_type, weight)
    return table


PHRASES: Final = _phrases()
# Phrases by their first word, longest first: most words start none, one lookup each.
_STARTS: dict[str, list[tuple[tuple[str, ...], tuple[str, int]]]] = {}
for _phrase, _hit in sorted(PHRASES.items(), key=lambda item: -len(item[0])):
    _STARTS.setdefault(_phrase[0], []).append((_phrase[1:], _hit))
# The fuzzy fallback's choices: single cue words long enough to be told apart.
_FUZZY: Final = {words[0]: hit for words, hit in PHRASES.items()
                 if len(words) == 1 and len(words[0]) >= FUZZY_MIN_LEN}
_FUZZY_CHOICES: Final = tuple(_FUZZY)
assert set(CUES) == set(PRIORITY) == set(MEMORY_TYPES)


def _words(text: str) -> list[str]:
    return _WORD.findall(text[:MAX_CHARS].lower().replace("\u2019", "'"))


def _cues(text: str, words: list[str]) -> list[tuple[str, int]]:
    """Each cue found, longest phrase first at every position, without overlaps."""
    found: list[tuple[str, int]] = []
    i, n = 0, len(words)
    while i < n:
        word = words[i]
        i += 1
        for rest, hit in _STARTS.get(word, ()):
            if tuple(words[i:i + len(rest)]) == rest:
                found.append(hit)
                i += len(rest)
                break
        else:
            if _DATE.match(word):
                found.append(("event", 4))
            elif "." in word and word.rsplit(".", 1)[1] in _FILE_EXTENSIONS:
                found.append(("artifact", 6))
    if words and words[0] in IMPERATIVES:
        found.append(("instruction", 6))
    if _ERROR_CLASS.search(text, 0, MAX_CHARS):
        found.append(("error", 6))
    if "://" in text[:MAX_CHARS]:
        found.append(("artifact", 5))
    return found


def _fuzzy(words: list[str]) -> str | None:
    """Typos of cue words, for text in which no cue was found as written."""
    best: tuple[float, int, str] | None = None
    # dict.fromkeys: distinct words, in order, so the outcome never depends on hashing.
    long_words = [w for w in dict.fromkeys(words) if len(w) >= FUZZY_MIN_LEN]
    for word in long_words[:FUZZY_MAX_WORDS]:
        match = process.extractOne(word, _FUZZY_CHOICES, scorer=fuzz.ratio,
                                   score_cutoff=FUZZY_CUTOFF)
        if match is None:
            continue
        memory_type, weight = _FUZZY[match[0]]
        # The closest match wins, then the stronger cue; ties keep the earlier word.
        candidate = (match[1], weight, memory_type)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best is not None and best[1] >= MIN_WEIGHT else None


def classify(text: str) -> str:
    """One of the 13 memory types for `text` (the same text always gets the same type)."""
    words = _words(text)
    strongest: dict[str, int] = {}
    total: dict[str, int] = {}
    for memory_type, weight in _cues(text, words):
        strongest[memory_type] = max(strongest.get(memory_type, 0), weight)
        total[memory_type] = total.get(memory_type, 0) + weight
    if strongest:
        best = max(strongest, key=lambda t: (strongest[t], total[t], -_RANK[t]))
        if strongest[best] >= MIN_WEIGHT:
            return best
    return _fuzzy(words) or DEFAULT
