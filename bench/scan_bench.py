#!/usr/bin/env python
"""Crisis-scan throughput: the Aho-Corasick matcher against a regular-expression alternation.

    .venv/bin/python bench/scan_bench.py --messages 20000 --extra 2000

Both sides match the same phrases (the shipped Swedish and English lists, their
exclusions, plus ``--extra`` generated phrases) on the same normalised text, one core,
in this one process, no database:
- **Aho-Corasick**: ``backend.crisis.language.PhraseMatcher`` (pyahocorasick) with the
  shipped rules and text model (``--without-model``: none), exactly what ``scan_text``
  runs once its matcher is compiled; the model alone is timed too.
- **regex**: one compiled ``re`` alternation, longest phrase first, with ``\\b`` word
  boundaries (a prefix phrase as ``\\bstem\\w*``), found with ``finditer``; each hit is
  mapped back to its phrases and the severity and categories are computed the same way.
  ``finditer`` returns leftmost, non-overlapping matches only, so it does strictly less
  work than the matcher, which reports every overlapping phrase, applies exclusions and
  blockers and evaluates the co-occurrence rules (the regex has no concept words).

The messages are generated from a fixed seed: mostly everyday Swedish and English chat,
some with a crisis phrase inside (``--hit-rate``). Figures are messages per second,
end to end (normalisation + matching) and matching alone (text normalised beforehand).
The best of ``--repeat`` runs is reported.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.crisis import language
from backend.crisis.language import PhraseEntry, ScanResult
from backend.crisis.severity import Severity
from backend.crisis.text_model import default_text_model

SV_BENIGN = [
    "hej {name}, kan vi ses på {day} istället",
    "tack för igår, det kändes bra att prata",
    "jag har tid hos läkaren {day} klockan {hour}",
    "vi åt middag hos min {who} och kollade på film",
    "kan du skicka blanketten till försäkringskassan igen",
    "bussen var sen så jag kommer typ {minutes} minuter sent",
    "jobbet går bra, chefen är schysst",
    "har handlat mat och städat lägenheten",
    "min {who} fyller år på {day}, vi ska fira",
    "sov dåligt inatt men det är okej nu",
    "ska till gymmet sen, hörs ikväll",
    "fick ett brev från skatteverket, kan du hjälpa mig läsa det",
    "vi spelade fotboll i parken hela eftermiddagen",
    "jag dör av skratt åt den här videon",
    "kan vi skjuta upp mötet till nästa vecka",
    "det var mördande tråkigt på kursen idag",
]
EN_BENIGN = [
    "hi {name}, can we move our meeting to {day_en}",
    "thanks for yesterday, it really helped",
    "the bus was late again, be there in {minutes} minutes",
    "went to the gym and then cooked dinner for my {who_en}",
    "just killing time before the appointment",
    "see you at the bridge club on {day_en}",
    "got a new job interview at {hour} tomorrow",
    "shoot me a text when you're free",
]
SV_HITS = [
    "jag orkar inte mer {name}",
    "de vet var jag bor, vad gör jag",
    "har tagit alla tabletter",
    "någon följer efter mig från stationen",
    "han har en pang hemma",
    "vill inte leva längre",
    "börjat knarka igen sorry",
    "hjääälp de e här",
]
EN_HITS = [
    "they know where i live now",
    "i want to kill myself",
    "took all my pills an hour ago",
    "someone is following me, same car outside",
    "relapsed last night, back on coke",
]
FILL = {
    "name": ["Sara", "Ali", "Jonna", "Mehmet", "Erik", "Leila"],
    "day": ["måndag", "tisdag", "onsdag", "torsdag", "fredag"],
    "day_en": ["monday", "tuesday", "wednesday", "thursday", "friday"],
    "hour": ["9", "10.30", "13", "15:45"],
    "minutes": ["5", "10", "20"],
    "who": ["mamma", "syster", "kusin", "granne"],
    "who_en": ["mum", "sister", "cousin", "neighbour"],
}
SYLLABLES = ["ka", "lo", "mi", "ren", "sto", "vik", "ber", "gal", "nor", "pe", "tra", "sun", "dal", "ek", "fjä", "ul"]


def fill(template: str, rng: random.Random) -> str:
    return template.format(**{key: rng.choice(values) for key, values in FILL.items()})


def generate_messages(count: int, hit_rate: float, rng: random.Random) -> list[str]:
    messages = []
    for _ in range(count):
        swedish = rng.random() < 0.7
        hit = rng.random() < hit_rate
        pool = (SV_HITS if swedish else EN_HITS) if hit else (SV_BENIGN if swedish else EN_BENIGN)
        text = fill(rng.choice(pool), rng)
        # Chat is often two or three thoughts in one message.
        while rng.random() < 0.35:
            text += ". " + fill(rng.choice(SV_BENIGN if swedish else EN_BENIGN), rng)
        messages.append(text)
    return messages


def generate_phrases(count: int, rng: random.Random) -> list[PhraseEntry]:
    """Made-up words in two- and three-word phrases: they cost the matcher what real
    phrases would and fire on nothing."""
    seen: set[str] = set()
    entries = []
    while len(entries) < count:
        words = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(rng.randint(2, 3))]
        key, prefix = language.parse_phrase(" ".join(words) + ("*" if rng.random() < 0.1 else ""))
        if key in seen:
            continue
        seen.add(key)
        entries.append(
            PhraseEntry(key, rng.choice(list(Severity)), rng.choice(language.CATEGORIES), prefix=prefix, source="bench")
        )
    return entries


class RegexMatcher:
    """The baseline: one alternation over the same phrases, word-bounded."""

    def __init__(self, entries: Sequence[PhraseEntry]) -> None:
        self.positive: dict[str, list[PhraseEntry]] = {}
        patterns = []
        for entry in entries:
            if entry.exclusion or entry.concept:
                # An alternation cannot say "inside another match" or "near another
                # word": exclusions, concept words and rules are left out.
                continue
            pattern = re.escape(entry.key) + (r"\w*" if entry.prefix else "")
            self.positive.setdefault(entry.key, []).append(entry)
            patterns.append(pattern)
        patterns = sorted(set(patterns), key=len, reverse=True)
        self.regex = re.compile(r"\b(?:" + "|".join(patterns) + r")\b")
        self.prefixes = sorted({e.key for e in entries if e.prefix and not e.exclusion}, key=len, reverse=True)

    def _entries_for(self, found: str) -> list[PhraseEntry]:
        exact = self.positive.get(found)
        if exact:
            return exact
        for stem in self.prefixes:
            if found.startswith(stem):
                return self.positive[stem]
        return []

    def scan_normalised(self, variants: Sequence[str]) -> ScanResult:
        best = 0
        categories: set[str] = set()
        matched: set[str] = set()
        for text in variants:
            for hit in self.regex.finditer(text):
                for entry in self._entries_for(hit.group(0)):
                    best = max(best, Severity(entry.severity).rank)
                    categories.add(entry.category)
                    matched.add(entry.label)
        if not best:
            return language.NO_MATCH
        return ScanResult(Severity.of_rank(best), tuple(sorted(categories)), tuple(sorted(matched)))

    def scan(self, text: str) -> ScanResult:
        return self.scan_normalised(language.normalised_variants(text))


def measure(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    best = float("inf")
    hits = 0
    for _ in range(repeat):
        started = time.perf_counter()
        hits = run()
        best = min(best, time.perf_counter() - started)
    return best, hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--extra", type=int, default=2_000, help="generated phrases on top of the defaults")
    parser.add_argument("--hit-rate", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--without-model", action="store_true", help="the matcher without the text model")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    messages = generate_messages(args.messages, args.hit_rate, rng)
    extra = generate_phrases(args.extra, rng)
    entries = [*language.default_entries(), *extra]

    started = time.perf_counter()
    model = None if args.without_model else default_text_model()
    automaton = language.PhraseMatcher(entries, language.default_rules(), model)
    ac_compile = time.perf_counter() - started
    started = time.perf_counter()
    regex = RegexMatcher(entries)
    regex_compile = time.perf_counter() - started

    normalised = [language.normalised_variants(text) for text in messages]
    norm_time, _ = measure(lambda: sum(len(language.normalised_variants(t)) for t in messages), args.repeat)

    def counting(scan: Callable[[Any], ScanResult], inputs: Sequence[Any]) -> Callable[[], int]:
        return lambda: sum(scan(item).matched_any for item in inputs)

    ac_e2e, ac_hits = measure(counting(automaton.scan, messages), args.repeat)
    re_e2e, re_hits = measure(counting(regex.scan, messages), args.repeat)
    ac_match, _ = measure(counting(automaton.scan_normalised, normalised), args.repeat)
    re_match, _ = measure(counting(regex.scan_normalised, normalised), args.repeat)
    text_model = default_text_model()
    model_alone, _ = measure(lambda: sum(text_model.alert_category(v) is not None for v in normalised), args.repeat)

    n = len(messages)
    chars = sum(len(m) for m in messages)
    print(
        f"phrases: {len(entries)} ({len(language.default_entries())} default incl. exclusions + {len(extra)} generated)"
    )
    print(
        f"messages: {n} ({chars / n:.0f} characters on average, {args.hit_rate:.0%} written to hit), "
        f"best of {args.repeat}"
    )
    print(f"text model: {'off' if model is None else 'on'} (asked when nothing else matched)")
    print(f"compile: aho-corasick {ac_compile * 1000:.1f} ms, regex {regex_compile * 1000:.1f} ms")
    print(f"messages flagged: aho-corasick {ac_hits}, regex {re_hits} (regex has no exclusions or rules)")
    print(f"normalisation alone: {n / norm_time:,.0f} msg/s")
    print(
        f"end to end (normalise + match): aho-corasick {n / ac_e2e:,.0f} msg/s, "
        f"regex {n / re_e2e:,.0f} msg/s, ratio {re_e2e / ac_e2e:.1f}x"
    )
    print(
        f"matching alone:                 aho-corasick {n / ac_match:,.0f} msg/s, "
        f"regex {n / re_match:,.0f} msg/s, ratio {re_match / ac_match:.1f}x"
    )
    print(f"text model alone (normalised text): {n / model_alone:,.0f} msg/s")


if __name__ == "__main__":
    main()
