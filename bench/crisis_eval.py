#!/usr/bin/env python
"""Precision and recall of the crisis scanner on the labelled evaluation set.

    .venv/bin/python bench/crisis_eval.py                  # every split
    .venv/bin/python bench/crisis_eval.py --split validation_b --split dev
    .venv/bin/python bench/crisis_eval.py --misses   # and the rows scored wrong of the splits tuned on

Reads the labelled files of ``tests/crisis/corpus/`` (their README says how each was
written) and scans every row with the shipped lists, rules and text model
(``backend.crisis.language.compile_matcher()``, no database; ``--without-model``: the lists
and rules alone):

- ``eval_set.tsv``: ``dev`` (tuned on since the first round) and the frozen ``held_out``;
- ``validation_set.tsv``: ``validation_a`` and ``validation_b``, written before the second
  round of rule work;
- ``ordinary_probe.tsv``: ``probe``, ordinary chat written during that round to find false
  alarms, and tuned on;
- ``fresh_set.tsv``: ``fresh_a`` and ``fresh_b``, written before the third round by four
  authors who had seen no rule, no list and no other message;
- ``fresh_ordinary.tsv``: ``probe_fresh``, ordinary chat by two more such authors, tuned on;
- ``fresh2_set.tsv``: ``fresh2_a`` and ``fresh2_b``, by five more such authors, written
  during the third round after its first changes;
- ``fresh3_set.tsv``: ``fresh3_a`` and ``fresh3_b``, by four more such authors, written
  after the round's second changes;
- ``fresh4_set.tsv``: ``fresh4_a`` and ``fresh4_b``, by four more such authors, written
  after its third changes;
- ``fresh5_set.tsv``: ``fresh5_a`` and ``fresh5_b``, by four more such authors, written
  after the text model's settings were fixed; the fifth pass tuned rules on its a half;
- ``fresh6_set.tsv``: ``fresh6_a`` and ``fresh6_b``, by eight more such authors, half as
  many self-harm messages again as of each other category; likewise;
- ``fresh7_set.tsv``: ``fresh7_a`` and ``fresh7_b``, by eight more such authors, twice as
  many self-harm messages as of each other category, written at the start of the fifth
  pass of rule work;
- ``fresh8_set.tsv``: ``fresh8_a`` and ``fresh8_b``, by eight more such authors, as fresh7,
  written during the fifth pass and scanned first by its rules;
- ``fresh9_set.tsv``: ``fresh9_a`` and ``fresh9_b``, by four more such authors, as fresh7,
  written after the fifth pass and scanned first by its rules and model;
- ``fresh10_set.tsv``: ``fresh10_a`` and ``fresh10_b``, by four more such authors, as
  fresh7, written after the sixth pass and scanned first by its rules and model;
- ``fresh11_set.tsv``: ``fresh11_a`` and ``fresh11_b``, by four more such authors, as
  fresh7, written after the model's eighth round and scanned first by its rules and model;
- ``fresh12_set.tsv``: ``fresh12_a`` and ``fresh12_b``, by four more such authors, as
  fresh7, written after the eighth round's rules and model landed and scanned first by them;
- ``fresh13_set.tsv``: ``fresh13_a`` and ``fresh13_b``, by four more such authors, as
  fresh7, written after the ninth round landed and scanned first by its rules and model;
- ``fresh14_set.tsv``: ``fresh14_a`` and ``fresh14_b``, by four more such authors, as
  fresh7, written after the tenth round's critical veto and scanned first by it;
- ``fresh15_set.tsv``: ``fresh15_a`` and ``fresh15_b``, by four more such authors, as
  fresh7, written after the tenth round landed and scanned first by its rules and model;
- ``fresh16_set.tsv``: ``fresh16_a`` and ``fresh16_b``, by four more such authors, as
  fresh7, written after the tenth round landed and scanned first by it and by the model
  that had learned fresh15;
- ``fresh17_set.tsv``: ``fresh17_a`` and ``fresh17_b``, by four more such authors, as
  fresh7, written after the model learned fresh15 and fresh16 and scanned first by the
  tenth round and by that model; not learned (``NOT_LEARNED``);
- ``contrast_set.tsv``: ``contrast_a`` and ``contrast_b``, pairs of a crisis and an ordinary
  message that share its alarming words, by six more such authors, written after the
  eleventh round landed and scanned first by it; not learned (``NOT_LEARNED``);
- ``relapse_set.tsv``: ``relapse_a``, relapse said shortly or half said and ordinary
  look-alikes, by three more such authors who read the older set's style, tuned on in the
  thirteenth round; ``relapse_b``, by two more, written before its rules were measured on
  them; not learned (``NOT_LEARNED``);
- ``everyday_set.tsv``: ``everyday_a`` and ``everyday_b``, ordinary chat only, in the same
  style, by two more such authors, rows alternating between the halves, written after the
  round's first rules; tuned on ``everyday_a``; not learned (``NOT_LEARNED``);
- ``medicine_set.tsv``: ``medicine_a`` and ``medicine_b``, ordinary chat only about medicine,
  pills, doses and drink said in an ordinary way, in the same style, by two more such
  authors, rows alternating between the halves, written in the fourteenth round and
  scanned first by its scanner; tuned on ``medicine_a``; not learned (``NOT_LEARNED``);
- ``dose_set.tsv``: ``dose_a`` and ``dose_b``, ordinary chat only, written hard on purpose
  (doses and numbers, drink and drugs near the writer, the words a crisis uses in another
  sense), in the same style, by two more such authors, rows alternating between the
  halves, written in the fifteenth round and scanned first by the fourteenth round's
  scanner; tuned on ``dose_a``; not learned (``NOT_LEARNED``);
- ``everyday2_set.tsv``: ``everyday2_a`` and ``everyday2_b``, everyday ordinary chat, a third
  of it with words a crisis could use, in the same style, by two more such authors, rows
  alternating between the halves, written after the fifteenth round's changes and scanned
  first by its scanner; neither half tuned on yet; not learned (``NOT_LEARNED``).

``validation`` and the ``fresh`` sets are both their halves together. A row counts as
alerted when the scan matched anything. For each split it prints:

- per category of the labelled positives: how many, how many alerted (recall), and the
  precision of the alerts the scanner put in that category (an alert "in" a category is
  one whose rule categories map to it, see ``RULE_TO_EVAL``; precision = share of those
  alerts that were labelled 1, whatever their labelled category);
- overall precision and recall, per language too;
- false alarms per 1,000 ordinary messages (label-0 rows that alerted, per 1,000 label-0
  rows).

The text model learned from every split but ``held_out`` and the sets ``NOT_LEARNED``
(``model_examples``), so with it the splits it learned flatter; ``--cross`` adds each ``_b``
half scanned with a model trained without its whole set (``cross_evaluate``), the figure
for authors it never read.

``--misses`` lists the wrongly scored rows of the splits tuned on (``MISSES_SHOWN_FOR``)
only: the ``held_out`` rows are frozen and never read one by one while rules are tuned,
and the ``_b`` halves are read only in aggregate, so they stay honest estimates
(tests/crisis/corpus/README.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache, partial
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.crisis.language import (
    CATEGORIES,
    PhraseMatcher,
    compile_matcher,
    default_entries,
    default_rules,
    normalise,
)
from backend.crisis.text_model import TextModel
from backend.crisis.text_model_training import Example, train

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "crisis" / "corpus"
EVAL_SET = CORPUS / "eval_set.tsv"
VALIDATION_SET = CORPUS / "validation_set.tsv"
PROBE_SET = CORPUS / "ordinary_probe.tsv"
FRESH_SET = CORPUS / "fresh_set.tsv"
FRESH_ORDINARY_SET = CORPUS / "fresh_ordinary.tsv"
FRESH2_SET = CORPUS / "fresh2_set.tsv"
FRESH3_SET = CORPUS / "fresh3_set.tsv"
FRESH4_SET = CORPUS / "fresh4_set.tsv"
FRESH5_SET = CORPUS / "fresh5_set.tsv"
FRESH6_SET = CORPUS / "fresh6_set.tsv"
FRESH7_SET = CORPUS / "fresh7_set.tsv"
FRESH8_SET = CORPUS / "fresh8_set.tsv"
FRESH9_SET = CORPUS / "fresh9_set.tsv"
FRESH10_SET = CORPUS / "fresh10_set.tsv"
FRESH11_SET = CORPUS / "fresh11_set.tsv"
FRESH12_SET = CORPUS / "fresh12_set.tsv"
FRESH13_SET = CORPUS / "fresh13_set.tsv"
FRESH14_SET = CORPUS / "fresh14_set.tsv"
FRESH15_SET = CORPUS / "fresh15_set.tsv"
FRESH16_SET = CORPUS / "fresh16_set.tsv"
FRESH17_SET = CORPUS / "fresh17_set.tsv"
CONTRAST_SET = CORPUS / "contrast_set.tsv"
RELAPSE_SET = CORPUS / "relapse_set.tsv"
EVERYDAY_SET = CORPUS / "everyday_set.tsv"
MEDICINE_SET = CORPUS / "medicine_set.tsv"
DOSE_SET = CORPUS / "dose_set.tsv"
EVERYDAY2_SET = CORPUS / "everyday2_set.tsv"
LABELLED_FILES = (
    EVAL_SET,
    VALIDATION_SET,
    PROBE_SET,
    FRESH_SET,
    FRESH_ORDINARY_SET,
    FRESH2_SET,
    FRESH3_SET,
    FRESH4_SET,
    FRESH5_SET,
    FRESH6_SET,
    FRESH7_SET,
    FRESH8_SET,
    FRESH9_SET,
    FRESH10_SET,
    FRESH11_SET,
    FRESH12_SET,
    FRESH13_SET,
    FRESH14_SET,
    FRESH15_SET,
    FRESH16_SET,
    FRESH17_SET,
    CONTRAST_SET,
    RELAPSE_SET,
    EVERYDAY_SET,
    MEDICINE_SET,
    DOSE_SET,
    EVERYDAY2_SET,
)
# Sets written in two halves: the a half is tuned on (its misses are listed), the b half
# is read in aggregate only; the set's own name reports both together.
HALVED = (
    "validation",
    "fresh",
    "fresh2",
    "fresh3",
    "fresh4",
    "fresh5",
    "fresh6",
    "fresh7",
    "fresh8",
    "fresh9",
    "fresh10",
    "fresh11",
    "fresh12",
    "fresh13",
    "fresh14",
    "fresh15",
    "fresh16",
    "fresh17",
    "contrast",
    "relapse",
    "everyday",
    "medicine",
    "dose",
    "everyday2",
)
SPLIT_PARTS = {name: (f"{name}_a", f"{name}_b") for name in HALVED}
SPLITS = (
    "dev",
    *(split for name in HALVED for split in (name, *SPLIT_PARTS[name])),
    "probe",
    "probe_fresh",
    "held_out",
)
MISSES_SHOWN_FOR = ("dev", *(SPLIT_PARTS[name][0] for name in HALVED), "probe", "probe_fresh")
EVAL_CATEGORIES = ("self_harm", "threat", "located", "violence", "overdose", "substance")
# The scanner's categories (backend.crisis.language.CATEGORIES) named as the set names them.
RULE_TO_EVAL = {
    "self_harm": "self_harm",
    "threat": "threat",
    "located": "located",
    "weapons": "violence",
    "overdose": "overdose",
    "relapse": "substance",
}
EVAL_TO_RULE = {name: category for category, name in RULE_TO_EVAL.items()}
# The split no model ever learns from.
FROZEN = "held_out"
# Halved sets kept as blind tests of the shipped text model, which has not learned them
# (``model_examples``). Learning fresh17 put "some asshole ran me over on my bike and
# drove off", a crisis written for the rules, under the critical veto (docs/crisis-language.md,
# "The model's eleventh round"), so it waits for a model that keeps that text. Learning
# the contrast pairs bought no fewer false alarms on the other sets than a seed moves, for
# fewer crises found ("The model's twelfth round"), so they stay the blind test of how
# the model reads alarming words in ordinary chat. The relapse and everyday sets were
# written to test the thirteenth round's rules, and the medicine set the fourteenth's, and
# kept out so that their figures read the rules and the model shipped, not a model
# retrained on them.
NOT_LEARNED = ("fresh17", "contrast", "relapse", "everyday", "medicine", "dose", "everyday2")


@dataclass(frozen=True)
class Row:
    split: str
    label: int
    category: str
    language: str
    text: str


@dataclass
class Tally:
    positives: int = 0
    alerted: int = 0

    @property
    def recall(self) -> float:
        return self.alerted / self.positives if self.positives else 1.0


@dataclass
class Scored:
    """The figures of one split."""

    rows: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    negatives: int = 0
    recall_by_category: dict[str, Tally] = field(default_factory=dict)
    # alerts attributed to a category: (labelled 1, all)
    alerts_by_category: dict[str, list[int]] = field(default_factory=dict)
    by_language: dict[str, list[int]] = field(default_factory=dict)  # tp, fp, fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def false_alarms_per_1000(self) -> float:
        return 1000 * self.fp / self.negatives if self.negatives else 0.0

    def category_precision(self, category: str) -> float:
        good, total = self.alerts_by_category.get(category, [0, 0])
        return good / total if total else 1.0


def read_rows(path: Path = EVAL_SET) -> list[Row]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip() or line.startswith("#"):
                continue
            split, label, category, lang, text = line.rstrip("\n").split("\t")
            rows.append(Row(split, int(label), category, lang, text))
    return rows


def score(rows: Iterable[Row], matcher: PhraseMatcher) -> Scored:
    scored = Scored(recall_by_category={c: Tally() for c in EVAL_CATEGORIES})
    for row in rows:
        result = matcher.scan(row.text)
        alerted = result.matched_any
        scored.rows += 1
        lang = scored.by_language.setdefault(row.language, [0, 0, 0])
        if row.label:
            tally = scored.recall_by_category[row.category]
            tally.positives += 1
            tally.alerted += alerted
        else:
            scored.negatives += 1
        if alerted and row.label:
            scored.tp += 1
            lang[0] += 1
        elif alerted:
            scored.fp += 1
            lang[1] += 1
        elif row.label:
            scored.fn += 1
            lang[2] += 1
        if alerted:
            for category in {RULE_TO_EVAL.get(c, c) for c in result.categories}:
                counts = scored.alerts_by_category.setdefault(category, [0, 0])
                counts[0] += row.label
                counts[1] += 1
    return scored


def read_all_rows() -> list[Row]:
    """The rows of every labelled file."""
    return [row for path in LABELLED_FILES for row in read_rows(path)]


def model_examples(rows: Iterable[Row], *, leaving_out: str | None = None) -> list[Example]:
    """What a text model learns from: every labelled row but the frozen ``held_out``, the
    sets ``NOT_LEARNED``, and the halved set ``leaving_out`` (both its halves)."""
    sets_left_out = (*NOT_LEARNED, leaving_out) if leaving_out else NOT_LEARNED
    left_out = {FROZEN, *(part for name in sets_left_out for part in SPLIT_PARTS[name])}
    return [
        Example(normalise(row.text), row.label, EVAL_TO_RULE[row.category] if row.label else "")
        for row in rows
        if row.split not in left_out
    ]


def train_text_model(rows: Iterable[Row], leaving_out: str | None = None) -> TextModel:
    """The text model trained on ``model_examples`` (the shipped one: ``leaving_out=None``
    on every labelled row)."""
    return train(model_examples(rows, leaving_out=leaving_out), CATEGORIES)


def cross_evaluate(matcher: PhraseMatcher, rows: Sequence[Row], sets: Iterable[str] = HALVED) -> dict[str, Scored]:
    """For each halved set, its b half scanned by the shipped lists and rules with a text
    model trained without that set: how the model does on authors it never read. The
    models are trained side by side, one process per core (training is pure Python, one
    model at a time per process, and most of the time this takes)."""
    names = list(sets)
    # A set the model does not learn anyway (``NOT_LEARNED``) is scanned with the model
    # trained on everything, once, not with a copy of it trained again.
    left_out = list(dict.fromkeys(None if name in NOT_LEARNED else name for name in names))
    # "spawn": a fresh interpreter per worker, which inherits no thread, lock or
    # connection of the caller (the test suite's Django process among them).
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1, mp_context=get_context("spawn")) as pool:
        models = dict(zip(left_out, pool.map(partial(train_text_model, rows), left_out), strict=True))
    return {
        f"{name}_b": score(
            [row for row in rows if row.split == SPLIT_PARTS[name][1]],
            matcher.with_text_model(models[None if name in NOT_LEARNED else name]),
        )
        for name in names
    }


def evaluate(matcher: PhraseMatcher | None = None, rows: Sequence[Row] | None = None) -> dict[str, Scored]:
    """The figures of each split, with the shipped lists unless ``matcher`` is given."""
    matcher = matcher or compile_matcher()
    rows = rows if rows is not None else read_all_rows()
    return {split: score([r for r in rows if r.split in SPLIT_PARTS.get(split, (split,))], matcher) for split in SPLITS}


def report(split: str, scored: Scored) -> str:
    lines = [f"== {split}: {scored.rows} messages, {scored.negatives} ordinary (label 0)"]
    lines.append(f"{'category':<10} {'positives':>9} {'alerted':>7} {'recall':>6} {'alerts':>6} {'precision':>9}")
    for category in EVAL_CATEGORIES:
        tally = scored.recall_by_category[category]
        _, alerts = scored.alerts_by_category.get(category, [0, 0])
        lines.append(
            f"{category:<10} {tally.positives:>9} {tally.alerted:>7} {tally.recall:>6.3f} "
            f"{alerts:>6} {scored.category_precision(category):>9.3f}"
        )
    lines.append(
        f"overall: precision {scored.precision:.3f} recall {scored.recall:.3f} "
        f"(tp {scored.tp}, fp {scored.fp}, fn {scored.fn}); "
        f"false alarms {scored.false_alarms_per_1000:.1f} per 1,000 ordinary messages"
    )
    for lang, (tp, fp, fn) in sorted(scored.by_language.items()):
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        lines.append(f"  {lang}: precision {precision:.3f} recall {recall:.3f} (tp {tp}, fp {fp}, fn {fn})")
    return "\n".join(lines)


@cache
def relaxed_matchers() -> tuple[PhraseMatcher, PhraseMatcher]:
    """The shipped lists and rules without blockers, and without blockers or exclusions."""
    entries = default_entries()
    rules = replace(default_rules(), blockers=())
    return PhraseMatcher(entries, rules), PhraseMatcher([e for e in entries if not e.exclusion], rules)


def cancelled_report(split: str, rows: Iterable[Row], matcher: PhraseMatcher) -> str:
    """Of a split's missed positives, per category, how many a blocker or an exclusion
    cancelled (they alert without blockers, or without blockers and exclusions) and how
    many have nothing near them at all. Counts only: no row is shown."""
    unblocked, bare = relaxed_matchers()
    counts: Counter[tuple[str, str]] = Counter()
    for row in rows:
        if not row.label or matcher.scan(row.text).matched_any:
            continue
        by_blocker = unblocked.scan(row.text).matched_any
        by_exclusion = not by_blocker and bare.scan(row.text).matched_any
        reason = "blocker" if by_blocker else "exclusion" if by_exclusion else "nothing"
        counts[row.category, reason] += 1
    lines = [f"== {split}: missed positives, cancelled by a blocker / by an exclusion / nothing near"]
    for category in EVAL_CATEGORIES:
        lines.append(
            f"{category:<10} {counts[category, 'blocker']:>3} / {counts[category, 'exclusion']:>3} / "
            f"{counts[category, 'nothing']:>3}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--misses",
        action="store_true",
        help="list the rows scored wrong of the splits tuned on (never held_out or a b half)",
    )
    parser.add_argument(
        "--cancelled",
        action="store_true",
        help="count, per category, the misses a blocker or an exclusion cancelled (counts only, every split)",
    )
    parser.add_argument(
        "--cross",
        action="store_true",
        help="also each b half with a text model trained without its set (authors the model never read)",
    )
    parser.add_argument("--without-model", action="store_true", help="the lists and rules alone, no text model")
    parser.add_argument("--split", choices=SPLITS, action="append", help="only these splits (default: all)")
    args = parser.parse_args()
    matcher = compile_matcher()
    if args.without_model:
        matcher = matcher.with_text_model(None)
    chosen = args.split or SPLITS
    # Only the chosen splits are scanned: a run for dev does not compute held_out at all.
    wanted = {part for split in chosen for part in SPLIT_PARTS.get(split, (split,))}
    rows = [row for row in read_all_rows() if row.split in wanted]
    figures = evaluate(matcher, rows)
    for split in chosen:
        print(report(split, figures[split]))
        if args.cancelled:
            parts = SPLIT_PARTS.get(split, (split,))
            print(cancelled_report(split, [row for row in rows if row.split in parts], matcher))
    if args.cross:
        # Every row but held_out, whichever splits were chosen for the report: what the cross
        # models learn from, and the b halves they score (those of the sets NOT_LEARNED among them).
        training_rows = [row for row in read_all_rows() if row.split != FROZEN]
        for split, scored in cross_evaluate(matcher, training_rows).items():
            print(report(f"{split} (text model trained without its set)", scored))
    if args.misses:
        print(f"== {' and '.join(MISSES_SHOWN_FOR)} rows scored wrong (split, label, category, language, text, rules)")
        for row in rows:
            if row.split not in MISSES_SHOWN_FOR:
                continue
            result = matcher.scan(row.text)
            if result.matched_any != bool(row.label):
                print(
                    f"{row.split}\t{row.label}\t{row.category}\t{row.language}\t{row.text}\t{','.join(result.matched)}"
                )


if __name__ == "__main__":
    main()
