"""The crisis language: normalisation and phrase matching, pure and without Django.

A message is normalised (case, Unicode, diacritics, leetspeak, elongation, punctuation,
Swedish chat spellings) and matched, whole words only, against phrase lists and concept
words with one Aho-Corasick automaton (``pyahocorasick``); rules then fire where words
of their concepts fall near each other, and blockers (a negation, a past tense, a
hypothetical) cancel what they cover (``default_phrases/rules.tsv``). A learned text
model (``crisis.text_model``) then weighs a message nothing matched, and drops a match
when every clause it lies in reads as plainly ordinary (a critical one only far below
that, and only when the whole message reads so too). The shipped
Swedish and English lists (``default_phrases/``) are read here; a programme's own lists
live in the database (``crisis.models.PhraseList``), and ``crisis.scanning`` compiles
and caches a matcher per programme (see docs/crisis-language.md). Both languages are
applied to every message: defectors switch between Swedish, English and slang inside one
sentence.

What a scan returns (``ScanResult``) carries the matched phrases for the caller's own
use. They say something about what the defector wrote, so they must never go into a push
payload, an alert's public fields or the audit log.
"""

from __future__ import annotations

import copy
import csv
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeAlias

import ahocorasick

from backend.crisis.severity import Severity
from backend.crisis.text_model import MODEL_REASON, MODEL_SEVERITY, TextModel, default_text_model

__all__ = [
    "CATEGORIES",
    "LANGUAGES",
    "PREFIX_MARK",
    "PhraseEntry",
    "PhraseMatcher",
    "Rule",
    "ScanResult",
    "compile_matcher",
    "default_entries",
    "default_rules",
    "load_phrase_file",
    "normalise",
    "normalised_variants",
    "parse_phrase",
]

CATEGORIES = ("self_harm", "threat", "located", "weapons", "relapse", "overdose")
LANGUAGES = ("sv", "en")
_SEVERITY_NAMES = frozenset(severity.value for severity in Severity)

DEFAULT_PHRASES_DIR = Path(__file__).resolve().parent / "default_phrases"

# A trailing "*" on a phrase lets the last word continue ("självmord*" also matches
# "självmordstankar"); the start is still a word boundary.
PREFIX_MARK = "*"

# --- normalisation --------------------------------------------------------------------

# Invisible characters someone may slip into a word ("sj\u200bälvmord") to get past a
# filter; they are removed, not turned into spaces.
_INVISIBLE_CHARS = "\u00ad\u034f\u061c\u180e\u200b-\u200f\u2060-\u2064\ufeff"
_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARS}]")
# The combining-mark blocks NFKD leaves behind when it splits "ö" into "o" + "¨".
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Letters that NFKD does not split into a base letter and a combining mark.
_UNSPLITTABLE = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "\u0131": "i"})
_UNSPLITTABLE_CHARS = re.compile("[øæœłđðþ\u0131]")
# Digit-for-letter swaps, applied only inside tokens that also contain a letter, so
# numbers ("112", "2024") stay numbers. "1" is read as "i" first and, as a second
# variant, as "l" ("he1p", "vi11 dö").
_LEET_I = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_L = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_CHARS = re.compile(r"[013457@$]")
# A token (letters, digits, "@" and "$") holding both a letter and one of the swapped
# characters: only these are swapped, so the function that swaps is called for them
# alone, not for every word. A match starts only where a token starts, and each
# lookahead stops at the token's end, so the search stays linear in the text.
_TOKEN_CHAR = r"(?:[^\W_]|[@$])"
_MIXED_TOKEN = re.compile(rf"(?<!{_TOKEN_CHAR})(?={_TOKEN_CHAR}*?[013457@$])(?={_TOKEN_CHAR}*?[^\W\d_]){_TOKEN_CHAR}++")
_NON_ALNUM = re.compile(r"[\W_]+")
# Every run of one repeated letter becomes one letter, on both sides of the match:
# "hjäääälp" and "hjälp" meet at "hjalp", "tabletter" and "tableter" at "tableter".
_REPEATED_LETTER = re.compile(r"([^\W\d_])\1+")
# The same two on ASCII text, the common case once diacritics are folded, done with
# bytes.translate, split and str.replace instead of a regular expression with a function
# per match: this runs on every message, and it is about 1.6 times as fast.
_ASCII_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789")
_ASCII_NON_ALNUM_TO_SPACE = bytes(code if code in _ASCII_ALNUM else ord(" ") for code in range(256))
_DOUBLED_ASCII_LETTER = re.compile(r"([a-z])\1")


def _fold(text: str) -> str:
    """Case, compatibility forms and diacritics: 'Ö', 'ö' and 'o' all become 'o'."""
    if text.isascii():
        return text.lower()
    # Each step is skipped when it has nothing to do: this runs on every message.
    text = unicodedata.normalize("NFKC", text).casefold()
    if _INVISIBLE.search(text):
        text = _INVISIBLE.sub("", text)
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    if _UNSPLITTABLE_CHARS.search(text):
        text = text.translate(_UNSPLITTABLE)
    return text


def _unleet(text: str, table: dict[int, str]) -> str:
    return _MIXED_TOKEN.sub(lambda token: token.group(0).translate(table), text)


# Swedish chat spellings read as the word they stand for, and filler words dropped, on
# both sides of the match (after diacritics are folded and letters collapsed): "ja" for
# "jag", "e" for "är", "mej" for "mig", "nån"/"nåt" for "någon"/"något", "va" for "var"
# (was, where: "det va bara grannen", "de vet va ja bor"; as "vad" it matches nothing
# either way), "ba" for "bara"; "typ" and "asså" say nothing, and dropping them lets
# "tog typ 20 stesolid" meet "tog 20 stesolid".
_CHAT_SPELLINGS = {
    "ja": "jag",
    "e": "ar",
    "mej": "mig",
    "dej": "dig",
    "nan": "nagon",
    "nat": "nagot",
    "va": "var",
    "ba": "bara",
    "typ": "",
    "asa": "",
    "liksom": "",
}
_CHAT_WORD = re.compile(r"(?:^| )(?:" + "|".join(_CHAT_SPELLINGS) + r")(?= |$)")


def _chat_word(word: re.Match[str]) -> str:
    replacement = _CHAT_SPELLINGS[word.group(0).lstrip()]
    return " " + replacement if replacement else ""


def _finish(text: str) -> str:
    """Punctuation to single spaces, repeated letters collapsed, chat spellings read."""
    return _finish_ascii(text) if text.isascii() else _finish_unicode(text)


def _finish_unicode(text: str) -> str:
    text = _NON_ALNUM.sub(" ", text).strip()
    text = _REPEATED_LETTER.sub(_first_letter, text)
    text = _CHAT_WORD.sub(_chat_word, text)
    return text.strip() if text[:1] == " " else text


def _finish_ascii(text: str) -> str:
    """``_finish_unicode`` for ASCII text: the same result, quicker (folded text is lower
    case, so [a-z] is every letter)."""
    text = b" ".join(text.encode("ascii").translate(_ASCII_NON_ALNUM_TO_SPACE).split()).decode("ascii")
    for letter in set(_DOUBLED_ASCII_LETTER.findall(text)):
        pair = letter + letter
        while pair in text:  # one pass turns "aaa" into "aa"
            text = text.replace(pair, letter)
    words = text.split()
    if _CHAT_SPELLINGS.keys().isdisjoint(words):
        return text
    return " ".join(filter(None, map(_CHAT_SPELLINGS.get, words, words)))


def _first_letter(run: re.Match[str]) -> str:
    # A function is quicker here than the template r"\1", which re parses on every call.
    return run.group(1)


def normalise(text: str) -> str:
    """The form phrases and messages are matched in.

    Applied identically to phrases and message text: Unicode NFKC and case folding,
    invisible characters removed, diacritics folded to ASCII letters (å/ä → a, ö → o,
    é → e; matching on the folded form matches text written with and without them),
    digit-for-letter swaps inside words (0→o, 1→i, 3→e, 4→a, 5→s, 7→t, @→a, $→s), every
    run of non-alphanumerics turned into one space, and every run of one repeated letter
    collapsed to one letter. Pure and deterministic.
    """
    folded = _fold(text)
    if _LEET_CHARS.search(folded):
        folded = _unleet(folded, _LEET_I)
    return _finish(folded)


def normalised_variants(text: str) -> tuple[str, ...]:
    """``normalise(text)``, plus the reading of "1" as "l" when a word contains a "1"."""
    folded = _fold(text)
    if not _LEET_CHARS.search(folded):
        return (_finish(folded),)
    swapped = _unleet(folded, _LEET_I)
    first = _finish(swapped)
    # Nothing swapped (the digits are numbers, "kl 10"): the "l" reading swaps nothing either.
    if "1" not in folded or swapped == folded:
        return (first,)
    second = _finish(_unleet(folded, _LEET_L))
    return (first,) if second == first else (first, second)


# --- phrases ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PhraseEntry:
    """One phrase as the matcher sees it.

    ``key`` is the normalised phrase; ``prefix`` means its last word may continue.
    ``severity`` (a ``Severity`` name) and ``category`` are empty for an exclusion and for
    a concept word. ``concept`` names the word group a concept word belongs to
    ("medicine", "threat_verb"): it alerts nothing alone, a rule combines it with others
    (see ``Rule``). ``source`` says where the phrase came from ("default:sv",
    "phrase:12"); a match from a programme's own list is explained as such."""

    key: str
    severity: str
    category: str
    exclusion: bool = False
    prefix: bool = False
    source: str = ""
    concept: str = ""

    @property
    def label(self) -> str:
        """The normalised phrase as written in a list, with its "*" if it is a prefix."""
        return self.key + PREFIX_MARK if self.prefix else self.key

    @property
    def rule_name(self) -> str:
        """How an alert explains a match of this phrase: a shipped phrase or the
        programme's own (never the phrase itself)."""
        return "listed_phrase" if self.source.startswith("default") else "programme_phrase"


def parse_phrase(raw: str) -> tuple[str, bool]:
    """``(normalised key, is_prefix)`` for a phrase as written in a list. The key is
    empty when nothing matchable is left after normalisation."""
    raw = raw.strip()
    prefix = raw.endswith(PREFIX_MARK)
    if prefix:
        raw = raw.rstrip(PREFIX_MARK)
    return normalise(raw), prefix


# The columns of a phrase list (an exclusion list has the first alone).
PHRASE_COLUMNS = ("phrase", "severity", "category")


def _rows(path: Path) -> Iterable[tuple[int, list[str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
                continue
            yield number, row


def load_phrase_file(path: Path, *, source: str) -> list[PhraseEntry]:
    """Read a phrase TSV: ``phrase, severity, category`` per row, or ``phrase`` alone
    (with an optional language column) for an exclusion file; ``#`` starts a comment
    line. Raises ``ValueError`` naming the line for an unknown severity or category."""
    exclusion_file = path.stem == "exclusions"
    entries: list[PhraseEntry] = []
    for number, row in _rows(path):
        key, prefix = parse_phrase(row[0])
        if not key:
            raise ValueError(f"{path.name}:{number}: nothing left of {row[0]!r} after normalisation")
        if exclusion_file:
            entries.append(PhraseEntry(key, "", "", exclusion=True, prefix=prefix, source=source))
            continue
        if len(row) < len(PHRASE_COLUMNS):
            raise ValueError(f"{path.name}:{number}: expected {', '.join(PHRASE_COLUMNS)}")
        severity, category = row[1].strip(), row[2].strip()
        if severity not in _SEVERITY_NAMES:
            raise ValueError(f"{path.name}:{number}: unknown severity {severity!r}")
        if category not in CATEGORIES:
            raise ValueError(f"{path.name}:{number}: unknown category {category!r}")
        entries.append(PhraseEntry(key, severity, category, prefix=prefix, source=source))
    return entries


CONCEPT_COLUMNS = ("concept", "phrase")
_RULE_COLUMNS = 6  # rule, name, severity, category, window, concepts
_BLOCK_COLUMNS = 4  # block, concept, categories, scope
# The options a block line may add after its scope: it cancels no critical match; it
# cancels rule matches only, not listed phrases; a word of a concept keeps the match
# ("unless:CONCEPT").
NOT_CRITICAL = "not_critical"
RULES_ONLY = "rules_only"
_BLOCK_OPTIONS = (NOT_CRITICAL, RULES_ONLY)
UNLESS = "unless:"
# Lines naming one concept (clause, sign, earnest: kind, concept) and two (drop:
# kind, concept, follower; drop_after: kind, concept, leader).
_CONCEPT_LINES = ("clause", "sign", "earnest")
_CONCEPT_LINE_COLUMNS = 2
_PAIR_LINES = ("drop", "drop_after")
_PAIR_LINE_COLUMNS = 3


def load_concept_file(path: Path, *, source: str) -> list[PhraseEntry]:
    """Read a concept TSV: ``concept, phrase`` per row (one word group's members)."""
    entries: list[PhraseEntry] = []
    for number, row in _rows(path):
        if len(row) < len(CONCEPT_COLUMNS) or not row[0].strip():
            raise ValueError(f"{path.name}:{number}: expected concept, phrase")
        key, prefix = parse_phrase(row[1])
        if not key:
            raise ValueError(f"{path.name}:{number}: nothing left of {row[1]!r} after normalisation")
        entries.append(PhraseEntry(key, "", "", prefix=prefix, source=source, concept=row[0].strip()))
    return entries


@cache
def default_entries() -> tuple[PhraseEntry, ...]:
    """The shipped Swedish and English lists, their exclusions and the concept words the
    rules combine (read once per process)."""
    entries: list[PhraseEntry] = []
    for language in LANGUAGES:
        entries += load_phrase_file(DEFAULT_PHRASES_DIR / f"{language}.tsv", source=f"default:{language}")
    exclusions = DEFAULT_PHRASES_DIR / "exclusions.tsv"
    if exclusions.exists():
        entries += load_phrase_file(exclusions, source="default:exclusions")
    entries += load_concept_file(DEFAULT_PHRASES_DIR / "concepts.tsv", source="default:concepts")
    return tuple(entries)


# --- rules: concepts near each other ----------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """Alert when a word of every slot in ``slots`` occurs within ``window`` words of each
    other (counted from the first word of each match): "hotade" (threat_verb) near "min
    lillebror" (family). A slot is one concept or several alternatives ("target|family":
    a word of either)."""

    name: str
    severity: str
    category: str
    slots: tuple[tuple[str, ...], ...]
    window: int

    @property
    def concepts(self) -> frozenset[str]:
        return frozenset(concept for slot in self.slots for concept in slot)


@dataclass(frozen=True)
class Blocker:
    """A concept that cancels matches of ``categories`` and of the rules named in
    ``rule_names`` (every match when both are empty).

    Its scope: anywhere in the message (``before`` is None: "för tre år sen", "what if");
    or -- a negation, "inte", "never" -- a match whose first word comes at most ``before``
    words after it. With ``clause`` the blocker word must also lie in the same clause as
    the match (a clause ends at ".", ",", "!", "?", a line break or a ``clause`` concept
    word such as "men"/"but": "mår inte bra, vill dö" keeps "vill dö"), and a rule is also
    cancelled by one lying between its words (``inside``: "vill inte dö"); with ``near``
    as well it may lie up to ``before`` words after the match ("sköt alla i filmen").
    With ``within`` it may lie up to ``before`` words before or after the match in any
    clause of its sentence ("såg min gamla lärare på ica, hon kände igen mig"), but not
    in another sentence of a long message. With ``at_start`` the match may also start on
    the blocker's own first word: the blocker holds the match's first word ("syrran sa
    att hon" of "syrran sa att hon ska döda mig", a sister teasing). With ``rules_only``
    (a film, a joke) only rules are cancelled, not listed phrases. With ``spares_critical``
    (a setting such as "at work", which makes a feeling ordinary but not a rope) a
    critical match is never cancelled. With ``unless`` a word of that concept after the
    blocker word, inside the match or in its clause, keeps the match."""

    concept: str
    categories: frozenset[str]
    before: int | None
    rules_only: bool = False
    clause: bool = False
    rule_names: frozenset[str] = frozenset()
    # With ``near`` the blocker word may also come after the match ("sköt alla i filmen").
    near: bool = False
    # Whether a blocker word between a rule's words cancels it ("vill inte dö").
    inside: bool = False
    # ``within``: up to ``before`` words either side of the match, whatever the clauses.
    within: bool = False
    # ``from``: as ``lead``, and a match that starts on the blocker's first word.
    at_start: bool = False
    spares_critical: bool = False
    # ``unless:CONCEPT``: a word of the concept after the blocker word, inside the match or
    # in its clause, keeps the match ("mamma hittade tjack i mitt rum": the writer's).
    unless: str = ""

    def blocks(self, category: str, rule: str, *, from_rule: bool, critical: bool) -> bool:
        if (self.rules_only and not from_rule) or (self.spares_critical and critical):
            return False
        if not self.categories and not self.rule_names:
            return True
        return category in self.categories or rule in self.rule_names


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    blockers: tuple[Blocker, ...]
    # Concepts whose words start a new clause ("men", "but"), besides punctuation.
    clause_breaks: frozenset[str] = frozenset()
    # (concept, follower): a word of the concept directly followed by a word of the
    # follower does not count ("20 mg", "5 dagar" are not a number of tablets).
    drops: tuple[tuple[str, str], ...] = ()
    # Concepts whose words are a sign that a message may be ordinary after all (a joke, a
    # game, a dream): with one in the clause of every match, the text model may drop a
    # critical match at the ordinary veto (``PhraseMatcher._vetoed``).
    ordinary_signs: frozenset[str] = frozenset()
    # Concepts whose words say a message means what it says (a plea for help, fear): with
    # one anywhere in it, no ordinary sign counts ("dom hotar att döda min mamma haha vad
    # ska ja göra" is a nervous laugh, not a joke).
    earnest: frozenset[str] = frozenset()
    # (concept, leader): a word of the concept directly after a one-word leader does not
    # count ("kl 14", "klockan 8" are not a number of tablets).
    drops_after: tuple[tuple[str, str], ...] = ()

    @property
    def concepts(self) -> frozenset[str]:
        """Every concept a rule or a blocker uses: the ones a programme may add words to."""
        return (
            frozenset(c for rule in self.rules for c in rule.concepts)
            | {b.concept for b in self.blockers}
            | {b.unless for b in self.blockers if b.unless}
            | self.clause_breaks
            | {c for pair in (*self.drops, *self.drops_after) for c in pair}
            | self.ordinary_signs
            | self.earnest
        )


def _blocker(cells: list[str], where: str, rule_names: set[str]) -> Blocker:
    _, concept, targets, scope = cells[:_BLOCK_COLUMNS]
    options = cells[_BLOCK_COLUMNS:]
    unknown = [option for option in options if option not in _BLOCK_OPTIONS and not option.startswith(UNLESS)]
    if unknown or UNLESS in options:
        known = f"{', '.join(_BLOCK_OPTIONS)}, {UNLESS}CONCEPT"
        raise ValueError(f"{where}: unknown block option {' '.join(unknown or [UNLESS])!r} (only {known})")
    spares_critical = NOT_CRITICAL in options
    spares_listed = RULES_ONLY in options
    unless = next((option.removeprefix(UNLESS) for option in options if option.startswith(UNLESS)), "")
    chosen = set() if targets == "*" else set(targets.split(","))
    categories = chosen & set(CATEGORIES)
    named = chosen - categories
    if named - rule_names:
        raise ValueError(f"{where}: unknown category or rule in {targets!r}")
    if scope in {"message", "rules"}:
        return Blocker(
            concept,
            frozenset(categories),
            None,
            rules_only=scope == "rules" or spares_listed,
            rule_names=frozenset(named),
            spares_critical=spares_critical,
            unless=unless,
        )
    kind, _, words = scope.partition(":")
    if kind not in {"before", "lead", "from", "clause", "near", "within"} or not words.isdigit():
        raise ValueError(f"{where}: unknown scope {scope!r}")
    return Blocker(
        concept,
        frozenset(categories),
        int(words),
        rules_only=kind == "before" or spares_listed,
        clause=kind in {"lead", "from", "clause", "near"},
        rule_names=frozenset(named),
        near=kind == "near",
        inside=kind in {"clause", "near", "within"},
        within=kind == "within",
        at_start=kind == "from",
        spares_critical=spares_critical,
        unless=unless,
    )


def load_rule_file(path: Path) -> RuleSet:
    """Read ``rules.tsv``: ``rule, name, severity, category, window, slot,slot…`` (a slot
    is a concept or alternatives joined by ``|``); ``block, concept, targets, scope``
    where the targets are categories and rule names (comma-separated, or *) and the scope
    is ``message`` (every match), ``rules`` (rule matches anywhere), ``before:N`` (rule
    matches at most N words after it), ``lead:N`` (every match at most N words after it
    in the same clause), ``from:N`` (as ``lead:N``, and a match starting on its own first
    word), ``clause:N`` (as ``lead:N``, and rules around it), ``near:N``
    (as ``clause:N``, and matches up to N words before it) or ``within:N`` (as ``near:N``
    in any clause), then optionally ``not_critical`` (it cancels no critical match),
    ``rules_only`` (it cancels no listed phrase) and ``unless:CONCEPT`` (a word of the
    concept after the blocker word, inside the match or in its clause, keeps the match);
    ``clause, concept`` (its words start a new clause);
    ``drop, concept, follower`` (a word of the concept right before a word of the
    follower does not count); ``drop_after, concept, leader`` (nor one right after a
    one-word leader); ``sign, concept`` (its words are a sign that a message
    may be ordinary: ``RuleSet.ordinary_signs``); or ``earnest, concept`` (its words
    cancel every sign: ``RuleSet.earnest``)."""
    rules: list[Rule] = []
    blocks: list[tuple[list[str], str]] = []
    concept_lines: dict[str, set[str]] = {kind: set() for kind in _CONCEPT_LINES}
    pair_lines: dict[str, list[tuple[str, str]]] = {kind: [] for kind in _PAIR_LINES}
    for number, row in _rows(path):
        cells = [cell.strip() for cell in row]
        where = f"{path.name}:{number}"
        if cells[0] == "rule" and len(cells) >= _RULE_COLUMNS:
            _, name, severity, category, window, concepts = cells[:_RULE_COLUMNS]
            if severity not in _SEVERITY_NAMES:
                raise ValueError(f"{where}: unknown severity {severity!r}")
            if category not in CATEGORIES:
                raise ValueError(f"{where}: unknown category {category!r}")
            slots = tuple(tuple(slot.split("|")) for slot in concepts.split(","))
            rules.append(Rule(name, severity, category, slots, int(window)))
        elif cells[0] == "block" and len(cells) >= _BLOCK_COLUMNS:
            blocks.append((cells, where))
        elif cells[0] in concept_lines and len(cells) >= _CONCEPT_LINE_COLUMNS:
            concept_lines[cells[0]].add(cells[1])
        elif cells[0] in pair_lines and len(cells) >= _PAIR_LINE_COLUMNS:
            pair_lines[cells[0]].append((cells[1], cells[2]))
        else:
            kinds = "a rule, a block, a clause, a drop, a drop_after, a sign or an earnest line"
            raise ValueError(f"{where}: expected {kinds}")
    names = {rule.name for rule in rules}
    blockers = [_blocker(cells, where, names) for cells, where in blocks]
    return RuleSet(
        tuple(rules),
        tuple(blockers),
        frozenset(concept_lines["clause"]),
        tuple(pair_lines["drop"]),
        frozenset(concept_lines["sign"]),
        frozenset(concept_lines["earnest"]),
        tuple(pair_lines["drop_after"]),
    )


@cache
def default_rules() -> RuleSet:
    """The shipped rules (read once per process)."""
    return load_rule_file(DEFAULT_PHRASES_DIR / "rules.tsv")


# --- clauses ----------------------------------------------------------------------------

# Punctuation that ends a clause: followed by a space or the end ("ta.livet.av.mig" is one
# clause), or a line break, or a dash between spaces. A sentence ends at . ! ? or a line
# break only.
_CLAUSE_END = re.compile(r"[.!?;:,]+(?=\s|$)|[\n\r]+|\s[-\u2013\u2014]+\s")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)|[\n\r]+")
# What may close a message's last clause without starting another.
_CLOSING = re.compile(r"[.!?;:,\s]+$")


def clause_starts(text: str, *, sentences: bool = False) -> list[int]:
    """The normalised word positions at which a new clause (or, with ``sentences``, a
    new sentence) of ``text`` starts, after the first. Each part is normalised on its
    own, which gives the same words as normalising the whole message."""
    starts: list[int] = []
    count = 0
    for segment in (_SENTENCE_END if sentences else _CLAUSE_END).split(text):
        words = len(normalise(segment).split())
        if words and count:
            starts.append(count)
        count += words
    return starts


# --- matching ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanResult:
    """What a scan found.

    ``severity`` is the highest severity matched, or None;
    ``categories`` the sorted categories of every match; ``matched`` the sorted
    normalised phrases that matched (internal use only: never into a push, an alert's
    public fields or the audit log); ``reasons`` the sorted ``(category, rule)`` pairs
    that fired, where the rule is a ``Rule`` name, "listed_phrase", "programme_phrase"
    or "text_model" -- what an alert shows staff, naming no word of the message."""

    severity: Severity | None
    categories: tuple[str, ...]
    matched: tuple[str, ...]
    reasons: tuple[tuple[str, str], ...] = ()

    @property
    def matched_any(self) -> bool:
        return self.severity is not None

    @property
    def severity_rank(self) -> int:
        """The severity as an alert stores it (0 when nothing matched)."""
        return self.severity.rank if self.severity else 0


NO_MATCH = ScanResult(severity=None, categories=(), matched=())

# One match before blockers are applied: its first and last word, severity, category,
# rule name (as ``ScanResult.reasons`` gives it), label (as ``ScanResult.matched``), and
# whether a rule made it.
_Hit: TypeAlias = tuple[int, int, str, str, str, str, bool]
# What the automaton holds for a needle: its length, its entries, and a bit mask of what
# they are -- ``_LISTED`` when one of them is a listed phrase (alerts by itself), and the
# bit of each rule concept among them.
_Value: TypeAlias = tuple[int, tuple[PhraseEntry, ...], int]
_LISTED = 1
_CRITICAL = Severity.CRITICAL.value
_EXCLUSION = 2
# How many sets of concepts ``PhraseMatcher._possible_rules`` keeps its answer for.
_POSSIBLE_RULES_KEPT = 4096
# Where a needle was found in the padded text: first and last character, and its value.
_Found: TypeAlias = tuple[int, int, _Value]


class PhraseMatcher:
    """A compiled set of phrases and rules; ``scan`` is safe to call from many threads.

    Phrases and concept words are stored in one automaton with a space on either side
    (" vill do "), and the text is scanned with one added on either side, so every match
    starts and ends on a word boundary of the normalised text and "dö" never fires
    inside "döbeln". A prefix phrase has no trailing space. Aho-Corasick reports
    overlapping matches too, so every phrase in a message is seen, not just the
    leftmost. Rules then look at where the concept words fell (see ``Rule``), and
    blockers cancel what a negation, a past tense or a hypothetical covers."""

    def __init__(
        self, entries: Iterable[PhraseEntry], rules: RuleSet | None = None, text_model: TextModel | None = None
    ) -> None:
        grouped: dict[str, list[PhraseEntry]] = {}
        for entry in entries:
            needle = f" {entry.key}" if entry.prefix else f" {entry.key} "
            grouped.setdefault(needle, []).append(entry)
        self.phrase_count = sum(len(group) for group in grouped.values())
        self.has_exclusions = any(entry.exclusion for group in grouped.values() for entry in group)
        self.rules = rules if rules is not None else RuleSet((), ())
        self.text_model = text_model
        # Rules are known by their position in ``rules.rules``. Every rule concept is a
        # bit, so the concepts in a message are one int. A rule is looked at only when its
        # first slot (its anchor; rules.tsv puts the rarest concept first) is present:
        # most messages hold a pronoun or an "är" and no anchor.
        concepts = sorted(self.rules.concepts)
        self._concept_bit = {concept: 1 << position for position, concept in enumerate(concepts, start=2)}
        self._anchor_mask = 0
        # Per anchor bit: each rule it starts, with the masks of the rule's other slots.
        self._rules_by_anchor: dict[int, list[tuple[int, tuple[int, ...]]]] = {}
        for index, rule in enumerate(self.rules.rules):
            anchor, *others = (sum(self._concept_bit[c] for c in slot) for slot in rule.slots)
            self._anchor_mask |= anchor
            for concept in rule.slots[0]:
                self._rules_by_anchor.setdefault(self._concept_bit[concept], []).append((index, tuple(others)))
        self._possible_by_concepts: dict[int, tuple[int, ...]] = {}
        # (concept, neighbour, step): a word of the concept with a word of the neighbour
        # ``step`` words on (a follower one after, a leader one before) does not count.
        self._word_drops = tuple(
            [(concept, follower, 1) for concept, follower in self.rules.drops]
            + [(concept, leader, -1) for concept, leader in self.rules.drops_after]
        )
        self._blockers: dict[str, list[Blocker]] = {}
        for blocker in self.rules.blockers:
            self._blockers.setdefault(blocker.concept, []).append(blocker)
        self._automaton: Any = None
        if grouped:
            automaton = ahocorasick.Automaton()
            for needle, group in grouped.items():
                bits = _LISTED if any(entry.category for entry in group) else 0
                bits |= _EXCLUSION if any(entry.exclusion for entry in group) else 0
                for entry in group:
                    bits |= self._concept_bit.get(entry.concept, 0)
                value: _Value = (len(needle), tuple(group), bits)
                automaton.add_word(needle, value)
            automaton.make_automaton()
            self._automaton = automaton

    def _matches(self, padded: str) -> list[tuple[int, _Value]] | None:
        """Every needle in ``padded``, or None when none of them can alert by itself (a
        listed phrase) and no rule has all its concepts present: the caller stops early,
        as most messages hold a pronoun or two and nothing else."""
        hits = list(self._automaton.iter(padded))
        present = 0
        for _, value in hits:
            present |= value[2]
        if not (present & _LISTED or self._any_rule_possible(present)):
            return None
        if present & _EXCLUSION:
            # What an exclusion covers cannot alert ("shoot me a text"): look again at the rest.
            present = 0
            for _, _, value in _outside_exclusions(padded, hits):
                present |= value[2]
            if not (present & _LISTED or self._any_rule_possible(present)):
                return None
        return hits

    def _any_rule_possible(self, present: int) -> bool:
        return bool(self._possible_rules(present))

    def _possible_rules(self, present: int) -> tuple[int, ...]:
        """The rules (by position, in order) whose every slot has a concept in
        ``present``. Ordinary chat brings the same few pronouns and verbs again and again,
        so the answer is kept per set of concepts (a dict's get and set are atomic, which
        keeps ``scan`` safe from many threads); the store is emptied when it grows past
        ``_POSSIBLE_RULES_KEPT`` sets, so an odd message cannot make it grow without end."""
        possible = self._possible_by_concepts.get(present)
        if possible is None:
            if len(self._possible_by_concepts) >= _POSSIBLE_RULES_KEPT:
                self._possible_by_concepts.clear()
            possible = tuple(sorted(set(self._rules_with_every_slot(present))))
            self._possible_by_concepts[present] = possible
        return possible

    def _rules_with_every_slot(self, present: int) -> Iterator[int]:
        """The rules (by position) whose every slot has a concept in ``present``, found
        from their anchors (a rule with alternatives in its anchor may come twice)."""
        anchors = present & self._anchor_mask
        while anchors:
            bit = anchors & -anchors
            anchors ^= bit
            for index, others in self._rules_by_anchor[bit]:
                for mask in others:
                    if not present & mask:
                        break
                else:
                    yield index

    def scan(self, text: str) -> ScanResult:
        """Normalise ``text`` and report every phrase and rule in it (see ``ScanResult``)."""
        return self.scan_normalised(normalised_variants(text), text=text)

    def scan_normalised(self, variants: Sequence[str], *, text: str | None = None) -> ScanResult:
        """Like ``scan`` for text already normalised (one or more readings of it).
        ``text``, the message as written, gives the clauses its punctuation marks; without
        it only clause words ("men", "but") end a clause."""
        if self._automaton is None:
            return NO_MATCH
        found: list[_Hit] = []
        # What the first reading's veto dropped (category, rule, label): another reading
        # finding the same match ("vill dö av haha 1ol" read with "1" as "l") brings it
        # no closer to a crisis.
        dropped: set[tuple[str, str, str]] = set()
        for reading, normalised in enumerate(variants):
            hits, ordinary_sign = self._hits(f" {normalised} ", text)
            # ``clause_starts`` counts the words of the first reading; a filler dropped in
            # one reading and not the other ("l1ksom") would shift the clauses, so a match
            # only another reading found is never vetoed.
            if hits and reading == 0 and self._vetoed(normalised, hits, text, ordinary_sign=ordinary_sign):
                dropped = {(category, rule, label) for _, _, _, category, rule, label, _ in hits}
                continue
            found += [hit for hit in hits if (hit[3], hit[4], hit[5]) not in dropped]
        if not found:
            return self._text_model_verdict(variants)
        best = 0
        categories: set[str] = set()
        matched: set[str] = set()
        reasons: set[tuple[str, str]] = set()
        for _, _, severity, category, rule, label, _ in found:
            best = max(best, Severity(severity).rank)
            categories.add(category)
            matched.add(label)
            reasons.add((category, rule))
        return ScanResult(
            severity=Severity.of_rank(best),
            categories=tuple(sorted(categories)),
            matched=tuple(sorted(matched)),
            reasons=tuple(sorted(reasons)),
        )

    def _vetoed(self, normalised: str, hits: list[_Hit], text: str | None, *, ordinary_sign: bool) -> bool:
        """Whether the text model calls every clause a match lies in plainly ordinary
        (``TextModel.plainly_ordinary``), so the matches are dropped. A critical match
        (missing one costs too much) needs the whole message plainly ordinary too, below
        the far lower critical veto, so a critical match in a message of more than
        ``VETO_WORDS`` words is never dropped; and its own clause must still be plainly
        ordinary however the whole scores ("jag dör av skratt, men jag vill dö" keeps its
        match, as its last clause is no joke). Never dropped either: a critical
        overdose (the model reads words, not amounts: "tar bara en när knät värker men
        idag tog jag 20 ipren" is ordinary words around a number to it), and a
        programme's own phrase (the programme chose it, and the model has not read its
        words). With an ``ordinary_sign`` beside every match (a joke, a game, a dream in
        its clause: ``_signs_beside_every_match``) the whole message need only be
        under the ordinary veto: "jag dödar dig i fifa ikväll" need not read as ordinary
        as a message without the game."""
        if self.text_model is None or text is None:
            return False
        critical = False
        for _, _, severity, category, rule, _, _ in hits:
            if rule == "programme_phrase" or (severity == _CRITICAL and category == "overdose"):
                return False
            critical = critical or severity == _CRITICAL
        if critical and not self.text_model.plainly_ordinary(normalised, critical=not ordinary_sign):
            return False
        if not _CLAUSE_END.search(_CLOSING.sub("", text)):
            # One clause, the usual chat message: every match's clause is the whole
            # message, which a critical match has just passed at the critical veto (never
            # above the veto: ``TextModel`` refuses one that is), or at the veto itself
            # beside an ordinary sign.
            return critical or self.text_model.plainly_ordinary(normalised)
        words = normalised.split()
        starts = [0, *clause_starts(text), len(words)]
        clauses = {
            (starts[bisect_right(starts, first) - 1], starts[bisect_right(starts, last)]) for first, last, *_ in hits
        }
        return all(self.text_model.plainly_ordinary(" ".join(words[start:stop])) for start, stop in clauses)

    def _text_model_verdict(self, variants: Sequence[str]) -> ScanResult:
        """What the text model says of a message no phrase or rule alerted on."""
        category = self.text_model.alert_category(variants) if self.text_model else None
        if category is None:
            return NO_MATCH
        return ScanResult(
            severity=Severity(MODEL_SEVERITY),
            categories=(category,),
            matched=(f"model:{MODEL_REASON}",),
            reasons=((category, MODEL_REASON),),
        )

    def with_text_model(self, text_model: TextModel | None) -> PhraseMatcher:
        """This matcher with another text model (or none), sharing everything else."""
        twin = copy.copy(self)
        twin.text_model = text_model
        return twin

    def _hits(self, padded: str, text: str | None) -> tuple[list[_Hit], bool]:
        """The matches in one reading of the message that no exclusion or blocker cancels,
        and whether every one of them has a word of an ordinary sign
        (``RuleSet.ordinary_signs``) in its own clause (``_signs_beside_every_match``)."""
        raw = self._matches(padded)
        if raw is None:
            return [], False
        kept = _outside_exclusions(padded, raw)
        hits: list[_Hit] = []
        concepts: dict[str, list[int]] = {}
        blocking_words: list[tuple[str, int, int, int]] = []
        for start, stop, (_, group, _) in kept:
            # The word the match starts on (padded has a space before every word).
            word = padded.count(" ", 0, start) - 1
            for entry in group:
                if entry.concept:
                    concepts.setdefault(entry.concept, []).append(word)
                    if entry.concept in self._blockers:
                        blocking_words.append((entry.concept, word, start, stop))
                else:
                    last = word + padded.count(" ", start, stop + 1)
                    hits.append((word, last, entry.severity, entry.category, entry.rule_name, entry.label, False))
        self._drop_followed_words(concepts)
        if len(concepts) > 1:
            hits += self._rule_hits(concepts)
        has_sign = not self.rules.ordinary_signs.isdisjoint(concepts) and self.rules.earnest.isdisjoint(concepts)
        if not hits or not (blocking_words or has_sign):
            return hits, False
        clauses = _Clauses(text, [w for c in self.rules.clause_breaks for w in concepts.get(c, ())])
        if blocking_words:
            hits = self._unblocked(hits, blocking_words, kept, clauses, concepts)
        if not has_sign:
            return hits, False
        signs = [word for concept in self.rules.ordinary_signs for word in concepts.get(concept, ())]
        return hits, _signs_beside_every_match(hits, signs, clauses)

    def _unblocked(
        self,
        hits: list[_Hit],
        blocking_words: list[tuple[str, int, int, int]],
        kept: list[_Found],
        clauses: _Clauses,
        concepts: dict[str, list[int]],
    ) -> list[_Hit]:
        """The hits no blocker word cancels (one inside a longer match of another kind
        negates nothing outside it), with where the words of each blocker's ``unless``
        concept lie."""
        blocking = [
            (blocker, word, concepts.get(blocker.unless, []) if blocker.unless else [])
            for concept, word, start, stop in blocking_words
            if not _inside_a_longer_match(start, stop, kept, self._blockers)
            for blocker in self._blockers[concept]
        ]
        return [hit for hit in hits if not _blocked(blocking, hit, clauses)] if blocking else hits

    def _drop_followed_words(self, concepts: dict[str, list[int]]) -> None:
        """A word of a concept right before a word of its follower, or right after a word
        of its leader, does not count."""
        for concept, neighbour, step in self._word_drops:
            if concept in concepts and neighbour in concepts:
                beside = set(concepts[neighbour])
                concepts[concept] = [w for w in concepts[concept] if w + step not in beside]

    def _rule_hits(self, concepts: dict[str, list[int]]) -> list[_Hit]:
        hits: list[_Hit] = []
        # Only the rules whose anchor is present, and of those only the ones whose every
        # slot is (most messages have a pronoun or two, few have a threat verb).
        present = 0
        for concept in concepts:
            present |= self._concept_bit.get(concept, 0)
        for index in self._possible_rules(present):
            rule = self.rules.rules[index]
            slots = [sorted(w for concept in slot for w in concepts.get(concept, ())) for slot in rule.slots]
            span = _first_span_within(rule.window, slots)
            if span is not None:
                hits.append((*span, rule.severity, rule.category, rule.name, f"rule:{rule.name}", True))
        return hits


def _outside_exclusions(padded: str, raw: list[tuple[int, _Value]]) -> list[_Found]:
    """Every needle the automaton found, by where it lies in ``padded``, without the
    exclusions and the needles that lie entirely inside one. A needle's entries share its
    place: all are exclusions, or none is inside the needle's own exclusion."""
    found: list[_Found] = []
    excluded: list[tuple[int, int]] = []
    for end, value in raw:
        start = end - value[0] + 2  # first letter of the phrase
        # A prefix needle's match reaches to the end of the word it started.
        stop = padded.find(" ", end + 1) - 1 if value[1][0].prefix else end - 1
        found.append((start, stop, value))
        if value[2] & _EXCLUSION:
            excluded.append((start, stop))
    if not excluded:
        return found
    return [
        (start, stop, value)
        for start, stop, value in found
        if not value[2] & _EXCLUSION and not any(a <= start and stop <= b for a, b in excluded)
    ]


class _Clauses:
    """Which clause or sentence a word lies in, worked out only when a blocker asks.
    Punctuation ends a clause; so do clause words ("men", "but", "och") for a negation
    or another ``clause``/``lead`` blocker, but not for a ``near`` one: "står på bron
    och väntar på bussen" is one scene. A ``within`` blocker looks across clauses but
    not across sentences."""

    def __init__(self, text: str | None, words: list[int]) -> None:
        # ``text``, the message as written, has the punctuation; without it only clause
        # words end a clause.
        self._text = text
        self._words = words
        self._starts: dict[str, list[int]] = {}

    def _punctuation(self, *, sentences: bool) -> list[int]:
        return clause_starts(self._text, sentences=sentences) if self._text is not None else []

    def _part(self, kind: str, word: int) -> int:
        if kind not in self._starts:
            if kind == "sentence":
                self._starts[kind] = self._punctuation(sentences=True)
            else:
                extra = self._words if kind == "clause_with_words" else []
                self._starts[kind] = sorted({*self._punctuation(sentences=False), *extra})
        return bisect_right(self._starts[kind], word)

    def of(self, word: int, *, with_words: bool) -> int:
        return self._part("clause_with_words" if with_words else "clause", word)

    def sentence_of(self, word: int) -> int:
        return self._part("sentence", word)


def _inside_a_longer_match(start: int, stop: int, kept: list[_Found], blockers: dict[str, list[Blocker]]) -> bool:
    """Whether a blocker word lies inside a longer match that is not itself a blocker: the
    "inte" of a listed "vill inte leva" or of the concept word "inte vakna" negates
    nothing outside it."""
    return any(
        a <= start and stop <= b and b - a > stop - start and any(entry.concept not in blockers for entry in group)
        for a, b, (_, group, _) in kept
    )


def _first_span_within(window: int, positions: list[list[int]]) -> tuple[int, int] | None:
    """The first and last word of the earliest choice of one position per slot whose
    words all lie within ``window`` words of each other, or None. The earliest choice
    starts on some word of a slot: try each, in order, and take from every slot its first
    word from there on."""
    for low in sorted({p for slot in positions for p in slot}):
        high = low
        for slot in positions:
            nearest = min((p for p in slot if low <= p <= low + window), default=None)
            if nearest is None:
                break
            high = max(high, nearest)
        else:
            return (low, high)
    return None


def _blocked(blocking: list[tuple[Blocker, int, list[int]]], hit: _Hit, clauses: _Clauses) -> bool:
    first, last, _, _, _, _, from_rule = hit
    for blocker, at, keeping in blocking:
        if not _may_block(blocker, at, keeping, hit, clauses):
            continue
        if blocker.before is None:
            return True
        if blocker.within:
            before = 0 < first - at <= blocker.before and clauses.sentence_of(at) == clauses.sentence_of(first)
            after = 0 <= at - last <= blocker.before and clauses.sentence_of(at) == clauses.sentence_of(last)
            if before or after or first < at < last:
                return True
        elif blocker.clause:
            words = not blocker.near
            clause = clauses.of(at, with_words=words)
            nearest = 0 if blocker.at_start else 1
            leads = nearest <= first - at <= blocker.before
            if clause == clauses.of(first, with_words=words) and (
                leads or (blocker.inside and from_rule and first < at < last)
            ):
                return True
            if blocker.near and clause == clauses.of(last, with_words=words) and 0 <= at - last <= blocker.before:
                return True
        elif not blocker.clause and 0 < first - at <= blocker.before:
            return True
    return False


def _may_block(blocker: Blocker, at: int, keeping: list[int], hit: _Hit, clauses: _Clauses) -> bool:
    """Whether ``blocker`` (its word at ``at``) targets ``hit`` at all, wherever it lies: its
    categories and rules, critical or not, listed or not, and no word of its ``unless``
    concept (at ``keeping``) after the blocker word inside the match or in the clause of
    its first or last word (a rule may span a comma: "mamma hittade sprutan, ja har börjat
    igen")."""
    first, last, severity, category, rule, _, from_rule = hit
    if not blocker.blocks(category, rule, from_rule=from_rule, critical=severity == _CRITICAL):
        return False
    if not keeping:
        return True
    clauses_of_match = {clauses.of(first, with_words=True), clauses.of(last, with_words=True)}
    return not any(
        word > at and (first <= word <= last or clauses.of(word, with_words=True) in clauses_of_match)
        for word in keeping
    )


def _signs_beside_every_match(hits: list[_Hit], signs: list[int], clauses: _Clauses) -> bool:
    """Whether every match has a word of an ordinary sign inside it or in its own clause
    (clause words such as "och"/"and" end one): "jag dödar dig i fifa" is a game, but "he
    hit me after the game and said he'll kill me" says more than the game."""
    return bool(signs) and all(
        any(
            first <= sign <= last or clauses.of(sign, with_words=True) == clauses.of(first, with_words=True)
            for sign in signs
        )
        for first, last, *_ in hits
    )


def compile_matcher(extra: Iterable[PhraseEntry] = ()) -> PhraseMatcher:
    """A matcher for the default lists, rules and text model plus ``extra`` phrases (a
    programme's own, concept words included)."""
    return PhraseMatcher([*default_entries(), *extra], default_rules(), default_text_model())
