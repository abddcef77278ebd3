"""A learned second opinion next to the rules: a linear model over the words of a message.

Rules of words and windows catch what they were written for; a crisis hinted at in
words no rule lists ("ni behöver inte boka nån ny tid åt mig") slips past them. This model
weighs every word, every pair of adjacent words and every pair of words one word apart
of the normalised message (the form ``language.normalise`` gives), each as often as it
is written, learned from the labelled corpus by ``text_model_training``. The matcher
asks it twice: a message nothing matched alerts when the sum reaches the threshold, and
a match is dropped when every clause it lies in scores below the veto (the model is sure
it is ordinary chat; ``plainly_ordinary``). A critical match also needs the whole message
below a far lower bar, the critical veto (docs/crisis-language.md, "The model's tenth
round").

Two parts, both read from ``default_phrases/text_model.tsv``:
- the alert score: a bias plus one weight per feature (logistic regression); the model
  alerts when the score is at least the threshold, and vetoes below the veto, or below
  the critical veto for a critical match (all three log-odds);
- the category: one weight per feature and category (naive Bayes over the labelled
  crisis messages), read only when the model alerts; the highest sum names it.

Pure Python, no Django: a dictionary lookup per word and per pair, so it costs a few
microseconds a message (bench/scan_bench.py). Counting a feature as often as it is
written, not once, lets the score skip removing repeats, which paid for the pairs one
word apart (docs/crisis-language.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import chain, pairwise, repeat
from pathlib import Path

MODEL_FILE = Path(__file__).resolve().parent / "default_phrases" / "text_model.tsv"
# The reason an alert raised by the model carries, in place of a rule name.
MODEL_REASON = "text_model"
# Every model alert is "high": a hint weighed from many words, never certain enough for
# "critical", which only a named rule or listed phrase raises.
MODEL_SEVERITY = "high"


# The mark between the two words of a skipped pair ("orkar _ mer"): normalised text is
# letters, digits and spaces only, so no word or pair can look like one.
SKIP_MARK = "_"
# "orkar", "_", "mer": the parts of a skipped pair, one more than any other feature has.
_SKIPPED_PAIR_PARTS = 3


def one_word_apart(words: Sequence[str]) -> Iterator[tuple[str, str]]:
    """Every pair of words with one word between them ("orkar", "mer" in "orkar inte mer")."""
    return zip(words, words[2:], strict=False)


def well_formed(feature: str) -> bool:
    """Whether ``feature`` is one that ``features`` gives: a word ("ta"), a pair ("ta
    livet") or a pair one word apart ("orkar _ mer")."""
    parts = feature.split(" ")
    if len(parts) == _SKIPPED_PAIR_PARTS:
        if parts[1] != SKIP_MARK:
            return False
        parts = parts[::2]
    return len(parts) < _SKIPPED_PAIR_PARTS and all(parts) and SKIP_MARK not in parts


def features(normalised: str) -> list[str]:
    """The words of a normalised message, every pair of adjacent words ("ta livet") and
    every pair of words one word apart ("orkar _ mer", from "orkar inte mer")."""
    words = normalised.split()
    apart = (f"{first} {SKIP_MARK} {last}" for first, last in one_word_apart(words))
    return [*words, *map(" ".join, pairwise(words)), *apart]


@dataclass(frozen=True)
class TextModel:
    """A trained model (see the module docstring). ``threshold``, ``veto`` and
    ``critical_veto`` are log-odds: the model alerts when ``bias`` plus the weights of the message's features
    reach ``threshold``, and calls a passage plainly ordinary below ``veto``, or, for a
    whole message with a critical match in it, below ``critical_veto`` (never above
    ``veto``: a critical match must meet the ordinary bar too)."""

    bias: float
    threshold: float
    veto: float
    critical_veto: float
    weights: dict[str, float]
    categories: tuple[str, ...]
    category_bias: tuple[float, ...]
    category_weights: dict[str, tuple[float, ...]]
    # Derived from ``weights`` for speed: one table for every feature's form, a word as
    # it is, a pair as the tuple of its two words and a pair one word apart as a tuple of
    # three with ``SKIP_MARK`` between, so ``score`` sums one chain of lookups and builds
    # no joined string per pair.
    _table: dict[str | tuple[str, ...], float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.critical_veto > self.veto:
            # The matcher reads a one-clause message's critical match against the
            # critical veto alone, which holds only while it is the lower bar.
            raise ValueError(f"critical_veto {self.critical_veto} is above veto {self.veto}")
        table: dict[str | tuple[str, ...], float] = {}
        for feature, weight in self.weights.items():
            parts = feature.split(" ")  # the forms ``well_formed`` lets in
            table[parts[0] if len(parts) == 1 else tuple(parts)] = weight
        object.__setattr__(self, "_table", table)

    def score(self, normalised: str) -> float:
        """The alert log-odds of one normalised message. A word or pair counts as often as
        it occurs, as in training."""
        words = normalised.split()
        skipped = zip(words, repeat(SKIP_MARK), words[2:], strict=False)
        keys: Iterable[str | tuple[str, ...]] = chain(words, pairwise(words), skipped)
        total: float = sum(map(self._table.get, keys, repeat(0.0)))
        return self.bias + total

    def probability(self, normalised: str) -> float:
        return 1.0 / (1.0 + math.exp(-self.score(normalised)))

    def plainly_ordinary(self, passage: str, *, critical: bool = False) -> bool:
        """Whether a short passage (at most ``VETO_WORDS`` words) scores below the veto
        (below the critical veto when ``critical``): the matcher then drops a rule or
        listed phrase that fired inside it (a critical one only when the whole message is
        plainly ordinary at the critical veto too, or at the veto beside an ordinary sign:
        ``PhraseMatcher._vetoed``)."""
        veto = self.critical_veto if critical else self.veto
        return len(passage.split()) <= VETO_WORDS and self.score(passage) < veto

    def category(self, normalised: str) -> str:
        """The most likely crisis category of a message the model alerted on."""
        sums = list(self.category_bias)
        for feature in features(normalised):
            for index, weight in enumerate(self.category_weights.get(feature, ())):
                sums[index] += weight
        return self.categories[max(range(len(sums)), key=sums.__getitem__)]

    def alert_category(self, variants: Sequence[str]) -> str | None:
        """The category the model alerts in, for the first reading of the message that
        reaches the threshold; None when none does."""
        for normalised in variants:
            if self.score(normalised) >= self.threshold:
                return self.category(normalised)
        return None


# The veto reads only passages about as long as the messages the model learned from (a
# median of 12 words, nine in ten at most 18): in a longer one the small talk around a
# crisis could outweigh it.
VETO_WORDS = 20


def _number(cell: str, where: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f"{where}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {cell!r} is not a finite number")
    return value


# The header rows, in the order the file gives them, before any feature row.
_HEADER_ROWS = ("bias", "threshold", "veto", "critical_veto", "categories", "category_bias")
_ONE_NUMBER = ("bias", "threshold", "veto", "critical_veto")


@dataclass
class _Header:
    """The header rows read so far: each row's cells and where it was."""

    rows: dict[str, tuple[list[str], str]] = field(default_factory=dict)

    def add(self, row: str, cells: list[str], where: str) -> None:
        if row in self.rows:
            raise ValueError(f"{where}: {row} is given twice")
        if row in _ONE_NUMBER and len(cells) != 1:
            raise ValueError(f"{where}: {row} takes one number, found {len(cells)}")
        if row != "categories":
            for cell in cells:
                _number(cell, where)
        self.rows[row] = (cells, where)

    def number(self, row: str) -> float:
        cells, where = self.rows[row]
        return _number(cells[0], where)

    def checked(self, name: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
        """The categories and their biases, once every header row is in."""
        missing = [row for row in _HEADER_ROWS if row not in self.rows]
        if missing:
            raise ValueError(f"{name}: missing header rows {', '.join(missing)}")
        categories = tuple(self.rows["categories"][0])
        if not categories or not all(categories):
            raise ValueError(f"{self.rows['categories'][1]}: categories needs at least one name, and no empty one")
        cells, where = self.rows["category_bias"]
        if len(cells) != len(categories):
            raise ValueError(f"{where}: category_bias has {len(cells)} values for {len(categories)} categories")
        return categories, tuple(_number(cell, where) for cell in cells)


def _feature_weights(cells: list[str], categories: int, where: str) -> tuple[float, tuple[float, ...]]:
    """A feature row's alert weight and its category weights (none, or one per category)."""
    if len(cells) not in (1, 1 + categories):
        raise ValueError(f"{where}: expected 2 or {2 + categories} cells, found {len(cells) + 1}")
    alert, *by_category = (_number(cell, where) for cell in cells)
    return alert, tuple(by_category)


def parse_text_model(lines: Iterable[str], *, name: str = MODEL_FILE.name) -> TextModel:
    """Read the model file: the header rows ``bias``, ``threshold``, ``veto``,
    ``critical_veto``, ``categories`` and ``category_bias``, each once, then one row per
    feature: the feature, its alert weight, and one weight per category (the category
    cells may be left out for a feature that says nothing of the category). A word of the corpus may share a
    header row's name: once every header row is in, every row is a feature. Raises
    ``ValueError`` naming the line of anything else."""
    header = _Header()
    categories: tuple[str, ...] | None = None
    category_bias: tuple[float, ...] = ()
    weights: dict[str, float] = {}
    category_weights: dict[str, tuple[float, ...]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        feature, *cells = line.rstrip("\n").split("\t")
        where = f"{name}:{number}"
        if categories is None and feature in _HEADER_ROWS:
            header.add(feature, cells, where)
            if len(header.rows) == len(_HEADER_ROWS):
                categories, category_bias = header.checked(name)
            continue
        if categories is None:
            categories, category_bias = header.checked(name)
        alert, by_category = _feature_weights(cells, len(categories), where)
        if not well_formed(feature):
            raise ValueError(f"{where}: {feature!r} is not a word, a pair or a pair one word apart")
        if feature in weights:
            raise ValueError(f"{where}: feature {feature!r} is listed twice")
        weights[feature] = alert
        if by_category:
            category_weights[feature] = by_category
    if categories is None:
        categories, category_bias = header.checked(name)
    return TextModel(
        bias=header.number("bias"),
        threshold=header.number("threshold"),
        veto=header.number("veto"),
        critical_veto=header.number("critical_veto"),
        weights=weights,
        categories=categories,
        category_bias=category_bias,
        category_weights=category_weights,
    )


@cache
def default_text_model() -> TextModel:
    """The shipped model, read once per process."""
    with MODEL_FILE.open(encoding="utf-8") as lines:
        return parse_text_model(lines)
