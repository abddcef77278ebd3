"""Scanning a defector's message for crisis language, with the programme's own lists.

The language itself (normalisation, the Aho-Corasick matcher, the shipped lists) is
``crisis.language``; this module adds the programme's active phrase lists from the
database and keeps one compiled matcher per programme in-process, rebuilt only when the
programme's list version changes. Finding the version costs one small query per scan;
the defaults are compiled once per process.
"""

from __future__ import annotations

import datetime as dt
import threading
from functools import cache
from typing import TypeAlias

from django.db.models import Max, Sum

from backend.crisis.language import PhraseEntry, PhraseMatcher, ScanResult, compile_matcher, parse_phrase
from backend.crisis.models import Phrase, PhraseList

__all__ = ["clear_cache", "matcher_for", "scan_text"]

_cache_lock = threading.Lock()
# A programme's phrase version and the time of its latest change (None: no lists yet).
_ListState: TypeAlias = tuple[int, dt.datetime | None]
# programme id -> (list state, matcher). Only the newest state of each programme is
# kept: versions only grow, so an older one is never asked for again.
_programme_matchers: dict[int, tuple[_ListState, PhraseMatcher]] = {}


@cache
def _default_matcher() -> PhraseMatcher:
    return compile_matcher()


def _programme_state(programme_id: int) -> _ListState:
    """The programme's phrase version (the sum of its lists' versions: every change bumps
    one list by one under a lock on the programme row, so it only grows) and the time of
    its latest change. The time guards the cache against a version number coming back,
    as it does when a test database rolls back and the same ids are handed out again."""
    row = PhraseList.objects.filter(programme_id=programme_id).aggregate(v=Sum("version"), t=Max("updated_at"))
    return int(row["v"] or 0), row["t"]


def _programme_entries(programme_id: int) -> list[PhraseEntry]:
    entries = []
    rows = Phrase.objects.filter(phrase_list__programme_id=programme_id, phrase_list__is_active=True).values_list(
        "pk", "phrase", "severity", "category", "is_exclusion", "concept"
    )
    for pk, phrase, severity, category, is_exclusion, concept in rows:
        # Normalised afresh rather than read from the stored column, so a change in the
        # normalisation rules can never leave old phrases unmatched.
        key, prefix = parse_phrase(phrase)
        if key:
            entries.append(PhraseEntry(key, severity, category, is_exclusion, prefix, f"phrase:{pk}", concept))
    return entries


def matcher_for(programme_id: int | None) -> PhraseMatcher:
    """The compiled matcher for a programme (defaults + its active lists), from the
    in-process cache when the programme's version has not changed. One query when the
    cache is current; a rebuild (one more query and a compile) when it is not."""
    if programme_id is None:
        return _default_matcher()
    state = _programme_state(programme_id)
    if state[0] == 0:
        return _default_matcher()
    cached = _programme_matchers.get(programme_id)
    if cached is not None and cached[0] == state:
        return cached[1]
    with _cache_lock:
        cached = _programme_matchers.get(programme_id)
        if cached is not None and cached[0] == state:
            return cached[1]
        # Read under READ COMMITTED, the phrases may already include a change committed
        # after the version was read; the next scan sees the newer version and rebuilds.
        matcher = compile_matcher(_programme_entries(programme_id))
        _programme_matchers[programme_id] = (state, matcher)
        return matcher


def scan_text(text: str, *, programme_id: int | None) -> ScanResult:
    """Scan one message with the defaults and the programme's active lists.

    Runs inside the caller's transaction (the message send) and does not write. Costs
    one query per call, plus a compile after the programme's lists changed."""
    return matcher_for(programme_id).scan(text)


def clear_cache() -> None:
    """Forget every compiled programme matcher (the defaults stay compiled)."""
    with _cache_lock:
        _programme_matchers.clear()
