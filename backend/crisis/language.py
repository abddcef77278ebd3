"""The crisis language: normalisation and phrase matching, pure and without Django.

A message is normalised (case, Unicode, diacritics, leetspeak, elongation, punctuation)
and matched, whole words only, against phrase lists with one Aho-Corasick automaton
(``pyahocorasick``). The shipped Swedish and English lists (``default_phrases/``) are read
here; a programme's own lists live in the database (``crisis.models.PhraseList``), and
``crisis.scanning`` compiles and caches a matcher per programme (see
docs/crisis-language.md). Both languages are applied to every message: defectors switch
between Swedish, English and slang inside one sentence.

What a scan returns (``ScanResult``) carries the matched phrases for the caller's own
use. They say something about what the defector wrote, so they must never go into a
push payload, an alert's public fields or the audit log.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import ahocorasick

from backend.crisis.severity import Severity

__all__ = [
    "CATEGORIES",
    "LANGUAGES",
    "PREFIX_MARK",
    "PhraseEntry",
    "PhraseMatcher",
    "ScanResult",
    "compile_matcher",
    "default_entries",
    "load_phrase_file",
    "normalise",
    "normalised_variants",
    "parse_phrase",
]

CATEGORIES = ("self_harm", "threat", "located", "weapons", "relapse")
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
_TOKEN = re.compile(r"(?:[^\W_]|[@$])+")
_HAS_LETTER = re.compile(r"[^\W\d_]")
_NON_ALNUM = re.compile(r"[\W_]+")
# Every run of one repeated letter becomes one letter, on both sides of the match:
# "hjäääälp" and "hjälp" meet at "hjalp", "tabletter" and "tableter" at "tableter".
_REPEATED_LETTER = re.compile(r"([^\W\d_])\1+")


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
    def swap(token: re.Match[str]) -> str:
        word = token.group(0)
        if _LEET_CHARS.search(word) and _HAS_LETTER.search(word):
            return word.translate(table)
        return word

    return _TOKEN.sub(swap, text)


def _finish(text: str) -> str:
    text = _NON_ALNUM.sub(" ", text).strip()
    return _REPEATED_LETTER.sub(_first_letter, text)


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
    first = _finish(_unleet(folded, _LEET_I))
    if "1" not in folded:
        return (first,)
    second = _finish(_unleet(folded, _LEET_L))
    return (first,) if second == first else (first, second)


# --- phrases ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PhraseEntry:
    """One phrase as the matcher sees it.

    ``key`` is the normalised phrase; ``prefix`` means its last word may continue.
    ``severity`` (a ``Severity`` name) and ``category`` are empty for an exclusion. ``source`` says where the
    phrase came from ("default:sv", "phrase:12"), for the caller's own diagnostics."""

    key: str
    severity: str
    category: str
    exclusion: bool = False
    prefix: bool = False
    source: str = ""

    @property
    def label(self) -> str:
        """The normalised phrase as written in a list, with its "*" if it is a prefix."""
        return self.key + PREFIX_MARK if self.prefix else self.key


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


def load_phrase_file(path: Path, *, source: str) -> list[PhraseEntry]:
    """Read a phrase TSV: ``phrase, severity, category`` per row, or ``phrase`` alone
    (with an optional language column) for an exclusion file; ``#`` starts a comment
    line. Raises ``ValueError`` naming the line for an unknown severity or category."""
    exclusion_file = path.stem == "exclusions"
    entries: list[PhraseEntry] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
                continue
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


@cache
def default_entries() -> tuple[PhraseEntry, ...]:
    """The shipped Swedish and English lists and their exclusions (read once per process)."""
    entries: list[PhraseEntry] = []
    for language in LANGUAGES:
        entries += load_phrase_file(DEFAULT_PHRASES_DIR / f"{language}.tsv", source=f"default:{language}")
    exclusions = DEFAULT_PHRASES_DIR / "exclusions.tsv"
    if exclusions.exists():
        entries += load_phrase_file(exclusions, source="default:exclusions")
    return tuple(entries)


# --- matching ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanResult:
    """What a scan found.

    ``severity`` is the highest severity matched, or None;
    ``categories`` the sorted categories of every match; ``matched`` the sorted
    normalised phrases that matched (internal use only: never into a push, an alert's
    public fields or the audit log)."""

    severity: Severity | None
    categories: tuple[str, ...]
    matched: tuple[str, ...]

    @property
    def matched_any(self) -> bool:
        return self.severity is not None

    @property
    def severity_rank(self) -> int:
        """The severity as an alert stores it (0 when nothing matched)."""
        return self.severity.rank if self.severity else 0


NO_MATCH = ScanResult(severity=None, categories=(), matched=())


class PhraseMatcher:
    """A compiled set of phrases; ``scan`` is safe to call from many threads at once.

    Phrases are stored in the automaton with a space on either side (" vill do "), and
    the text is scanned with one added on either side, so every match starts and ends on
    a word boundary of the normalised text and "dö" never fires inside "döbeln". A
    prefix phrase has no trailing space. Aho-Corasick reports overlapping matches too,
    so every phrase in a message is seen, not just the leftmost."""

    def __init__(self, entries: Iterable[PhraseEntry]) -> None:
        grouped: dict[str, list[PhraseEntry]] = {}
        for entry in entries:
            needle = f" {entry.key}" if entry.prefix else f" {entry.key} "
            grouped.setdefault(needle, []).append(entry)
        self.phrase_count = sum(len(group) for group in grouped.values())
        self.has_exclusions = any(entry.exclusion for group in grouped.values() for entry in group)
        self._automaton: Any = None
        if grouped:
            automaton = ahocorasick.Automaton()
            for needle, group in grouped.items():
                automaton.add_word(needle, (len(needle), tuple(group)))
            automaton.make_automaton()
            self._automaton = automaton

    def _matches(self, normalised: str, found: list[tuple[int, int, PhraseEntry]]) -> None:
        padded = f" {normalised} "
        for end, (length, group) in self._automaton.iter(padded):
            start = end - length + 2  # first letter of the phrase
            for entry in group:
                # A prefix match reaches to the end of the word it started.
                stop = padded.find(" ", end + 1) - 1 if entry.prefix else end - 1
                found.append((start, stop, entry))

    def scan(self, text: str) -> ScanResult:
        """Normalise ``text`` and report every phrase in it (see ``ScanResult``)."""
        return self.scan_normalised(normalised_variants(text))

    def scan_normalised(self, variants: Sequence[str]) -> ScanResult:
        """Like ``scan`` for text already normalised (one or more readings of it)."""
        if self._automaton is None:
            return NO_MATCH
        best = 0
        categories: set[str] = set()
        matched: set[str] = set()
        for normalised in variants:
            found: list[tuple[int, int, PhraseEntry]] = []
            self._matches(normalised, found)
            if not found:
                continue
            excluded = [(start, stop) for start, stop, entry in found if entry.exclusion]
            for start, stop, entry in found:
                if entry.exclusion:
                    continue
                if any(ex_start <= start and stop <= ex_stop for ex_start, ex_stop in excluded):
                    continue
                best = max(best, Severity(entry.severity).rank)
                categories.add(entry.category)
                matched.add(entry.label)
        if not best:
            return NO_MATCH
        return ScanResult(
            severity=Severity.of_rank(best), categories=tuple(sorted(categories)), matched=tuple(sorted(matched))
        )


def compile_matcher(extra: Iterable[PhraseEntry] = ()) -> PhraseMatcher:
    """A matcher for the default lists plus ``extra`` phrases."""
    return PhraseMatcher([*default_entries(), *extra])
