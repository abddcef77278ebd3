"""Training the crisis text model (``text_model``) from labelled messages, and writing it.

Pure Python and deterministic: the same examples, settings and seed give the same model,
to the last digit of the file (tests retrain it and compare). ``bench/train_text_model.py``
runs it on the labelled corpus and writes ``default_phrases/text_model.tsv``;
``bench/crisis_eval.py --cross`` runs it once per held-back set to measure the model on
authors it never saw.

- The alert score is a logistic regression over the message's features (words, pairs of
  adjacent words and pairs one word apart, each seen in at least ``min_count`` training
  messages, and counted as often as the message has it), fitted by
  stochastic gradient descent with AdaGrad steps and an L2 penalty, both classes weighted
  alike however many messages each has, each step seeing a random share of the message's
  features (dropout, ``Settings.dropout``).
- The category is multinomial naive Bayes over the crisis messages' features, smoothed
  by ``alpha``; each feature's weights are centred on their mean, so a feature that says
  nothing of the category has none.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from backend.crisis.text_model import TextModel, features

# Weights are kept to this many decimals, in memory as in the file, so the model measured
# is the model shipped.
DECIMALS = 4


@dataclass(frozen=True)
class Example:
    """One labelled message, normalised (``language.normalise``); ``category`` is its
    crisis category, or "" for an ordinary message (label 0)."""

    normalised: str
    label: int
    category: str = ""


@dataclass(frozen=True)
class Settings:
    """How the model is trained. ``alert_probability`` is where it alerts (0.85: when it
    gives a crisis a probability of 0.85), ``veto_probability`` where it calls a passage
    plainly ordinary, and ``critical_veto_probability`` where it does so for a whole
    message a critical match lies in (see ``TextModel.plainly_ordinary``); these three set
    the model's bars and do not change the fit, which the others shape (see the module
    docstring)."""

    alert_probability: float = 0.85
    veto_probability: float = 0.1
    critical_veto_probability: float = 0.01
    min_count: int = 2
    epochs: int = 20
    dropout: float = 0.4
    learning_rate: float = 0.2
    l2: float = 1e-4
    alpha: float = 0.5
    seed: int = 0


def train(examples: Sequence[Example], categories: Sequence[str], settings: Settings = Settings()) -> TextModel:
    """Fit the model on ``examples`` (which need both labels, and a category from
    ``categories`` on every crisis message)."""
    rows = [sorted(features(example.normalised)) for example in examples]
    seen = Counter(feature for row in rows for feature in set(row))
    vocabulary = {feature for feature, count in seen.items() if count >= settings.min_count}
    rows = [[feature for feature in row if feature in vocabulary] for row in rows]
    labels = [example.label for example in examples]
    bias, weights = _logistic_regression(rows, labels, settings)
    category_bias, category_weights = _naive_bayes(
        [(row, example.category) for row, example in zip(rows, examples, strict=True) if example.label],
        tuple(categories),
        settings.alpha,
    )
    kept = {feature: weight for feature, weight in weights.items() if weight or feature in category_weights}
    return TextModel(
        bias=bias,
        threshold=_log_odds(settings.alert_probability),
        veto=_log_odds(settings.veto_probability),
        critical_veto=_log_odds(settings.critical_veto_probability),
        weights=dict(sorted(kept.items())),
        categories=tuple(categories),
        category_bias=category_bias,
        category_weights=category_weights,
    )


def _log_odds(probability: float) -> float:
    return round(math.log(probability / (1 - probability)), DECIMALS)


def _logistic_regression(
    rows: Sequence[Sequence[str]], labels: Sequence[int], settings: Settings
) -> tuple[float, dict[str, float]]:
    positives = sum(labels)
    if not 0 < positives < len(labels):
        raise ValueError("training needs crisis messages and ordinary ones")
    if not 0 <= settings.dropout < 1:
        raise ValueError(f"dropout must be at least 0 and under 1, not {settings.dropout}")
    class_weight = {1: len(labels) / (2 * positives), 0: len(labels) / (2 * (len(labels) - positives))}
    # Each feature is a place in a list, in the order first seen: the same sums in the same
    # order as over a dict of names, several times faster (cross-evaluation trains ten).
    index = {feature: place for place, feature in enumerate(dict.fromkeys(f for row in rows for f in row))}
    # A feature a message has twice is in its row twice: it counts twice in the score, and
    # its weight takes two steps, close to one step on the twice as steep slope a feature
    # counted twice has (AdaGrad's sum of squares and the L2 penalty see two small steps).
    placed = [[index[feature] for feature in row] for row in rows]
    weights = [0.0] * len(index)
    squares = [1e-8] * len(index)
    bias, bias_squares = 0.0, 1e-8
    order = list(range(len(rows)))
    # A seeded shuffle and seeded drops, so that training is reproducible; nothing here is
    # a secret.
    shuffler = random.Random(settings.seed)  # noqa: S311
    dropout_draw = random.Random(settings.seed + 1).random  # noqa: S311
    rate, l2 = settings.learning_rate, settings.l2
    exp, sqrt = math.exp, math.sqrt
    # Dropout: each step sees each feature of the message with this chance, and the sum of
    # those it sees is scaled up to the whole. A model that cannot lean on one word or pair
    # learns from the others around it too, and so reads wording it has not seen better
    # (docs/crisis-language.md, "The model's ninth round").
    keep = 1.0 - settings.dropout
    for _ in range(settings.epochs):
        shuffler.shuffle(order)
        for row_index in order:
            row = [place for place in placed[row_index] if dropout_draw() < keep]
            label = labels[row_index]
            score = bias + sum([weights[place] for place in row]) / keep
            # The loss's slope in the score, kept off the float's edges for long messages.
            error = (1.0 / (1.0 + exp(-max(-30.0, min(30.0, score)))) - label) * class_weight[label]
            for place in row:
                slope = error / keep + l2 * weights[place]
                squares[place] += slope * slope
                weights[place] -= rate * slope / sqrt(squares[place])
            bias_squares += error * error
            bias -= rate * error / sqrt(bias_squares)
    return round(bias, DECIMALS), {feature: round(weights[place], DECIMALS) for feature, place in index.items()}


def _naive_bayes(
    rows: Iterable[tuple[Sequence[str], str]], categories: tuple[str, ...], alpha: float
) -> tuple[tuple[float, ...], dict[str, tuple[float, ...]]]:
    counts = {category: Counter[str]() for category in categories}
    messages = Counter[str]()
    for row, category in rows:
        if category not in counts:
            raise ValueError(f"a crisis message in unknown category {category!r}")
        counts[category].update(row)
        messages[category] += 1
    vocabulary = sorted({feature for counter in counts.values() for feature in counter})
    totals = {category: sum(counts[category].values()) + alpha * len(vocabulary) for category in categories}
    everyone = sum(messages.values())
    prior = everyone + alpha * len(categories)
    category_bias = tuple(round(math.log((messages[c] + alpha) / prior), DECIMALS) for c in categories)
    category_weights: dict[str, tuple[float, ...]] = {}
    for feature in vocabulary:
        logs = [math.log((counts[c][feature] + alpha) / totals[c]) for c in categories]
        mean = sum(logs) / len(logs)
        category_weights[feature] = tuple(round(value - mean, DECIMALS) for value in logs)
    return category_bias, category_weights


def _cell(value: float) -> str:
    # repr of a rounded float is its shortest exact form ("0.25", "-1.0312").
    return repr(value + 0.0)  # + 0.0 turns -0.0 into 0.0


def serialise(model: TextModel, *, comment: Iterable[str] = ()) -> str:
    """The model as ``text_model.parse_text_model`` reads it."""
    lines = [f"# {line}".rstrip() for line in comment]
    lines += [
        f"bias\t{_cell(model.bias)}",
        f"threshold\t{_cell(model.threshold)}",
        f"veto\t{_cell(model.veto)}",
        f"critical_veto\t{_cell(model.critical_veto)}",
        "categories\t" + "\t".join(model.categories),
        "category_bias\t" + "\t".join(map(_cell, model.category_bias)),
    ]
    for feature, weight in model.weights.items():
        by_category = model.category_weights.get(feature)
        cells = [feature, _cell(weight), *(map(_cell, by_category) if by_category else ())]
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"
