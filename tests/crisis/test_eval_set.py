"""The evaluation set and its harness (bench/crisis_eval.py): the set's shape, the
arithmetic of the figures, the text model measured on sets it was not trained on, and the
frozen held-out part against the issue's targets."""

from __future__ import annotations

from collections import Counter

import pytest

from backend.crisis.language import PhraseEntry, PhraseMatcher, compile_matcher, normalise, parse_phrase
from bench.crisis_eval import (
    CONTRAST_SET,
    DOSE_SET,
    EVAL_CATEGORIES,
    EVERYDAY2_SET,
    EVERYDAY_SET,
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
    FRESH_ORDINARY_SET,
    FRESH_SET,
    FROZEN,
    LABELLED_FILES,
    MEDICINE_SET,
    NOT_LEARNED,
    PROBE_SET,
    RELAPSE_SET,
    VALIDATION_SET,
    Row,
    cancelled_report,
    cross_evaluate,
    evaluate,
    model_examples,
    read_all_rows,
    read_rows,
    report,
    score,
)


@pytest.fixture(scope="module")
def figures():
    figures = evaluate()
    for split, scored in figures.items():
        print("\n" + report(split, scored))
    return figures


@pytest.fixture(scope="module")
def rules_figures():
    """The lists and rules alone, without the text model."""
    return evaluate(compile_matcher().with_text_model(None))


@pytest.fixture(scope="module")
def cross_figures():
    """Each b half with a text model trained without its set."""
    figures = cross_evaluate(compile_matcher(), [row for row in read_all_rows() if row.split != FROZEN])
    for split, scored in figures.items():
        print("\n" + report(f"{split} (model trained without its set)", scored))
    return figures


def test_the_set_has_its_documented_shape():
    rows = read_rows()
    assert len(rows) == 830
    assert sum(r.split == "dev" for r in rows) == 499
    assert sum(r.split == "held_out" for r in rows) == 331
    assert {r.category for r in rows if r.label} == set(EVAL_CATEGORIES)
    assert all((r.label == 0) == (r.category == "none") for r in rows)


def test_the_model_learns_neither_held_out_nor_a_set_not_learned_nor_the_set_left_out():
    rows = read_all_rows()
    assert NOT_LEARNED == ("fresh17", "contrast", "relapse", "everyday", "medicine", "dose", "everyday2")
    learned = model_examples(rows)
    # Every row but held_out's 331, fresh17's 1,692, the contrast pairs' 1,559, the
    # relapse set's 772, the everyday set's 396, the medicine set's 220, the dose set's 240
    # and the second everyday set's 217, as the model file's header says.
    assert len(learned) == len(rows) - 331 - 1692 - 1559 - 772 - 396 - 220 - 240 - 217
    assert (sum(e.label for e in learned), sum(not e.label for e in learned)) == (16540, 16215)
    assert len(model_examples(rows, leaving_out="fresh16")) == len(learned) - 1694
    # --cross leaves out every set in turn, the sets not learned among them.
    assert len(model_examples(rows, leaving_out="fresh17")) == len(learned)
    assert len(model_examples(rows, leaving_out="contrast")) == len(learned)
    assert len(model_examples(rows, leaving_out="relapse")) == len(learned)
    assert len(model_examples(rows, leaving_out="everyday")) == len(learned)
    assert len(model_examples(rows, leaving_out="medicine")) == len(learned)
    assert len(model_examples(rows, leaving_out="dose")) == len(learned)
    assert len(model_examples(rows, leaving_out="everyday2")) == len(learned)
    learned_texts = {example.normalised for example in learned}
    assert not any(normalise(row.text) in learned_texts for row in read_rows(CONTRAST_SET))
    assert not any(normalise(row.text) in learned_texts for row in read_rows(RELAPSE_SET))
    assert not any(normalise(row.text) in learned_texts for row in read_rows(EVERYDAY_SET))
    assert not any(normalise(row.text) in learned_texts for row in read_rows(MEDICINE_SET))
    assert not any(normalise(row.text) in learned_texts for row in read_rows(DOSE_SET))
    assert not any(normalise(row.text) in learned_texts for row in read_rows(EVERYDAY2_SET))


def test_the_figures_count_what_alerted():
    key, prefix = parse_phrase("vill dö")
    matcher = PhraseMatcher([PhraseEntry(key, "critical", "self_harm", prefix=prefix, source="default:sv")])
    rows = [
        Row("dev", 1, "self_harm", "sv", "jag vill dö"),
        Row("dev", 1, "self_harm", "sv", "orkar inte"),
        Row("dev", 0, "none", "sv", "vill dö av skratt"),
        Row("dev", 0, "none", "sv", "hej"),
    ]
    scored = score(rows, matcher)
    assert (scored.tp, scored.fp, scored.fn, scored.negatives) == (1, 1, 1, 2)
    assert scored.precision == 0.5
    assert scored.recall == 0.5
    assert scored.false_alarms_per_1000 == 500.0
    assert scored.recall_by_category["self_harm"].recall == 0.5
    assert scored.category_precision("self_harm") == 0.5


def test_the_cancelled_report_says_why_a_positive_was_missed():
    rows = [
        Row("dev", 1, "self_harm", "sv", "jag vill dö"),  # alerts: not a miss
        Row("dev", 1, "substance", "sv", "har inte druckit på hela helgen"),  # a negation
        Row("dev", 1, "self_harm", "sv", "skar mig i fingret"),  # an exclusion
        Row("dev", 1, "self_harm", "sv", "hej hej"),  # nothing near
        Row("dev", 0, "none", "sv", "hej"),  # not a positive
    ]
    lines = cancelled_report("dev", rows, compile_matcher()).splitlines()
    assert lines[1].split() == ["self_harm", "0", "/", "1", "/", "1"]
    assert lines[6].split() == ["substance", "1", "/", "0", "/", "0"]


def test_the_shipped_rules_on_dev(figures):
    # dev is what the rules were tuned on: these figures flatter them; held_out is the
    # honest one.
    dev = figures["dev"]
    assert dev.precision >= 0.98
    assert dev.recall >= 0.98


# The targets of the crisis-language work, on the frozen held-out part.
TARGET_RECALL = 0.92
TARGET_CATEGORY_RECALL = 0.90
TARGET_PRECISION = 0.90
TARGET_FALSE_ALARMS_PER_1000 = 5.0


def test_the_shipped_rules_on_the_validation_split_reach_what_was_measured(figures):
    # The validation split was written before the second round of rule work; its misses
    # were read on validation_a only (docs/crisis-language.md). Floors just below the
    # figures at the end of the third round: recall 0.991, precision 0.991, 11.2 false
    # alarms (2 of 178 ordinary messages).
    validation = figures["validation"]
    assert validation.rows == 390
    assert validation.recall >= 0.985
    assert validation.precision >= 0.99
    assert validation.false_alarms_per_1000 <= 11.3


def test_the_shipped_rules_stay_quiet_on_the_ordinary_chat_probes(figures):
    # Written during the rule work to find false alarms, and tuned on: none of the 491
    # and 399 messages alerts after the third round. Floors, not estimates: one false
    # alarm each is allowed before this fails.
    probe, probe_fresh = figures["probe"], figures["probe_fresh"]
    assert (probe.rows, probe_fresh.rows) == (491, 399)
    assert probe.fp <= 1
    assert probe_fresh.fp <= 1


def test_the_shipped_rules_on_the_halves_tuned_on_reach_what_was_measured(figures):
    # The third round's rules were written from these halves' misses: they flatter.
    for split in ("fresh_a", "fresh2_a", "fresh3_a", "fresh4_a"):
        scored = figures[split]
        assert scored.recall >= 0.98, split
        assert scored.false_alarms_per_1000 <= 5.0, split


# Recall and false alarms per 1,000 on wording no rule was tuned on (the b halves, read in
# aggregate only), by the lists and rules alone, measured again after the fourteenth
# round (a relative right before a relapse: fresh14_b, relapse_b and everyday_b a false
# alarm fewer each; the
# thirteenth's relapse rules and blockers had moved a few halves by a message or two either
# way, fresh8_b and fresh17_b losing a crisis each, which the text model finds): the shipped text
# model learned from these halves too (all but the sets NOT_LEARNED), so with it they
# flatter.
UNSEEN_MEASURED = {
    "fresh_b": (0.828, 10.1),
    "fresh2_b": (0.804, 14.0),
    "fresh3_b": (0.792, 17.5),
    "fresh4_b": (0.758, 32.7),
    "fresh5_b": (0.846, 17.5),
    "fresh6_b": (0.794, 28.9),
    "fresh7_b": (0.814, 27.7),
    "fresh8_b": (0.803, 16.3),
    "fresh9_b": (0.777, 27.6),
    "fresh10_b": (0.795, 53.8),
    # Written after the model's eighth round, and never tuned on.
    "fresh11_b": (0.787, 36.0),
    "fresh12_b": (0.832, 32.7),
    "fresh13_b": (0.812, 27.6),
    "fresh14_b": (0.794, 10.1),
    "fresh15_b": (0.769, 27.7),
    "fresh16_b": (0.758, 37.6),
    "fresh17_b": (0.817, 35.3),
    # Pairs of a crisis and an ordinary twin with its alarming words, written after the
    # eleventh round: a quarter of the ordinary ones alert.
    "contrast_b": (0.875, 244.8),
    # Relapse said shortly or half said, written for the thirteenth round before its rules
    # were measured on them (docs/crisis-language.md, "The thirteenth round").
    "relapse_b": (0.484, 39.5),
    # Ordinary chat only, in the same style, written after that round's first rules.
    "everyday_b": (1.000, 10.2),
    # Ordinary chat about medicine, pills and drink, in the same style, written in the
    # fourteenth round (first scanned: 3 alerts of 110 by the rules alone, 5 with the model;
    # a clock time no longer counts as a number of tablets).
    "medicine_b": (1.000, 18.2),
    # Ordinary chat written hard on purpose (doses, drink and drugs near the writer), in the
    # same style, written in the fifteenth round (first scanned: 10 alerts of 120 by the
    # rules alone, 8 with the model).
    "dose_b": (1.000, 83.3),
    # Everyday chat in the same style, written after the fifteenth round's changes (first
    # scanned: 2 alerts of 109 on everyday2_a and none of 108 here by the rules alone; 3
    # and 1 with the model, as with the fourteenth round's scanner).
    "everyday2_b": (1.000, 0.0),
}


@pytest.mark.parametrize("split", sorted(UNSEEN_MEASURED))
def test_the_shipped_rules_on_unseen_wording_reach_what_was_measured(rules_figures, split):
    recall, false_alarms = UNSEEN_MEASURED[split]
    scored = rules_figures[split]
    assert scored.recall >= recall - 0.005
    assert scored.false_alarms_per_1000 <= false_alarms + 0.1


# The same b halves with the rules and a text model trained on every labelled row but
# held_out, the sets not learned and the half's own set (both halves): authors the
# model never read (for the sets NOT_LEARNED, the shipped model). Measured after the
# thirteenth round, with the model that learned fresh16, the ninth round's settings
# (dropout 0.4, alerting at 0.85), the tenth's critical veto (a critical match dropped when
# its clause is under 10% and the whole message under 1%) and the thirteenth's ordinary
# signs (docs/crisis-language.md, "The thirteenth round"), and again after the fourteenth
# (a relative right before a relapse: relapse_b and everyday_b a false alarm fewer each), and
# after the fifteenth (someone else, then "is", then the relapse: relapse_b two fewer).
UNSEEN_WITH_MODEL_MEASURED = {
    "validation_b": (0.990, 0.0),
    "fresh_b": (0.958, 10.1),
    "fresh2_b": (0.965, 8.0),
    "fresh3_b": (0.964, 15.0),
    "fresh4_b": (0.953, 25.1),
    "fresh5_b": (0.976, 12.5),
    "fresh6_b": (0.969, 21.4),
    "fresh7_b": (0.964, 21.4),
    "fresh8_b": (0.961, 12.5),
    "fresh9_b": (0.955, 27.6),
    "fresh10_b": (0.964, 30.8),
    "fresh11_b": (0.953, 30.8),
    "fresh12_b": (0.971, 20.1),
    "fresh13_b": (0.962, 17.6),
    "fresh14_b": (0.951, 10.1),
    "fresh15_b": (0.946, 15.1),
    "fresh16_b": (0.957, 25.1),
    "fresh17_b": (0.975, 25.2),
    "contrast_b": (0.979, 312.5),
    "relapse_b": (0.607, 52.6),
    "everyday_b": (1.000, 15.3),
    "medicine_b": (1.000, 36.4),
    "dose_b": (1.000, 66.7),
    "everyday2_b": (1.000, 9.3),
}


@pytest.mark.parametrize("split", sorted(UNSEEN_WITH_MODEL_MEASURED))
def test_rules_and_a_model_that_never_read_the_set_reach_what_was_measured(cross_figures, rules_figures, split):
    recall, false_alarms = UNSEEN_WITH_MODEL_MEASURED[split]
    scored = cross_figures[split]
    assert scored.recall >= recall - 0.005
    assert scored.false_alarms_per_1000 <= false_alarms + 0.1
    # With its vetoes (a clause it calls plainly ordinary drops a match; a critical match
    # only when the whole message is far below that too) it still finds at least as many
    # crisis messages as the rules alone.
    assert scored.tp >= rules_figures[split].tp


def test_the_shipped_rules_on_the_frozen_held_out_part_reach_what_was_measured(figures, rules_figures):
    # What the rules and the text model reach on held_out (docs/crisis-language.md):
    # recall 0.963 (180 of 187), precision 0.989, 13.9 false alarms per 1,000 ordinary
    # messages (2 of 144) after the fifteenth, the fourteenth and the thirteenth round, whose relapse rules found one
    # substance message more (28 of 31, 0.903: that category's target met); 0.957 (179),
    # 0.989, 13.9 (2) once the model learned from fresh15 and fresh16, read once after
    # both were learned (a message lost and a false alarm more, where the fifteen older
    # sets' cross figures found more crises for as many false alarms: the doc's eleventh
    # round); 0.963 (180), 0.994, 6.9 (1) once it learned from fresh14 (0.952, 0.989, 13.9 before,
    # after it learned from fresh13 and vetoed a critical match whose clause is under 0.1
    # when the whole message is under 0.01); 0.957 (179), 0.984,
    # 20.8 (3) once the model learned from fresh12 with dropout 0.4, alerted at
    # 0.85 and vetoed critical matches below 0.005 (0.952, 0.983, 20.8 without the
    # dropout); 0.936 (175), 0.989, 13.9 (2) once the model read
    # pairs one word apart, counted features as often as written, vetoed below 0.1 and
    # learned from fresh11 (0.936, 0.994, 6.9 before it
    # learned from fresh11); 0.930, 0.983, 20.8 after the seventh pass (the model
    # then learned from fresh10, and one message fewer reached its threshold); 0.936,
    # 0.983, 20.8 after the sixth; 0.930, 0.983, 20.8 after the fifth; 0.920, 0.977, 27.8
    # before it. The rules alone: 0.877, 0.976, 27.8 after the thirteenth round; 0.872,
    # 0.976, 27.8 after the sixth and seventh passes
    # (after the fifth 0.840, 0.975; after the third round 0.807, 0.974, 27.8; after the
    # second: 0.690, 0.942, 55.6; before it: 0.503, 0.832, 131.9). Floors just below, so a
    # change that loses ground fails.
    held_out = figures["held_out"]
    assert held_out.rows == 331
    assert held_out.recall >= 0.960
    assert held_out.recall_by_category["substance"].recall >= 0.90
    assert held_out.precision >= 0.985
    assert held_out.false_alarms_per_1000 <= 14.0
    rules_alone = rules_figures["held_out"]
    assert rules_alone.recall >= 0.875
    assert rules_alone.precision >= 0.97


@pytest.mark.xfail(strict=True, reason="not met: held_out 13.9 false alarms/1,000 (2 of 144)")
def test_the_shipped_rules_meet_the_targets_on_the_frozen_held_out_part(figures):
    held_out = figures["held_out"]
    assert held_out.recall >= TARGET_RECALL
    assert all(t.recall >= TARGET_CATEGORY_RECALL for t in held_out.recall_by_category.values())
    assert held_out.precision >= TARGET_PRECISION
    assert held_out.false_alarms_per_1000 <= TARGET_FALSE_ALARMS_PER_1000


def test_the_validation_set_has_its_documented_shape():
    rows = read_rows(VALIDATION_SET)
    assert len(rows) == 390
    assert {r.split for r in rows} == {"validation_a", "validation_b"}
    assert sum(r.split == "validation_a" for r in rows) == 196
    assert sum(r.label == 0 for r in rows) == 178
    assert {r.category for r in rows if r.label} == set(EVAL_CATEGORIES)
    assert all((r.label == 0) == (r.category == "none") for r in rows)


def test_the_probe_is_ordinary_chat_only():
    rows = read_rows(PROBE_SET)
    assert len(rows) == 491
    assert {(r.split, r.label, r.category) for r in rows} == {("probe", 0, "none")}
    assert {r.language for r in rows} == {"sv", "en"}


# The fresh sets, in the order they were written: (file, its halves' prefix, messages,
# in its a half, ordinary messages, positives per category in EVAL_CATEGORIES' order).
FRESH_SETS = (
    (FRESH_SET, "fresh", 783, 392, 399, (64,) * 6),
    (FRESH2_SET, "fresh2", 1960, 980, 1000, (160,) * 6),
    (FRESH3_SET, "fresh3", 1567, 784, 799, (128,) * 6),
    (FRESH4_SET, "fresh4", 1566, 784, 798, (128,) * 6),
    (FRESH5_SET, "fresh5", 1566, 784, 800, (127, 128, 127, 128, 128, 128)),
    (FRESH6_SET, "fresh6", 3260, 1632, 1596, (384, 256, 256, 256, 256, 256)),
    (FRESH7_SET, "fresh7", 3383, 1694, 1593, (511, 256, 255, 256, 256, 256)),
    (FRESH8_SET, "fresh8", 3385, 1696, 1597, (510, 254, 256, 256, 256, 256)),
    (FRESH9_SET, "fresh9", 1695, 848, 799, (256, 128, 128, 128, 128, 128)),
    (FRESH10_SET, "fresh10", 1680, 842, 784, (256, 128, 128, 128, 128, 128)),
    (FRESH11_SET, "fresh11", 1675, 840, 781, (254, 128, 128, 128, 128, 128)),
    (FRESH12_SET, "fresh12", 1692, 848, 798, (255, 128, 128, 127, 128, 128)),
    (FRESH13_SET, "fresh13", 1691, 847, 797, (255, 128, 128, 127, 128, 128)),
    (FRESH14_SET, "fresh14", 1688, 847, 794, (256, 127, 128, 127, 128, 128)),
    (FRESH15_SET, "fresh15", 1691, 848, 797, (255, 128, 128, 128, 128, 127)),
    (FRESH16_SET, "fresh16", 1694, 848, 799, (255, 128, 128, 128, 128, 128)),
    (FRESH17_SET, "fresh17", 1692, 848, 797, (255, 128, 128, 128, 128, 128)),
)


@pytest.mark.parametrize(("path", "prefix", "size", "in_a", "ordinary", "per_category"), FRESH_SETS)
def test_a_fresh_set_has_its_documented_shape(path, prefix, size, in_a, ordinary, per_category):
    rows = read_rows(path)
    assert len(rows) == size
    assert {r.split for r in rows} == {f"{prefix}_a", f"{prefix}_b"}
    assert sum(r.split == f"{prefix}_a" for r in rows) == in_a
    assert sum(r.label == 0 for r in rows) == ordinary
    assert tuple(sum(r.category == category for r in rows) for category in EVAL_CATEGORIES) == per_category
    assert all((r.label == 0) == (r.category == "none") for r in rows)


def test_the_contrast_set_is_pairs_of_a_crisis_and_an_ordinary_twin():
    rows = read_rows(CONTRAST_SET)
    assert len(rows) == 1559
    assert Counter((r.split, r.language) for r in rows) == {
        ("contrast_a", "sv"): 480,
        ("contrast_a", "en"): 312,
        ("contrast_b", "sv"): 455,
        ("contrast_b", "en"): 312,
    }
    assert sum(r.label == 0 for r in rows) == 780
    assert tuple(sum(r.category == category for r in rows) for category in EVAL_CATEGORIES) == (
        180,
        120,
        119,
        120,
        120,
        120,
    )
    assert all((r.label == 0) == (r.category == "none") for r in rows)
    # Each pair is two neighbouring rows of one language, a crisis and an ordinary
    # message; the halves take two pairs each in turn (pairs 1-2 of an author in a, 3-4 in
    # b …). One crisis row was dropped as a duplicate, which leaves its ordinary twin alone
    # (and counts as a pair in the turns).
    pairs: list[list[Row]] = []
    index = 0
    while index < len(rows):
        pair = rows[index : index + 2]
        if len(pair) == 2 and {r.label for r in pair} == {0, 1} and len({(r.split, r.language) for r in pair}) == 1:
            pairs.append(pair)
            index += 2
        else:
            pairs.append(pair[:1])
            index += 1
    alone = [pair[0] for pair in pairs if len(pair) == 1]
    assert len(alone) == 1
    assert alone[0].label == 0
    # 130 pairs per author, so each author starts on a turn of a.
    assert len(pairs) == 6 * 130
    expected = ["contrast_a" if number % 130 % 4 < 2 else "contrast_b" for number in range(len(pairs))]
    assert [pair[0].split for pair in pairs] == expected


def test_the_relapse_set_is_relapse_and_ordinary_look_alikes():
    rows = read_rows(RELAPSE_SET)
    assert Counter((r.split, r.label, r.language) for r in rows) == {
        ("relapse_a", 1, "sv"): 168,
        ("relapse_a", 1, "en"): 112,
        ("relapse_a", 0, "sv"): 119,
        ("relapse_a", 0, "en"): 78,
        ("relapse_b", 1, "sv"): 132,
        ("relapse_b", 1, "en"): 87,
        ("relapse_b", 0, "sv"): 45,
        ("relapse_b", 0, "en"): 31,
    }
    # Every crisis in it is a relapse: the set measures that category.
    assert {r.category for r in rows} == {"substance", "none"}
    assert all((r.label == 0) == (r.category == "none") for r in rows)
    # The tuned-on half comes first, as written.
    assert [r.split for r in rows] == sorted(r.split for r in rows)


def test_the_everyday_set_is_ordinary_chat_in_two_halves():
    rows = read_rows(EVERYDAY_SET)
    assert Counter((r.split, r.language) for r in rows) == {
        ("everyday_a", "sv"): 120,
        ("everyday_a", "en"): 80,
        ("everyday_b", "sv"): 118,
        ("everyday_b", "en"): 78,
    }
    assert all(r.label == 0 and r.category == "none" for r in rows)


# The sets of ordinary chat only, written by two authors whose rows alternate between the
# halves: (file, split prefix, messages per half and language).
ORDINARY_HALVED_SETS = [
    (MEDICINE_SET, "medicine", {("a", "sv"): 63, ("a", "en"): 47, ("b", "sv"): 69, ("b", "en"): 41}),
    (DOSE_SET, "dose", {("a", "sv"): 76, ("a", "en"): 44, ("b", "sv"): 68, ("b", "en"): 52}),
    (EVERYDAY2_SET, "everyday2", {("a", "sv"): 65, ("a", "en"): 44, ("b", "sv"): 64, ("b", "en"): 44}),
]


@pytest.mark.parametrize(("path", "prefix", "sizes"), ORDINARY_HALVED_SETS)
def test_a_set_of_ordinary_chat_comes_in_two_halves(path, prefix, sizes):
    rows = read_rows(path)
    expected = {(f"{prefix}_{half}", language): size for (half, language), size in sizes.items()}
    assert Counter((r.split, r.language) for r in rows) == expected
    assert all(r.label == 0 and r.category == "none" for r in rows)
    # The tuned-on half comes first, as written.
    assert [r.split for r in rows] == sorted(r.split for r in rows)


def test_no_message_is_in_two_files():
    # Each file was written apart from the others.
    seen: dict[str, str] = {}
    for path in LABELLED_FILES:
        for text in {r.text.casefold() for r in read_rows(path)}:
            assert seen.setdefault(text, path.name) == path.name, (text, seen[text], path.name)


def test_the_fresh_probe_is_ordinary_chat_only():
    rows = read_rows(FRESH_ORDINARY_SET)
    assert len(rows) == 399
    assert {(r.split, r.label, r.category) for r in rows} == {("probe_fresh", 0, "none")}
    assert {r.language for r in rows} == {"sv", "en"}
