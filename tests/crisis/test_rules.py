"""The crisis language's rules: concepts near each other, blockers, chat spellings and a
programme's own concept words (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.crisis import language
from backend.crisis.language import PhraseEntry, compile_matcher, normalise


@pytest.fixture(scope="module")
def scanner() -> language.PhraseMatcher:
    return compile_matcher()


def reasons(scanner: language.PhraseMatcher, text: str) -> set[tuple[str, str]]:
    return set(scanner.scan(text).reasons)


def test_swedish_chat_spellings_meet_the_written_forms():
    assert normalise("ja e hemma") == normalise("jag är hemma") == "jag ar hema"
    assert normalise("nån såg mej") == normalise("någon såg mig")
    # Fillers go: "typ" and "asså" say nothing.
    assert normalise("tog typ 20 stesolid asså") == "tog 20 stesolid"


def test_a_threat_verb_near_a_family_member_is_a_threat(scanner):
    assert ("threat", "threat_against_family") in reasons(scanner, "dom hotade min lillebror utanför skolan")
    assert ("threat", "threat_against_family") in reasons(scanner, "they threatened my mum on the phone")


def test_concepts_further_apart_than_the_window_do_not_fire(scanner):
    text = "hotade att vi skulle få en varning av tränaren på fotbollen i går sa min lillebror"
    assert ("threat", "threat_against_family") not in reasons(scanner, text)


def test_reported_speech_with_a_harm_word_is_a_threat(scanner):
    assert ("threat", "reported_threat") in reasons(scanner, "han sa att om jag vittnar så tar dom min son")


def test_seen_by_the_group_is_located(scanner):
    assert ("located", "seen_by_group") in reasons(scanner, "en av dom såg mig vid stationen")
    assert not scanner.scan("min gamla lärare såg mig på ICA").matched_any


def test_a_number_of_tablets_of_a_named_medicine_is_an_overdose(scanner):
    assert ("overdose", "medicine_quantity") in reasons(scanner, "tog 20 stesolid för en halvtimme sen")
    assert ("overdose", "medicine_quantity") in reasons(scanner, "took 25 valium and lay down")
    # A normal dose is not.
    assert not scanner.scan("tog två alvedon mot huvudvärken").matched_any
    assert not scanner.scan("took 2 ibuprofen before the gym").matched_any


def test_a_negation_just_before_a_rule_cancels_it(scanner):
    assert ("relapse", "drinking_again") in reasons(scanner, "har druckit hela helgen")
    assert not scanner.scan("har inte druckit på hela helgen").matched_any
    assert not scanner.scan("i haven't been drinking every day").matched_any


def test_a_past_tense_cancels_the_message(scanner):
    assert scanner.scan("fick ett knivhugg i armen").matched_any
    assert not scanner.scan("fick ett knivhugg i armen för tre år sen").matched_any
    assert not scanner.scan("i used to cut myself but that was two years ago").matched_any


def test_a_hypothetical_cancels_the_message(scanner):
    assert not scanner.scan("what if they found me, just asking").matched_any


def test_a_joke_cancels_a_rule_but_not_a_listed_phrase(scanner):
    assert not scanner.scan("i'm gonna kill my brother lol he ate my food").matched_any
    assert ("self_harm", "listed_phrase") in reasons(scanner, "vill inte leva längre haha")


def test_a_programme_adds_a_medicine_name_to_the_concept():
    text = "tog 30 nymedicinol i natt"
    assert not compile_matcher().scan(text).matched_any
    key, prefix = language.parse_phrase("nymedicinol")
    extended = compile_matcher([PhraseEntry(key, "", "", prefix=prefix, source="phrase:7", concept="medicine")])
    assert extended.scan(text).reasons == (("overdose", "medicine_quantity"),)


def test_an_alert_reason_names_a_programme_phrase_without_its_words():
    key, _ = language.parse_phrase("blå bilen igen")
    extended = compile_matcher([PhraseEntry(key, "high", "located", source="phrase:3")])
    result = extended.scan("den blå bilen igen")
    assert result.reasons == (("located", "programme_phrase"),)
    assert all("bil" not in rule for _, rule in result.reasons)


def test_every_rule_uses_known_concepts_and_every_concept_is_used():
    rules = language.default_rules()
    shipped = {entry.concept for entry in language.default_entries() if entry.concept}
    assert rules.concepts <= shipped
    assert shipped <= rules.concepts
    assert {rule.category for rule in rules.rules} <= set(language.CATEGORIES)


def test_a_rule_file_with_an_unknown_category_is_refused(tmp_path: Path):
    path = tmp_path / "rules.tsv"
    path.write_text("rule\tx\tcritical\tnot_a_category\t3\ta,b\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"rules\.tsv:1: unknown category"):
        language.load_rule_file(path)
