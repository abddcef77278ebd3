"""The crisis text model: its file, its arithmetic, its training, and where the matcher
asks it (when no listed phrase or rule matched, and whether to veto what did)."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from backend.crisis import language
from backend.crisis.language import PhraseEntry, PhraseMatcher, compile_matcher, normalise, parse_phrase
from backend.crisis.severity import Severity
from backend.crisis.text_model import (
    MODEL_FILE,
    MODEL_REASON,
    VETO_WORDS,
    TextModel,
    default_text_model,
    features,
    parse_text_model,
)
from backend.crisis.text_model_training import Example, Settings, serialise, train
from bench.train_text_model import shipped_model_text

SMALL_MODEL = """\
# a comment
bias\t-2.0
threshold\t1.0
veto\t-3.0
critical_veto\t-6.0
categories\tself_harm\tthreat
category_bias\t0.0\t0.0
sista\t1.5\t0.5\t-0.5
brev\t1.0\t0.25\t-0.25
sista brev\t0.75
ett _ brev\t0.25
hotar\t3.5\t-1.0\t1.0
vi\t-0.5
lol\t-2.5
haha\t-10.0
"""


HEADER = "bias\t1\nthreshold\t1\nveto\t-1\ncritical_veto\t-2\ncategories\ta\ncategory_bias\t0\n"


def small_model() -> TextModel:
    return parse_text_model(SMALL_MODEL.splitlines(keepends=True), name="small.tsv")


def test_the_features_are_the_words_every_pair_of_adjacent_words_and_every_pair_one_word_apart():
    assert features("skrev ett brev") == ["skrev", "ett", "brev", "skrev ett", "ett brev", "skrev _ brev"]
    assert features("orkar inte mer nu") == [
        *["orkar", "inte", "mer", "nu", "orkar inte", "inte mer", "mer nu"],
        *["orkar _ mer", "inte _ nu"],
    ]
    assert features("hej") == ["hej"]
    assert features("") == []


def test_the_score_is_the_bias_plus_the_weights_of_the_words_and_pairs_present():
    model = small_model()
    assert model.score("ett sista brev") == -2.0 + 1.5 + 1.0 + 0.75 + 0.25
    assert model.score("ett brev") == -2.0 + 1.0  # adjacent: not the pair one word apart
    assert model.score("brev sista") == -2.0 + 1.0 + 1.5  # no "sista brev" pair this way round
    assert model.score("hej") == -2.0
    assert model.score("") == -2.0
    assert model.probability("hej") == pytest.approx(1 / (1 + math.exp(2.0)))


def test_the_model_alerts_at_its_threshold_in_the_category_its_weights_favour():
    model = small_model()
    assert model.alert_category(["sista brev"]) == "self_harm"  # 1.25 >= 1.0
    assert model.alert_category(["vi hotar"]) == "threat"  # 1.0 >= 1.0, threat 1.0 against -1.0
    assert model.alert_category(["sista"]) is None  # -0.5
    # Any reading of the message may reach it (as with "1" read as "i" and as "l").
    assert model.alert_category(["hej", "hotar"]) == "threat"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bias\tx\n", "small.tsv:1: 'x' is not a number"),
        ("bias\tnan\n", "small.tsv:1: 'nan' is not a finite number"),
        ("bias\n", "small.tsv:1: bias takes one number, found 0"),
        ("threshold\t1\t2\n", "small.tsv:1: threshold takes one number, found 2"),
        ("ord\t1.0\n", "small.tsv: missing header rows bias, threshold, veto, critical_veto, categories, category_b"),
        (HEADER + "ord\t1.0\t2.0\t3.0\n", "small.tsv:7: expected 2 or 3 cells, found 4"),
        (HEADER + "ord\t1.0\nord\t2.0\n", "small.tsv:8: feature 'ord' is listed twice"),
        (HEADER + "ord\tett\n", "small.tsv:7: 'ett' is not a number"),
        (HEADER + "ord ord ord\t1.0\n", "small.tsv:7: 'ord ord ord' is not a word, a pair or a pair one word"),
        (HEADER + "ord _\t1.0\n", "small.tsv:7: 'ord _' is not a word"),
        (HEADER + "ord  ord\t1.0\n", "small.tsv:7: 'ord  ord' is not a word"),
        ("bias\t1\nthreshold\t1\ncategories\ta\n", "small.tsv: missing header rows veto, critical_veto, category_bias"),
        ("bias\t1\nbias\t2\n", "small.tsv:2: bias is given twice"),
        ("critical_veto\t-1\t-2\n", "small.tsv:1: critical_veto takes one number, found 2"),
        (HEADER.replace("categories\ta", "categories") + "ord\t1\n", "small.tsv:5: categories needs at least"),
        (HEADER.replace("categories\ta", "categories\ta\t"), "small.tsv:5: categories needs"),
        (HEADER.replace("category_bias\t0", "category_bias\t1\t2"), "small.tsv:6: category_bias has 2"),
    ],
)
def test_a_broken_model_file_is_refused_naming_the_line(text, message):
    with pytest.raises(ValueError, match=message):
        parse_text_model(text.splitlines(keepends=True), name="small.tsv")


def test_a_critical_veto_above_the_veto_is_refused():
    # The matcher reads a one-clause message's critical match against the critical veto
    # alone, so that bar must not be the higher one, from the file or from training.
    with pytest.raises(ValueError, match=r"critical_veto 0\.0 is above veto -1\.0"):
        parse_text_model(HEADER.replace("critical_veto\t-2", "critical_veto\t0").splitlines(keepends=True))
    with pytest.raises(ValueError, match="is above veto"):
        train(toy_examples(), ("self_harm", "threat"), Settings(veto_probability=0.01, critical_veto_probability=0.02))


def test_after_the_header_a_word_named_like_a_header_row_is_a_feature():
    model = parse_text_model((HEADER + "bias\t0.5\ncategories\t2.0\t1.0\n").splitlines(keepends=True))
    assert (model.bias, model.categories) == (1.0, ("a",))
    assert model.weights == {"bias": 0.5, "categories": 2.0}
    assert model.category_weights == {"categories": (1.0,)}


def test_a_word_or_pair_counts_as_often_as_it_is_written():
    # As in training, which reads how often a feature is there.
    model = small_model()
    assert model.score("hotar hotar hotar") == -2.0 + 3 * 3.5
    assert model.score("sista brev sista brev") == -2.0 + 2 * 1.5 + 2 * 1.0 + 2 * 0.75
    # The category too: "sista" three times (self-harm 1.5) outweighs "hotar" once (threat
    # 1.0); counted once, threat would win.
    assert model.alert_category(["hotar sista sista sista"]) == "self_harm"


def toy_examples() -> list[Example]:
    crisis = [("vill dö ikväll", "self_harm"), ("skrev sista brevet", "self_harm"), ("vill inte leva", "self_harm")]
    crisis += [("de hotar mamma", "threat"), ("han hotar att skada mig", "threat"), ("hotar lillebror", "threat")]
    ordinary = ["vi ses ikväll", "skrev brevet till skolan", "vill ha pizza", "mamma hälsar", "vi ses imorgon"]
    return [Example(text, 1, category) for text, category in crisis] + [Example(text, 0) for text in ordinary]


def test_training_learns_which_words_alert_and_in_which_category():
    model = train(toy_examples(), ("self_harm", "threat"), Settings(min_count=1, epochs=100))
    assert model.weights["hotar"] > 0 > model.weights["ses"]
    assert model.alert_category(["de hotar pappa"]) == "threat"
    assert model.alert_category(["vill dö"]) == "self_harm"
    assert model.alert_category(["vi ses imorgon"]) is None
    assert model.threshold == round(math.log(0.85 / 0.15), 4)
    assert model.veto == round(math.log(0.1 / 0.9), 4)
    assert model.critical_veto == round(math.log(0.01 / 0.99), 4)


def test_training_keeps_only_features_seen_often_enough():
    model = train(toy_examples(), ("self_harm", "threat"), Settings(min_count=2))
    assert "hotar" in model.weights  # in three messages
    assert "pizza" not in model.weights  # in one
    # Messages are counted, not occurrences: twice in one message is one message.
    twice = train([*toy_examples(), Example("glass glass", 0)], ("self_harm", "threat"), Settings(min_count=2))
    assert "glass" not in twice.weights
    assert "de hotar" not in model.weights


def test_training_is_deterministic_and_the_file_reads_back_as_the_model():
    examples, categories = toy_examples(), ("self_harm", "threat")
    first, second = train(examples, categories), train(examples, categories)
    assert first == second
    assert serialise(first) == serialise(second)
    assert parse_text_model(serialise(first, comment=["made here"]).splitlines(keepends=True)) == first
    # Another shuffle of the same messages is another fit: the seed is what pins it.
    assert train(examples, categories, Settings(seed=1)) != first


def test_each_training_step_sees_a_random_share_of_the_features_with_dropout():
    crisis = " ".join(f"hot{n}" for n in range(20))
    ordinary = " ".join(f"vardag{n}" for n in range(20))
    examples = [Example(crisis, 1, "threat"), Example(ordinary, 0)]
    # One pass over two messages: AdaGrad's first step moves each feature it sees by the
    # learning rate, 0.2, up for the crisis message's and down for the ordinary one's.
    whole = train(examples, ("threat",), Settings(min_count=1, epochs=1, dropout=0.0))
    words = [word for word in whole.weights if " " not in word]
    assert sorted({whole.weights[word] for word in words}) == [-0.2, 0.2]
    # With dropout 0.5 each feature is seen with even odds: the ones not seen keep 0 (and
    # an ordinary word left at 0 is not written at all).
    dropped = train(examples, ("threat",), Settings(min_count=1, epochs=1, dropout=0.5))
    unseen = [word for word in words if dropped.weights.get(word, 0.0) == 0.0]
    assert 5 < len(unseen) < 35
    assert {dropped.weights.get(word, 0.0) for word in words} - {0.0} == {-0.2, 0.2}
    assert train(examples, ("threat",), Settings(min_count=1, epochs=1, dropout=0.5)) == dropped


@pytest.mark.parametrize("dropout", [-0.1, 1.0])
def test_training_refuses_a_dropout_outside_zero_to_one(dropout):
    with pytest.raises(ValueError, match="dropout must be at least 0 and under 1"):
        train(toy_examples(), ("self_harm", "threat"), Settings(dropout=dropout))


def test_training_refuses_one_class_and_unknown_categories():
    with pytest.raises(ValueError, match="crisis messages and ordinary ones"):
        train([Example("vill dö", 1, "self_harm")] * 2, ("self_harm",))
    with pytest.raises(ValueError, match="unknown category 'weather'"):
        train([Example("regn", 1, "weather"), Example("sol", 0)], ("self_harm",))


def test_the_shipped_model_file_is_what_training_on_the_corpus_gives():
    # Generated by bench/train_text_model.py from every labelled row but held_out and the
    # sets not learned: a hand edit, or a corpus, setting or normalisation change
    # without retraining, fails.
    assert MODEL_FILE.read_text(encoding="utf-8") == shipped_model_text()
    model = default_text_model()
    assert model.categories == language.CATEGORIES
    assert len(model.weights) > 10_000


def test_the_matcher_asks_the_model_only_when_no_phrase_or_rule_matched():
    key, prefix = parse_phrase("vill dö")
    entry = PhraseEntry(key, "critical", "self_harm", prefix=prefix, source="default:sv")
    matcher = PhraseMatcher([entry], text_model=small_model())
    listed = matcher.scan("jag vill dö, skrev sista brev")
    assert listed.reasons == (("self_harm", "listed_phrase"),)
    assert listed.severity is Severity.CRITICAL
    hinted = matcher.scan("Skrev ett SISTA brev!!")
    assert hinted.reasons == (("self_harm", MODEL_REASON),)
    assert hinted.categories == ("self_harm",)
    assert hinted.severity is Severity.HIGH
    assert "brev" not in str(hinted.reasons)
    assert not matcher.scan("vi ses på tisdag").matched_any
    assert not matcher.with_text_model(None).scan("Skrev ett SISTA brev!!").matched_any
    assert matcher.text_model is not None  # the copy left the original alone


def test_a_short_passage_below_the_veto_is_plainly_ordinary():
    model = small_model()
    assert model.plainly_ordinary("vi dör haha")  # -2 - 0.5 - 10 < -3
    assert not model.plainly_ordinary("vi dör")  # -2.5
    # A whole message with a critical match in it must score below the critical veto, -6.
    assert model.plainly_ordinary("vi dör haha", critical=True)
    assert model.plainly_ordinary("vi dör lol")  # -5
    assert not model.plainly_ordinary("vi dör lol", critical=True)
    # Longer than the messages the model learned from: never vetoed, however it scores.
    long_passage = " ".join(["haha"] * (VETO_WORDS + 1))
    assert model.score(long_passage) < model.critical_veto
    assert not model.plainly_ordinary(long_passage)
    assert not model.plainly_ordinary(long_passage, critical=True)


def test_the_veto_drops_a_match_only_when_its_own_clause_is_plainly_ordinary():
    key, prefix = parse_phrase("vill dö")
    listed = PhraseEntry(key, "high", "self_harm", prefix=prefix, source="default:sv")
    matcher = PhraseMatcher([listed], text_model=small_model())
    assert not matcher.scan("jag vill dö av haha").matched_any
    # Another clause is not the match's: the laughter there does not drop it.
    assert matcher.scan("jag vill dö. haha").reasons == (("self_harm", "listed_phrase"),)
    assert matcher.scan("haha, jag vill dö").reasons == (("self_harm", "listed_phrase"),)
    # Every match must lie in a plainly ordinary clause.
    assert matcher.scan("jag vill dö av haha. vill dö på riktigt").matched_any
    # A match only the "1"-as-"l" reading finds is never vetoed: that reading may have
    # other words than the one the clauses are counted in ("1iksom" is the filler
    # "liksom" in the first reading only).
    assert matcher.scan("haha 1iksom, vi11 dö").reasons == (("self_harm", "listed_phrase"),)
    # Without the model, or without the message as written (no clauses), no veto.
    assert matcher.with_text_model(None).scan("jag vill dö av haha").matched_any
    assert matcher.scan_normalised([normalise("jag vill dö av haha")]).matched_any


def test_a_critical_match_is_dropped_only_when_its_clause_is_below_the_veto_and_the_message_below_the_critical_veto():
    key, prefix = parse_phrase("vill dö")
    critical = PhraseMatcher([PhraseEntry(key, "critical", "self_harm", prefix=prefix, source="default:sv")])
    critical = critical.with_text_model(small_model())
    high = PhraseMatcher([PhraseEntry(key, "high", "self_harm", prefix=prefix, source="default:sv")])
    high = high.with_text_model(small_model())
    # -12: below both vetoes.
    assert not critical.scan("jag vill dö av haha").matched_any
    # -4.5: below the veto, above the critical veto of -6.
    assert not high.scan("jag vill dö lol").matched_any
    assert critical.scan("jag vill dö lol").reasons == (("self_harm", "listed_phrase"),)
    # The match's clause scores -12, the whole message -1.5: a match that is not critical
    # is judged by its clause, a critical one by the whole message.
    assert not high.scan("jag vill dö av haha. hotar hotar hotar").matched_any
    assert critical.scan("jag vill dö av haha. hotar hotar hotar").severity is Severity.CRITICAL
    # The whole message scores -14.5, the match's clause -4.5, under the critical veto and
    # the veto: both plainly ordinary, so the critical match is dropped too.
    assert not high.scan("jag vill dö lol. haha").matched_any
    assert not critical.scan("jag vill dö lol. haha").matched_any
    # The whole message scores -12, but the match's clause -2, above the veto of -3:
    # laughter in another clause cannot drop a match whose own clause is not plainly
    # ordinary.
    assert critical.scan("jag vill dö. haha").severity is Severity.CRITICAL
    assert not critical.scan("jag vill dö haha").matched_any  # one clause: -12
    # A match the veto dropped stays dropped when another reading ("1" as "l") finds it.
    assert not critical.scan("jag vill dö av haha 1ol").matched_any
    assert not high.scan("jag vill dö av haha 1ol").matched_any
    # A critical overdose is never dropped: the model reads words, not amounts.
    overdose = PhraseMatcher([PhraseEntry(key, "critical", "overdose", prefix=prefix, source="default:sv")])
    assert overdose.with_text_model(small_model()).scan("jag vill dö av haha").reasons == (
        ("overdose", "listed_phrase"),
    )


def test_an_ordinary_sign_lets_the_ordinary_veto_drop_a_critical_match(tmp_path: Path):
    key, prefix = parse_phrase("vill dö")
    entries = [
        PhraseEntry(key, "critical", "self_harm", prefix=prefix, source="default:sv"),
        PhraseEntry(normalise("fifa"), "", "", source="test", concept="game"),
    ]
    rules_path = tmp_path / "rules.tsv"
    rules_path.write_text("sign\tgame\n", encoding="utf-8")
    rules = language.load_rule_file(rules_path)
    assert rules.ordinary_signs == {"game"}
    assert "game" in rules.concepts  # a programme may add its own words to a sign
    matcher = PhraseMatcher(entries, rules, small_model())
    # -4.5: under the veto of -3, above the critical veto of -6. A game in the message is
    # a sign it may be ordinary, so the ordinary veto is enough; without it, the critical
    # match stands.
    assert not matcher.scan("jag vill dö lol i fifa").matched_any
    assert matcher.scan("jag vill dö lol").severity is Severity.CRITICAL
    # The sign lowers the bar, it does not remove it: -2 is above the veto.
    assert matcher.scan("jag vill dö i fifa").severity is Severity.CRITICAL
    # Without the sign line the same words are just words.
    plain = PhraseMatcher(entries, language.RuleSet((), ()), small_model())
    assert plain.scan("jag vill dö lol i fifa").severity is Severity.CRITICAL
    # The sign must lie in the match's own clause: a game in another one says nothing of it.
    assert matcher.scan("jag vill dö lol, och fifa").severity is Severity.CRITICAL
    # An earnest word anywhere in the message (a plea, fear) cancels every sign.
    rules_path.write_text("sign\tgame\nearnest\tplea\n", encoding="utf-8")
    earnest_rules = language.load_rule_file(rules_path)
    assert earnest_rules.earnest == {"plea"}
    assert "plea" in earnest_rules.concepts
    plea = PhraseEntry(normalise("hjälp mig"), "", "", source="test", concept="plea")
    earnest = PhraseMatcher([*entries, plea], earnest_rules, small_model())
    assert earnest.scan("jag vill dö lol i fifa. hjälp mig").severity is Severity.CRITICAL
    assert not earnest.scan("jag vill dö lol i fifa").matched_any
    # A critical overdose is never dropped, sign or not.
    overdose = [PhraseEntry(key, "critical", "overdose", prefix=prefix, source="default:sv"), entries[1]]
    assert PhraseMatcher(overdose, rules, small_model()).scan("jag vill dö lol i fifa").matched_any


def test_a_hyperbole_about_a_game_reaches_the_shipped_model_which_drops_it():
    # The sport blocker no longer cancels a critical listed phrase ("ja ska ta livet av mig
    # efter matchen ikväll" went silent); a hyperbole about a game is left to the model,
    # which reads the game and the laugh beside it as ordinary signs (kept out of
    # test_rules.py, whose critical texts the vetoes must all leave alerting).
    shipped = compile_matcher()
    for text in ("i'll kill myself if we lose the match tonight lol", "jag ska ta livet av mig om vi torskar derbyt"):
        assert shipped.with_text_model(None).scan(text).severity is Severity.CRITICAL, text
        assert not shipped.scan(text).matched_any, text


@pytest.mark.parametrize("severity", ["high", "critical"])
def test_the_veto_never_drops_a_programme_phrase(severity):
    key, prefix = parse_phrase("vill dö")
    own = PhraseEntry(key, severity, "self_harm", prefix=prefix, source="phrase:4")
    matcher = PhraseMatcher([own], text_model=small_model())
    assert matcher.scan("jag vill dö av haha").reasons == (("self_harm", "programme_phrase"),)


def test_the_shipped_model_vetoes_no_crisis_the_rules_were_written_for():
    # Written for the rules (test_rules.py). When the model was first trained, it gave each
    # of them under 1% as a whole, and a veto over every match dropped them: the veto now
    # reads only the match's clause, below 10%, and a critical match only when the whole
    # message is below 1% too, and never a critical overdose (the third, an overdose told as
    # a number, scored 0.2% and the second 0.9% when that rule was made, 0.1% and 3.4% with
    # the eleventh round's model: the rule keeps them whatever a retrained model gives).
    shipped = compile_matcher()
    cases = {
        "jag dör av skratt, men jag vill dö": "self_harm",
        "I overdid it with my meds": "overdose",
        "tar bara en när knät värker men idag tog jag 20 ipren": "overdose",
    }
    for text, category in cases.items():
        assert category in shipped.scan(text).categories, text


def test_the_vetoes_silence_no_critical_text_written_for_the_rules():
    # Every text of test_rules.py (a crisis or not) that the rules alone call critical
    # still alerts with the shipped model's vetoes: they were measured to cost no crisis,
    # and a retrained model must not make them drop one written for the rules.
    tree = ast.parse(Path(__file__).with_name("test_rules.py").read_text(encoding="utf-8"))
    texts = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    shipped = compile_matcher()
    rules_alone = shipped.with_text_model(None)
    critical = sorted(text for text in texts if rules_alone.scan(text).severity is Severity.CRITICAL)
    assert len(critical) > 300
    assert [text for text in critical if not shipped.scan(text).matched_any] == []


def test_the_shipped_model_catches_a_farewell_no_rule_lists():
    shipped = compile_matcher()
    text = "ni behöver inte boka nån ny tid åt mig"
    assert not shipped.with_text_model(None).scan(text).matched_any
    assert shipped.scan(text).reasons == (("self_harm", MODEL_REASON),)
    model = default_text_model()
    assert model.score(normalise(text)) >= model.threshold
