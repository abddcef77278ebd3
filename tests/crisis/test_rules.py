"""The crisis language's rules: concepts near each other, blockers, chat spellings and a
programme's own concept words (no database)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from backend.crisis import language
from backend.crisis.language import PhraseEntry, PhraseMatcher, compile_matcher, normalise
from backend.crisis.severity import Severity


@pytest.fixture(scope="module")
def scanner_with_model() -> language.PhraseMatcher:
    # The shipped scanner, text model and vetoes included: what must still alert.
    return compile_matcher()


@pytest.fixture(scope="module")
def scanner() -> language.PhraseMatcher:
    # The lists and rules alone: what these tests pin down is which rule fires and what a
    # blocker cancels. The text model, asked when nothing here matched and whether to veto
    # what did, has its own tests (test_text_model.py).
    return compile_matcher().with_text_model(None)


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


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("samma vita audi tredje dagen på rad vid bygget", "same_car_again"),
        ("a white van keeps driving past my house again and again", "keeps_driving_past"),
        ("two blokes standing by my work when i finish", "waiting_outside"),
        ("en av hans killar står vid mitt jobb", "waiting_at_my_places"),
        ("one of his guys is at my gym rn", "gang_at_my_place"),
        ("I was followed from the station to my building", "followed_to_my_home"),
        ("dom e här nånstans", "they_are_near"),
        ("they knew my daughter's school", "knew_my_kids_school"),
        ("they will collect him tonight once it is dark", "collect_after_dark"),
        ("nån knackar och kollar genom brevinkastet", "peering_in_knocking"),
        ("saw one of them at the petrol station. he clocked me", "seen_by_one_of_them"),
        ("he comes tonight, i know what that means", "coming_ominous"),
    ],
)
def test_located_is_seen_in_everyday_words(scanner, text, rule):
    assert ("located", rule) in reasons(scanner, text)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("they sent two guys to look for me in malmö", "sent_to_find_me"),
        ("dom skickade två killar hit igår", "sent_here"),
        ("det har stått en bil utanför porten i över en timme", "lingering_outside"),
        ("a grey van has been parked outside my building for two hours", "lingering_outside"),
        ("en man satt i bilen utanför förskolan när jag lämnade min yngsta", "stranger_at_kids_school"),
        ("a stranger asked the kids which street we live on", "stranger_asked_kid"),
        ("min dörr var uppbruten när jag kom hem", "forced_entry"),
        ("somebody broke into my flat, nothing stolen, just a note on the table", "broken_in_nothing_taken"),
        ("det sitter en kille i trapphuset, tror dom skickade honom", "they_sent_him"),
        ("hans kusin såg mig på stan och la upp det på snap", "seen_and_posted"),
        ("got a message on my new number from one of them", "reached_on_new_details"),
        ("someone wrote my name on the wall in the stairwell", "name_on_wall"),
        ("they're in my city now", "they_are_in_my_town"),
        ("my ex's family knows we live in umeå now", "knows_where_we_live"),
        ("dom har spanat på huset", "watching_my_home"),
        ("saw his car on my street this morning", "their_car_on_my_street"),
        ("dom har hittat mammas nya adress", "got_my_address"),
    ],
)
def test_located_covers_more_ways_of_being_found(scanner, text, rule):
    assert ("located", rule) in reasons(scanner, text)


def test_friendly_sightings_school_events_and_car_break_ins_are_not_located(scanner):
    for text in (
        "a guy from my old class saw me downtown and waved, so embarrassing",
        "nån följde efter mig hem idag haha de va grannens katt",
        "det stod massa folk utanför skolan på skolavslutningen",
        "bilen var uppbruten men inget stulet",
        "my friend saw me at the gym and posted it on her story lol",
        "they sent him home from school with a fever",
        "his family came to my house for eid",
        "they're in my city for a concert",
        "we waited outside the cinema for an hour, two of us, freezing",
    ):
        assert "located" not in scanner.scan(text).categories, text


def test_ordinary_visits_cars_and_doors_are_not_located(scanner):
    for text in (
        "Någon knackade på dörren i går kväll. Det var grannen som ville låna en borrmaskin.",
        "a fox followed me home from the bus stop lmao",
        "someone knocked on my door, just the courier with my sneakers lol",
        "they're coming tonight for the party",
        "samma bil som min pappa har, står i garaget",
        "jag försöker öppna dörren men nyckeln har fastnat",
        "i followed the signs to my car",
        "vi väntade på dom vid skolan",
        "the bus goes past my house every day",
        "mamma hämtar honom när det blir mörkt",
    ):
        assert "located" not in scanner.scan(text).categories, text


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("två av västarna är i stan nu", "gang_here_now"),
        ("dom har hittat min nya lägenhet", "found_my_place"),
        ("how the hell did they know i was at my mums??", "how_they_knew"),
        ("someone left flowers on our doormat, no card", "anonymous_delivery"),
        ("my new address is not a secret anymore", "address_exposed"),
        ("dom knackar och knackar på dörren", "repeated_knocking"),
        ("i can hear them talking about me in the stairwell", "talking_about_me_outside"),
        ("a van with its headlights off has been circling the block", "dark_car_circling"),
        ("han har släppts från kåken och är tillbaka i stan", "released_and_near"),
        ("en av dom visste vem jag var direkt", "knows_who_i_am"),
    ],
)
def test_located_covers_round_four_ideas(scanner, text, rule):
    assert ("located", rule) in reasons(scanner, text)


def test_round_four_located_words_stay_quiet_in_ordinary_chat(scanner):
    for text in (
        "har ätit samma nudlar fem dagar i rad",
        "hur visste du att jag var hos mamma?",
        "they're coming tonight for pizza",
        "they found my job application in the pile",
        "my kids know who i am lol",
        "min kompis är på permis och är i stan i helgen",
    ):
        assert "located" not in scanner.scan(text).categories, text


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
    assert not compile_matcher().with_text_model(None).scan(text).matched_any
    key, prefix = language.parse_phrase("nymedicinol")
    extended = compile_matcher([PhraseEntry(key, "", "", prefix=prefix, source="phrase:7", concept="medicine")])
    assert ("overdose", "medicine_quantity") in extended.scan(text).reasons


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


def test_every_concept_word_and_exclusion_is_listed_once():
    # Branches of rule work merged into one file: a word listed twice is noise to review.
    keys = [
        (entry.concept, entry.exclusion, entry.key, entry.prefix)
        for entry in language.default_entries()
        if entry.concept or entry.exclusion
    ]
    repeated = [key for key, count in Counter(keys).items() if count > 1]
    assert not repeated


def test_a_rule_file_with_an_unknown_category_is_refused(tmp_path: Path):
    path = tmp_path / "rules.tsv"
    path.write_text("rule\tx\tcritical\tnot_a_category\t3\ta,b\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"rules\.tsv:1: unknown category"):
        language.load_rule_file(path)


def test_a_negation_in_the_same_clause_cancels_a_listed_phrase_too(scanner):
    assert not scanner.scan("har inte rökt på sen i julas").matched_any
    assert not scanner.scan("im not suicidal, just tired").matched_any
    # A clause ends at punctuation and at "men"/"but": the negation stays in its own.
    assert scanner.scan("mår inte bra, vill dö").matched_any
    assert scanner.scan("har inte sovit men vill bara dö").matched_any
    # "orkar inte" says how the writer is, it negates nothing after it.
    assert scanner.scan("orkar inte vill bara dö").matched_any


def test_a_negation_between_the_words_of_a_rule_cancels_it(scanner):
    assert ("self_harm", "wish_to_die") in reasons(scanner, "jag vill verkligen dö")
    assert not scanner.scan("jag vill verkligen inte dö").matched_any
    # ...but not the "inte" of a condition, which belongs to the threat.
    assert scanner.scan("dom sa att om jag inte betalar så tar dom min son").matched_any


def test_the_rules_see_everyday_words_for_the_same_idea(scanner):
    examples = {
        "dom sa att ungarna inte är säkra längre": "threat",
        "they told my cousin i'm a dead man walking": "threat",
        "en kille från gamla orten kände igen mig på jobbet": "located",
        "dom har skickat folk efter mig ikväll": "located",
        "two guys from the estate waiting outside my building": "located",
        "ligger i badkaret och tänker på döden hela tiden": "self_harm",
        "give my trainers to my little bro, i wont need them": "self_harm",
        "käkade 12 imovane, känns konstigt": "overdose",
        "took all my propranolol": "overdose",
        "ringde min gamla langare idag": "relapse",
        "theyve got me holding a bag for them": "relapse",
        "they smashed my head with a bottle": "weapons",
        "det brinner i min trapp, nån har tänt på": "weapons",
    }
    for text, category in examples.items():
        assert category in scanner.scan(text).categories, text


def test_what_surrounds_a_match_can_say_it_is_not_about_now(scanner):
    # a film, a game, a dream, an accident, a medical shot, a scare that was nothing
    for text in (
        "såg en film igår där dom sköt typ alla",
        "brorsan slog mig i pingis",
        "drömde att dom hittade mig, vaknade svettig men de e lugnt",
        "banged my head on the cupboard door, ouch",
        "got my booster shot today, arm hurts",
        "someone knocked on the door, it was my neighbour wanting milk",
        "the workmen have been in my flat all day fixing the bathroom",
        "min gamla lärare kände igen mig på bussen",
        "min mamma såg mig på stan idag",
    ):
        assert not scanner.scan(text).matched_any, text


def test_a_quantity_word_before_a_unit_is_no_number_of_tablets(scanner):
    assert not scanner.scan("läkaren höjde dosen, tar 100 mg sertralin nu").matched_any
    assert not scanner.scan("har tagit alvedon i 5 dagar").matched_any
    assert ("overdose", "medicine_quantity") in reasons(scanner, "har tagit 100 sertralin")


def test_a_clock_time_is_no_number_of_tablets(scanner):
    for text in (
        "sambon har migrän, ja dra ut 23:00 och köpte alvedon på pressbyrån",
        "har du tid imorgon? ja ska hämta ut medicin kl 14 men sen e ja ledig",
        "tar sertralinen klockan 8 varje morgon",
    ):
        assert not scanner.scan(text).matched_any, (text, scanner.scan(text).reasons)
    # A number of tablets beside a time, or a range, is still one; so is one after "at"
    # ("i'm at 40 pills"), which is why English "at" is no clock word.
    for text in (
        "im at 40 pills now",
        "kl 14 tog jag 20 alvedon",
        "tog 30 stesolid kl 23",
        "took 40 paracetamol at 3",
        "tog typ 10-20 alvedon",
    ):
        assert ("overdose", "medicine_quantity") in reasons(scanner, text), text


def test_a_drop_after_line_drops_a_word_right_after_its_one_word_leader(tmp_path: Path):
    rules = rules_file(tmp_path, "rule\tdose\tcritical\toverdose\t3\ta,q\ndrop_after\tq\tk\n")
    assert rules.drops_after == (("q", "k"),)
    assert {"q", "k"} <= rules.concepts
    matcher = PhraseMatcher(concept_words(a="alfa", q="20", k="kl"), rules)
    assert not matcher.scan("alfa kl 20").matched_any
    assert matcher.scan("alfa 20 kl").reasons == (("overdose", "dose"),)
    assert matcher.scan("kl x 20 alfa").reasons == (("overdose", "dose"),)
    # A drop_after line needs its leader, as a drop line its follower.
    with pytest.raises(ValueError, match=r"rules.tsv:1: expected a rule, a block, a clause, a drop, a drop_after"):
        rules_file(tmp_path, "drop_after\tq\n")


def test_a_family_word_blocks_seeing_only_as_the_one_who_saw(scanner):
    assert not scanner.scan("min mamma såg mig på stan och blev glad").matched_any
    assert ("located", "group_has_my_details") in reasons(
        scanner, "they found my girlfriend's place where i stay sometimes"
    )


def test_an_exclusion_is_counted_before_the_rules_are_looked_at(scanner):
    assert not scanner.scan("shoot me a text when you're free").matched_any
    # What lies outside the exclusion still counts.
    assert scanner.scan("jag dör av skratt, men jag vill dö").matched_any


def rules_file(tmp_path: Path, text: str) -> language.RuleSet:
    path = tmp_path / "rules.tsv"
    path.write_text(text, encoding="utf-8")
    return language.load_rule_file(path)


def concept_words(**words: str) -> list[PhraseEntry]:
    return [PhraseEntry(normalise(word), "", "", source="test", concept=concept) for concept, word in words.items()]


def test_a_rule_finds_its_words_whatever_order_its_slots_are_written_in(tmp_path: Path):
    # beta lies both before and after alfa: only the later one puts all three within 4 words.
    text = "x x x beta x alfa x beta x gamma"
    entries = concept_words(a="alfa", b="beta", c="gamma")
    for slots in ("a,b,c", "c,b,a", "b,a,c"):
        rules = rules_file(tmp_path, f"rule\tnear\thigh\tthreat\t4\t{slots}\n")
        assert PhraseMatcher(entries, rules).scan(text).reasons == (("threat", "near"),), slots


def test_a_slot_takes_any_of_its_alternatives(tmp_path: Path):
    rules = rules_file(tmp_path, "rule\teither\thigh\tthreat\t2\ta|b,c\n")
    matcher = PhraseMatcher(concept_words(a="alfa", b="beta", c="gamma"), rules)
    assert matcher.scan("alfa gamma").matched_any
    assert matcher.scan("beta gamma").matched_any
    assert not matcher.scan("alfa beta").matched_any


def test_a_blocker_may_name_single_rules_and_a_near_one_looks_after_the_match(tmp_path: Path):
    rules = rules_file(
        tmp_path,
        "rule\tone\thigh\tthreat\t2\ta,b\nrule\ttwo\thigh\tthreat\t2\ta,c\nblock\tz\tone\tnear:3\n",
    )
    matcher = PhraseMatcher(concept_words(a="alfa", b="beta", c="gamma", z="zeta"), rules)
    assert matcher.scan("alfa beta gamma zeta").reasons == (("threat", "two"),)
    assert matcher.scan("alfa beta. zeta").reasons == (("threat", "one"),)


def test_a_rule_file_names_only_known_rules_and_scopes(tmp_path: Path):
    with pytest.raises(ValueError, match=r"unknown category or rule"):
        rules_file(tmp_path, "rule\tone\thigh\tthreat\t2\ta,b\nblock\tz\tnot_a_rule\tmessage\n")
    with pytest.raises(ValueError, match=r"unknown scope"):
        rules_file(tmp_path, "rule\tone\thigh\tthreat\t2\ta,b\nblock\tz\tone\tsomewhere:3\n")
    with pytest.raises(ValueError, match=r"rules.tsv:2: unknown block option 'not_high'"):
        rules_file(tmp_path, "rule\tone\thigh\tthreat\t2\ta,b\nblock\tz\tone\tmessage\tnot_high\n")


@pytest.mark.parametrize(("option", "critical_kept"), [("\tnot_critical", True), ("", False)])
def test_a_not_critical_blocker_cancels_a_high_match_and_never_a_critical_one(tmp_path: Path, option, critical_kept):
    rules = rules_file(
        tmp_path,
        "rule\tfeeling\thigh\tself_harm\t3\ta,b\nrule\tmethod\tcritical\tself_harm\t3\ta,c\n"
        f"block\tz\tself_harm\tnear:4{option}\n",
    )
    matcher = PhraseMatcher(concept_words(a="alfa", b="beta", c="gamma", z="zeta"), rules)
    assert not matcher.scan("alfa beta zeta").matched_any
    # The critical match survives the blocker only with the option; without it, both go.
    assert matcher.scan("alfa gamma zeta").matched_any == critical_kept
    assert matcher.scan("alfa gamma").reasons == (("self_harm", "method"),)


@pytest.mark.parametrize("severity", ["high", "critical"])
def test_a_rules_only_blocker_cancels_a_rule_and_never_a_listed_phrase(tmp_path: Path, severity):
    rules = rules_file(
        tmp_path, f"rule\tmethod\t{severity}\tself_harm\t3\ta,c\nblock\tz\tself_harm\twithin:4\trules_only\n"
    )
    listed = PhraseEntry(normalise("vill dö"), severity, "self_harm", source="default:sv")
    matcher = PhraseMatcher([*concept_words(a="alfa", c="gamma", z="zeta"), listed], rules)
    assert not matcher.scan("alfa gamma zeta").matched_any
    assert matcher.scan("alfa gamma").reasons == (("self_harm", "method"),)
    # A phrase said in so many words is no rule's reading of ordinary words: it stays.
    assert matcher.scan("vill dö zeta").reasons == (("self_harm", "listed_phrase"),)
    assert matcher.scan("alfa gamma vill dö zeta").reasons == (("self_harm", "listed_phrase"),)
    with pytest.raises(ValueError, match=r"rules.tsv:1: unknown block option 'rules'"):
        rules_file(tmp_path, "block\tz\tself_harm\twithin:4\trules\n")


def test_a_game_explains_a_rule_beside_it_but_not_a_critical_phrase_said_outright(scanner, scanner_with_model):
    # The sport blocker cancelled the listed phrase too, and this went silent.
    text = "ja ska ta livet av mig efter matchen ikväll"
    assert scanner_with_model.scan(text).severity is Severity.CRITICAL
    assert reasons(scanner, text) == {("self_harm", "listed_phrase")}
    # A rule's jump or blow beside a sport is still the sport, critical rule or not.
    for text in (
        "såg ett klipp där en kille hoppade från ett tak i parkour asg sjukt",
        "dottern har börjat boxas, hon slår hårdare än mig redan",
    ):
        assert not scanner.scan(text).matched_any, (text, scanner.scan(text).reasons)


def test_a_plea_for_help_makes_a_laugh_beside_a_threat_nerves_not_a_joke(scanner_with_model):
    # The laugh was an ordinary sign, which let the model drop the critical threat.
    for text in (
        "dom hotar att döda min mamma haha vad ska ja göra",
        "they threaten to kill my mom lol what do i do",
        "dom sa dom ska döda brorsan haha jag är så rädd",
    ):
        assert scanner_with_model.scan(text).severity is Severity.CRITICAL, text
    # A plea in a game's trash talk brings no critical match with it.
    assert not scanner_with_model.scan("jag dödar dig i fifa ikväll haha vad ska jag göra").matched_any


def test_at_work_makes_a_feeling_ordinary_but_not_a_rope_or_a_roof(scanner):
    # Each of these was cancelled by at_work_benign before it spared critical matches.
    for text, rule in {
        "sitting on the edge of the roof at work right now": "at_the_edge",
        "har repet i förrådet på jobbet nu": "sh6_rope_stashed",
        "i have a rope at work and im gonna hang myself tonight": "rope_acquired",
    }.items():
        assert scanner.scan(text).severity == "critical", (text, scanner.scan(text).reasons)
        assert ("self_harm", rule) in reasons(scanner, text), text
    # High matches it still cancels (each alerts without the blocker), and a rope at work
    # with no sign of a crisis.
    for text in (
        "orkar inte mer på jobbet idag, vill bara hem och sova",
        "no point in living at work with this boss lol",
        "kapade repet på jobbet idag, vi hängde upp banderollen",
    ):
        assert not scanner.scan(text).matched_any, (text, scanner.scan(text).reasons)


def test_a_blocker_in_another_sentence_cancels_nothing(scanner):
    # A message is often two or three thoughts; an ordinary one after a crisis is no
    # reason to stay quiet.
    for text in (
        "någon följer efter mig från stationen. jag har tid hos läkaren på fredag",
        "hjälp de är här. kan du skicka blanketten till försäkringskassan",
        "took all my pills an hour ago. got a job interview at 9 tomorrow",
    ):
        assert scanner.scan(text).matched_any, text
    # In the same sentence, across a comma, it still does.
    assert not scanner.scan("såg min gamla lärare på ica, hon kände igen mig direkt").matched_any
    assert not scanner.scan("förut skar ja mig, men de e två år sen nu").matched_any


def test_va_and_ba_are_read_as_var_and_bara():
    assert normalise("det va ba grannen") == normalise("det var bara grannen")
    assert normalise("de vet va ja bor") == normalise("de vet var jag bor")


def test_a_from_blocker_also_covers_a_match_starting_on_its_own_first_word(tmp_path: Path):
    lead = rules_file(tmp_path, "rule\tone\thigh\tthreat\t3\ta,b\nblock\tz\tone\tlead:3\n")
    start = rules_file(tmp_path, "rule\tone\thigh\tthreat\t3\ta,b\nblock\tz\tone\tfrom:3\n")
    words = concept_words(a="alfa", b="beta", z="alfa sa")
    assert PhraseMatcher(words, lead).scan("alfa sa beta").matched_any
    assert not PhraseMatcher(words, start).scan("alfa sa beta").matched_any
    # Further than its words, or in another clause, it cancels nothing.
    assert PhraseMatcher(words, start).scan("alfa sa, gamma delta beta alfa beta").matched_any


def test_a_family_member_teasing_is_no_threat(scanner):
    for text in (
        "syrran sa att hon ska döda mig om ja tar hennes laddare",
        "my little girl say she will kill me if I am late to her show again",
        "mamma hotar att ta min mobil om ja inte städar",
        "My mum threatens to move in with us if I don't visit more often",
        "my wife will kill me if I forget the milk",
        "my sister is gonna kill me, i broke her phone",
        "my daughter threatened to move out",
        "gonna kill my brother, he ate my pizza again",
    ):
        assert not scanner.scan(text).matched_any, text
    # Someone else's threat told by the family, or the family threatened, still is one.
    assert scanner.scan("syrran sa att dom ska döda mig").matched_any
    assert scanner.scan("my sister said they will kill me").matched_any
    assert ("threat", "threat_against_family") in reasons(scanner, "min lillebror blev hotad igår")
    assert ("threat", "harm_intended_for_family") in reasons(scanner, "they will kill my sister")
    assert ("threat", "harm_intended_for_me") in reasons(scanner, "they will kill me and my sister")


def test_a_friendly_meeting_or_a_figure_of_speech_is_no_alarm(scanner):
    assert not scanner.scan("saw my old boss at the mall, she recognised me and we got coffee").matched_any
    assert not scanner.scan("kronofogden tar halva lönen, känns som att bli rånad varje månad").matched_any
    assert not scanner.scan("de ringde på dörren, va ba grannen som ville låna mjöl").matched_any
    assert scanner.scan("en av dom kände igen mig på stan igår").matched_any
    assert scanner.scan("blev rånad av två killar vid stationen").matched_any


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("he just hit me in front of the kids", "hit_me"),
        ("they beat us up outside the shop", "hit_me"),
        ("ska fixa en pang av en polare", "getting_a_gun"),
        ("fick ett slagträ över ryggen vid macken", "struck_with_weapon"),
        ("someone smashed a bottle over my head", "struck_with_object"),
        ("if he touches my kids again i swear", "touches_family_again"),
        ("dom slåss utanför med knivar just nu", "fight_with_weapons"),
        ("han slår henne just nu, hör det genom väggen", "beating_now"),
        ("he held a knife to my throat", "weapon_to_throat"),
        ("de sköt in genom fönstret inatt", "shot_at_property"),
        ("han står utanför med kniv", "armed_outside"),
    ],
)
def test_violence_is_seen_in_everyday_words(scanner, text, rule):
    assert ("weapons", rule) in reasons(scanner, text)


def test_everyday_hitting_beating_and_buying_is_not_violence(scanner):
    for text in (
        "she beat me at chess again",
        "they beat us 3-1 in the final",
        "he hit on me at the bar",
        "it hit me that i forgot my keys",
        "he cut me off on the motorway",
        "got a massage gun for christmas",
        "dad bought a rifle for hunting",
        "mamma slår in paketen nu",
        "det slår mig nu att jag glömt nycklarna",
        "fick en smäll i dörren, aj",
        "använder kniven till brödet",
        "she pushed me to apply for the job",
    ):
        assert "weapons" not in scanner.scan(text).categories, text


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("min kompis blöder jättemycket, nån stack honom", "bleeding_badly"),
        ("he's bleeding from his head, they hit him with something", "bleeding_badly"),
        ("ett gäng killar spöade min son i parken", "beaten_by_several"),
        ("a gang of lads beat my brother outside the shop", "beaten_by_several"),
        ("they beat him black and blue last night", "beaten_badly"),
        ("han sparka mig i huvet igen", "hit_in_body"),
        ("om dom kommer hit så skjuter jag först", "strike_first"),
        ("i'll get him before he gets me", "strike_before"),
        ("han har tagit kniven och ska gå efter dem", "weapon_confront"),
        ("någon försöker sparka in dörren", "breaking_in"),
        ("hörde skott utanför porten", "shots_outside"),
        ("someone tried to run me over on purpose", "run_over_deliberately"),
        ("min son kom hem med blåtira, tre killar tog honom", "came_home_injured"),
        ("he's a dead man when i find him", "dead_man"),
    ],
)
def test_violence_is_seen_as_ideas_not_single_phrases(scanner, text, rule):
    assert ("weapons", rule) in reasons(scanner, text)


def test_everyday_bleeding_breaking_shots_and_revenge_are_not_violence(scanner):
    for text in (
        "my nose is bleeding again, dry air",
        "jag blöder så mycket när jag har mens",
        "det blöder mycket från knät, ramlade med cykeln",
        "two guys cut in line at the store",
        "a group of us hit up the new burger place",
        "ja slog mitt rekord på 5 km idag",
        "my son came home with a black eye from football practice",
        "the storm smashed our window",
        "we did shots at the bar, tequila shots rn",
        "sköt om dig nu",
        "jag hörde skotten på nyårsafton, fyrverkerier överallt",
        "vi ska göra upp om priset, ta med kniven till grillen",
        "ran him over in mario kart lol",
        "i need a glue gun for the craft project",
        "läste om skottlossningen i stan",
        "the wind hit me in the face when i opened the door",
    ):
        assert "weapons" not in scanner.scan(text).categories, text


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("min kompis sköts ihjäl i helgen", "close_one_attacked"),
        ("my best mate was stabbed outside the club", "close_one_attacked"),
        ("a guy tried to drag my daughter into a van after school", "abduction_attempt"),
        ("om dom kommer hit så har jag kniven redo", "armed_if_they_come"),
        ("har en slägga vid dörren, kommer dom hit så smäller det", "improvised_defence"),
        ("two men beat my dad and said it was a message from his old crew", "attack_with_message"),
        ("some asshole ran me over on my bike and drove off", "run_over_by_someone"),
        ("a stranger hit my son at the park", "family_hit_by"),
        ("en bomb exploderade utanför min brors port", "explosion"),
        ("there was an explosion at my sister's flat", "blast_at_family"),
        ("dom bröt armen på mig", "broke_my_bones"),
        ("han slog sönder allt i min lägenhet", "wrecked_my_home"),
        ("i'll smash his face in", "intent_to_hurt_badly"),
        ("they put my cousin in hospital", "put_in_hospital"),
        ("någon försökte hugga mig", "attacked_us"),
        ("my neighbour is beating his wife, I can hear it", "family_abused"),
        ("pappa slår mamma", "family_abused"),
        ("jag såg hur dom misshandlade en kille utanför", "witnessed_assault"),
        ("jag har alltid kniven i bilen", "weapon_at_hand"),
    ],
)
def test_violence_to_close_ones_homes_and_in_defence_is_seen(scanner, text, rule):
    assert ("weapons", rule) in reasons(scanner, text)


def test_everyday_twins_of_the_new_violence_ideas_stay_quiet(scanner):
    for text in (
        "got a new frying pan n a chef knife, cookin tonight",
        "shot my shot with a girl at the gym, she said no lol",
        "if they come over tomorrow i'll bring the hammer to fix the shelf",
        "mamma fick ta smällen för hela kalaset",
        "pappa smällde igen dörren och gick",
        "that party was the bomb, my sister loved it",
        "my best friend got killed in a car crash",
        "I broke my arm skiing",
        "I smashed up the avocado on my toast",
        "vi försökte skjuta upp mötet till min lediga dag",
        "he gave me a piece of cake",
        "vi tände brinnande ljus i fönstret för mormor",
        "She was struck with fear",
        "my friend hit me up yesterday",
        "my heart is beating so fast, my sister is getting married",
        "my brother is hitting the gym with dad",
        "mamma slår alltid pappa i kortspel",
        "pappa slog i taket när han såg räkningen",
    ):
        assert "weapons" not in scanner.scan(text).categories, text


def test_relapse_rules_see_the_group_pushing_and_the_slang(scanner):
    # Being pushed to drive, hold or hide for the group; a last job "they say"; dealing,
    # buying, being high for a spell, sobriety lost. Invented wordings, not eval rows.
    for text in (
        "de vill att ja förvarar en väska hemma hos mig",
        "theyre making me carry the stuff across town",
        "dom fick mig att köra igen",
        "bara den här gången säger dom",
        "jobbade åt dom igen igår",
        "säljer igen, behöver cash",
        "köpte fejk xanor på snap",
        "har varit hög hela helgen",
        "3 months clean and i blew it last night",
        "har börjat hänga med gamla gänget igen",
        "tar mina stesolid för att bli hög",
        "sitter på krogen igen",
    ):
        assert "relapse" in scanner.scan(text).categories, text
    # ...and stay quiet for ordinary errands, sales, work and a high fever.
    for text in (
        "ingen tjack, ingen sprit, två år idag",
        "mamma vill att jag hämtar ett paket på posten",
        "they want me to take the test again",
        "sold out again, no tickets",
        "sålde min cykel igen på blocket",
        "hade hög feber hela natten",
        "they pay me to drive a van for a delivery firm now",
        "6 months sober and the cravings are gone",
        "vi var på puben igen för fotbollen, drack cola",
        "drank one beer at my sisters wedding, just one",
    ):
        assert not scanner.scan(text).matched_any, text


def test_an_all_clear_or_a_refusal_anywhere_in_the_message_settles_it(scanner):
    # "It was the neighbour" usually comes in the next sentence.
    assert not scanner.scan(
        "Någon knackade på dörren i går kväll. Det var grannen som ville låna en borrmaskin."
    ).matched_any
    assert not scanner.scan(
        "old buddy from the club called asking if i wanted to drive for them. said no. im done"
    ).matched_any
    assert scanner.scan("Någon knackade på dörren i går kväll. Jag vågade inte öppna.").matched_any


def test_a_year_gone_by_is_the_past(scanner):
    assert not scanner.scan(
        "Blev knivhuggen 2017 utanför en krog i Västerås. Ärret kliar när det är kallt."
    ).matched_any
    assert scanner.scan("blev knivhuggen utanför en krog i västerås nyss").matched_any


def test_threats_through_the_family_debt_deadline_and_witness(scanner):
    # Issue 14, third round (threat): ideas, each said a few ways.
    assert ("threat", "family_pays") in reasons(scanner, "om ja inte betalar tillbaka så får mamma betala istället")
    assert ("threat", "family_pays") in reasons(scanner, "i owe them 20k or my brother pays for it")
    assert ("threat", "family_is_next") in reasons(scanner, "dom sa om ja inte gör det så e mamma nästa")
    assert ("threat", "deadline_or_else") in reasons(scanner, "han sa ja har en vecka sen e de kört för mig")
    assert ("threat", "deadline_or_else") in reasons(scanner, "they want 10 grand by monday or i'm finished")
    assert ("threat", "given_a_deadline") in reasons(scanner, "dom gav mig till på måndag")
    assert ("threat", "witness_pressure") in reasons(
        scanner, "jag har tills fredag att ta tillbaka det jag sa till polisen"
    )
    assert ("threat", "police_or_else") in reasons(scanner, "if i talk to the cops im dead")
    assert ("threat", "group_wants_revenge") in reasons(scanner, "dom vill hämnas")
    assert ("threat", "bounty_on_family") in reasons(scanner, "dom har satt ett pris på brorsan")
    assert ("threat", "after_my_family") in reasons(scanner, "dom e ute efter brorsan nu")
    assert ("threat", "reported_threat") in reasons(
        scanner, "nån skickade till henne att hennes son snart ligger i en kista"
    )
    assert ("threat", "family_not_safe") in reasons(scanner, "han sa att morsan inte e säker längre")
    # ... and the everyday senses stay quiet.
    for text in (
        "my dad will pay for it, he said",
        "han sa att vi ses nästa vecka",
        "min bror e nästa på tur att ta körkort",
        "mamma sa att hon inte är säker längre på om hon vill flytta",
        "the kids are after ice cream again",
    ):
        assert not scanner.scan(text).matched_any, text


def test_self_harm_ideas_in_other_words_and_their_ordinary_twins(scanner):
    fires = {
        "sitter på spåren nu. säg inget till mamma": "at_the_tracks",
        "i'm sorry for everything, tell my kids i tried": "sorry_tell_family",
        "pallar inte mer, vill bara försvinna": "cant_go_on_done",
        "it would be easier for everyone if i wasnt around": "better_off_without_me",
        "Pojken sa att det vore bättre för alla om han var död": "better_off_without_him",
        "ingen väg ut. enda sättet är att dö": "only_way_out",
        "did it again with the blade, so much blood": "did_it_again_blade",
        "skrev brev till barnen och frun": "letters_to_family",
        "found a note from him saying goodbye": "note_left",
    }
    for text, rule in fires.items():
        assert ("self_harm", rule) in reasons(scanner, text), text
    for text in (
        "sorry for everything yesterday, tell my mum i'll call her later",
        "meet me at the train tracks at 5, see you",
        "im done with work, heading home",
        "han är bättre utan henne, hon var elak",
        "did it again lol, ate the whole cake",
        "i wont be needing the car this weekend, you can have it",
        "This is my last message tonight, the kids need to go to bed. Good night!",
        "this is my last night in london, thanks for everything",
    ):
        assert "self_harm" not in scanner.scan(text).categories, text


def test_overdose_in_misspellings_street_names_and_loose_amounts(scanner):
    # Misspelt and street names of a medicine count as the medicine.
    for text in (
        "tog 15 stesolit o en flaska vodka",
        "necked 25 diazapam with a bottle of rum",
        "har tryckt i mig 30 imovan",
        "popped 10 of the oxys, everything's slow",
        "tog 8 xanny",
    ):
        assert "overdose" in scanner.scan(text).categories, text
    # "Many", "so many", "lost count" with a medicine and a taking.
    assert ("overdose", "took_many_pills") in reasons(scanner, "I ate many pills from my mother cabinet")
    assert ("overdose", "took_many_pills") in reasons(scanner, "tog så många propavan att ja knappt ser")
    assert ("overdose", "took_many_pills") in reasons(scanner, "swallowed so many pills i lost count")
    # More than the dose, emptying a pill box.
    assert ("overdose", "took_excess_dose") in reasons(scanner, "took 3 times my dose")
    assert ("overdose", "emptied_pill_container") in reasons(scanner, "har tömt hela dosetten")
    assert ("overdose", "emptied_medicine") in reasons(scanner, "tömde burken med alvedon")


def test_ordinary_medicine_talk_stays_quiet(scanner):
    for text in (
        "how many pills do i take each day",
        "how many pills have you taken today",
        "min mamma tar 10 olika tabletter om dagen",
        "fick 20 imovane utskrivna",
        "the pharmacy gave me 30 zopiclone",
        "vet inte hur många tabletter jag ska ta, läkaren sa två",
        "ate more than i should at dinner, so full",
        "en massa jobb idag, tog en alvedon",
        "dad had so many pills to sort in his pill box",
        "took so many pictures at the zoo lol",
        "emptied the dishwasher then took my meds",
        "i have so many meds to remember",
        "got 15 diazepam left from before, gonna hand them in",
    ):
        assert not scanner.scan(text).matched_any, text


def test_relapse_rules_see_smoking_storing_and_errands_in_other_words(scanner):
    # Round 2 of issue 14: ideas, not single messages -- a joint or a spell of smoking,
    # use after clean time, their bags stored at home, back in the group, errands for a
    # debt or "one last delivery", a bank account lent, drugs found, drinking to cope.
    # Invented wordings, not eval rows.
    for text in (
        "rökte en spliff med gamla polarna igår",
        "smoked a blunt, first time in months",
        "had a few drinks after 6 months sober",
        "they left a holdall at my place, i know whats in it",
        "dom har ställt in en sportbag i mitt förråd, vill inte veta vad som är i den",
        "ja e tillbaka i gänget",
        "one last drop for them tonight and then im out",
        "he owes them so he picked up a package for them",
        "dom vill använda mitt bankkonto",
        "hittade en påse vitt i hans jacka",
        "behöver en öl för att klara dagen",
        "super sen i lördags",
        "tog molly på fest igår",
    ):
        assert "relapse" in scanner.scan(text).categories, text
    # ...and stay quiet for cigarettes, smoked food, luggage, old friends, a sports club,
    # a refusal in the next sentence and a drink of tea.
    for text in (
        "rökte en cigg igen efter maten",
        "smoked salmon for dinner again",
        "la väskorna i källaren efter resan",
        "tillbaka i klubben efter skadan",
        "lovat att köra bilen till verkstan",
        "dom frågade om jag ville köra åt dom. sa nej. klar med det",
        "asked me to hold a bag for them. said no and blocked him",
        "dricker kamomillte för att somna",
        "went to the car dealer and bought a new volvo",
        "tog molly till dagis i morse",
        "jag passar barnen åt dem i helgen",
        "säljer lotter åt klubben",
        "2 years clean today, went out and bought a cake",
    ):
        assert not scanner.scan(text).matched_any, text


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("svalde typ 15 av dom nyss", "swallowed_a_number"),
        ("swallowed all of them an hour ago", "swallowed_them_all"),
        ("Jag har svalt alla sertralin jag fick utskrivna i fredags", "swallowed_all_of"),
        ("found my mums pills and took them all", "took_them_all"),
        ("ja hittade brorsans tramadol och tog allt som va kvar", "took_them_all"),
        ("took 20 of them and now i feel weird", "took_count_of_them"),
        ("tog alla mammas sömntabletter", "took_all_of_theirs"),
        ("Tog fyra subutex i stället för en", "took_instead_of_one"),
        ("tog tre stesolid samtidigt", "few_at_once"),
        ("tar hela kartan nu", "taking_all_now"),
        ("i took something and now i cant feel my face", "took_something_symptoms"),
        ("ja har druckit o tagit tabletter", "drank_and_took"),
        ("about to take every pill in my medicine cabinet tonight", "took_whole_pack"),
        ("la på tre fentanylplåster", "strong_medicine_taken"),
        ("tog fyra zopiklon, nu kan jag inte hålla ögonen öppna och allt känns konstigt", "medicine_symptoms"),
    ],
)
def test_an_overdose_is_seen_without_a_named_medicine_or_a_big_number(scanner, text, rule):
    assert ("overdose", rule) in reasons(scanner, text), text


def test_ordinary_medicine_talk_and_taking_things_is_no_overdose(scanner):
    # a medicine taken for a symptom, the doctor's own prescription collected, a question,
    # someone's habit, swallowed water, children taken somewhere, food that made one sick
    for text in (
        "tog en alvedon för att jag mår illa",
        "i took ibuprofen because i was dizzy",
        "hämtade ut alla sertralin jag fick utskrivna",
        "do you know if i can take ibuprofen with alcohol?",
        "my mum takes loads of pills for her heart",
        "swallowed too much water at the pool",
        "we took them all to the park",
        "tog tre bussar istället för en",
        "min son åt något och spyr nu, ska vi åka in?",
        "drack vatten och tog mina tabletter",
        "took all my meds today like a good boy",
    ):
        assert "overdose" not in scanner.scan(text).categories, text


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("I have eaten all the Ipren tablets in the cupboard", "took_all_of_a_medicine"),
        ("tog alla pillrena mamma har i skåpet", "took_all_of_a_medicine"),
        ("har tagit samtliga sertralin jag hämtade ut", "all_of_a_medicine"),
        ("tog mina cipralex, alla som var kvar", "took_them_all"),
        ("took all my remaining oxys", "took_them_all"),
        ("tog dubbelt så många som jag får", "took_excess_dose"),
        ("I took my whole week's dose today", "took_excess_dose"),
        ("injected the whole insulin pen", "took_whole_pack"),
        ("tömde hela medicinskåpet", "emptied_pill_container"),
        ("10 stessor o en flaska jack", "medicine_with_alcohol"),
    ],
)
def test_all_that_was_left_and_excess_without_a_number_is_an_overdose(scanner, text, rule):
    assert ("overdose", rule) in reasons(scanner, text), text


def test_all_of_a_span_of_time_water_and_pills_put_away_are_no_overdose(scanner):
    for text in (
        "tog alvedon hela dagen för huvudvärken",
        "took ibuprofen all day for my back",
        "Hade huvudvärk hela dagen, tog en treo vid lunch",
        "took my pills with a bottle of water",
        "tog alla tabletter ur skåpet och gav dom till mamma",
        "took the remaining two tablets of my antibiotics today",
        "tog hela veckans disk",
        "ate twice as many cookies as i should",
    ):
        assert "overdose" not in scanner.scan(text).categories, text


def test_threats_by_idea_the_family_pays_debts_to_the_group_and_silencing(scanner):
    fires = {
        "dom vill ha 40 tusen innan fredag annars är det min dotter": "or_my_family",
        "they want ten grand by monday or its my kids": "or_my_family",
        "they said if i talk to the feds my sister gets it": "family_pays_bare",
        "pay up or ur mum pays": "family_pays_bare",
        "they say i owe the gang 20k since i left": "owe_the_group",
        "om jag inte betalar så tar dom ut det på min familj": "taken_out_on_family",
        "he said if my son talks to the police it will go badly for the whole family": "police_or_else",
        "dom har sagt att pojken ska tystas för gott": "reported_threat",
        "someone told my mum her son will end up in a coffin": "reported_threat",
        "min bror fick höra att vår familj står på deras lista": "reported_threat",
        "someone sent me a pic of a bullet": "weapon_picture",
    }
    for text, rule in fires.items():
        assert ("threat", rule) in reasons(scanner, text), text
    for text in (
        "mormor ska sticka dig en tröja till jul",
        "vi kan åka nu, annars tar vi dig med nästa gång",
        "ask your mom or your dad to pay the deposit by friday",
        "she said my girl gets it from her mum, the curly hair",
        "he told me the job that pays well is in oslo",
        "dom sa att min dotter står på en lista för simskolan",
        "i owe the club my membership fee for this season",
        "om jag inte pluggar så kommer det gå illa på provet",
        "mom said we should watch ourselves on the icy roads",
        "my gf said if i leave my socks on the floor one more time she's gonna end me",
        "The old man told me about the Winter War, how he shot from the forest",
        "send me the bullet points from the meeting",
    ):
        assert "threat" not in scanner.scan(text).categories, text


def test_two_different_weak_self_harm_signs_alert_and_one_alone_does_not(scanner):
    # Each sw_* group alone is an everyday phrase; two different groups in one message
    # are the indirect way people write about ending their life.
    assert ("self_harm", "sw_exhaust_and_farewell") in reasons(
        scanner, "Please take care of my kids if something happens. I cannot continue like this any more."
    )
    assert ("self_harm", "sw_only_and_end") in reasons(
        scanner, "Det känns som att det enda rimliga nu är att avsluta alltihop."
    )
    for quiet in (
        "take care of my kids while I'm at the hospital appointment, forever grateful",
        "tack för allt idag, ses på torsdag!",
        "im ending it with her, she cheated. never again",
        "say bye to the kids for me, I'm heading out early",
        "tell mum I love her and happy birthday",
        "jag har bestämt mig för att sluta röka, tack för allt stöd",
    ):
        assert not scanner.scan(quiet).categories, quiet


def test_relapse_by_idea_one_becomes_more_laundering_customers_and_injecting(scanner):
    fires = {
        "bara en öl sa jag, sen blev det hela flaskan": "one_became_more",
        "a glass of wine turned into the whole bottle": "one_became_more",
        "jag luktar sprit, förlåt": "smell_of_alcohol",
        "dom vill att jag tvättar pengar åt dem genom min firma": "laundering_for_group",
        "waiting for a buyer with the gear": "waiting_for_customer",
        "tog en sil igår": "injected_recently",
        "had a drink last night, first time in a year": "first_time_in_ages",
        "köpte lite gräs av en kille på stan": "street_drugs",
        "got pills off a stranger at the station": "street_medicine",
        "I have resumed using": "back_to_using",
    }
    for text, rule in fires.items():
        assert ("relapse", rule) in reasons(scanner, text), text
    for text in (
        "After 6 months clean I feel great",
        "efter ett år nykter köpte jag en bil",
        "I bought a new phone after 3 months clean as a reward",
        "tog ett glas mjölk och sen ett till",
        "a glass of wine turned into a long night of talking with mum, lovely",
        "I work at a shop, waiting for a customer to pick up the stuff",
        "my blood pressure shot up yesterday",
        "I shot up the stairs this morning",
        "first time in a year I smoked salmon on the grill",
        "I went to wash money in the jeans pocket again lol",
        "found a bag of weed in my son's room, what do I do",
        "Walked past my old dealer's corner today. Kept walking. Called my sponsor.",
        "Vi pratade om återfall på gruppen idag, inte mitt",
        "they asked me to carry their bags at the hotel, said ok",
        "bara lite trött idag, men jag rökte inte",
    ):
        assert "relapse" not in scanner.scan(text).categories, text


def test_threats_in_indirect_words_are_threats(scanner):
    """Round 3: the family bears the consequence, silence is demanded, those who talk
    disappear, helpers are warned, a veiled warning, a picture of a child with a knife."""
    for text, rule in {
        "dom säger att min syster får ta smällen om ja inte gör som dom säger": "family_bears_it",
        "they said my brother will be held responsible for what i told the police": "family_bears_it",
        "he told me my kids safety depends on me keeping quiet": "silence_depends",
        "han sa att folk som pratar med soc brukar försvinna": "police_or_else",
        "they told my cousin to stay away from me or she gets hurt": "helper_warned",
        "nån ringde och sa att jag bör tänka på min hälsa": "veiled_warning",
        "fick en bild på min son. och en kniv": "family_photo_weapon",
        "dom sa att dom tänder eld på hennes lägenhet om jag inte kommer tillbaka": "burn_or_else",
        "they told my brother i owe them 20 grand. or else": "owe_or_else_told",
    }.items():
        assert ("threat", rule) in reasons(scanner, text), text


def test_ordinary_consequences_and_legal_threats_are_no_threat(scanner):
    for text in (
        "min fore detta hotar att ta upp vårdnaden i rätten igen",
        "hyresvärden hotade med vräkning",
        "min syster får ta smällen om jag inte hämtar barnen idag",
        "keep quiet or youll wake the baby",
        "mamma bad mig hålla tyst om överraskningen",
        "sent my mum a picture of my son and the kitchen knife he got for christmas",
        "vi ska lämna landet i sommar, annars blir det för dyrt",
        "mamma sa att jag kommer drabbas av förkylningen också",
    ):
        assert not any(category == "threat" for category, _ in reasons(scanner, text)), text


def test_a_console_given_away_is_a_goodbye_and_a_game_on_it_is_fiction(scanner):
    assert ("self_harm", "giving_things_away") in reasons(
        scanner, "ge min playstation till lillebror, ja behöver den inte mer"
    )
    assert not scanner.scan("satt på playstation hela natten och blev skjuten typ 40 gånger lol").matched_any


def test_errands_laundering_and_signs_of_use_are_substance_but_their_ordinary_twins_are_quiet(scanner):
    for text in (
        "han säljer piller på skolgården åt dom äldre",
        "sold to 4 ppl at school today",
        "dom vill att jag kör en väska till Göteborg, bara en gång sa dom",
        "collecting debts for them again",
        "they want me to put their cash through my company",
        "dottern har stora pupiller och pengar saknas ur plånboken igen",
        "En lina på toaletten i lördags. Jag trodde att jag var starkare.",
        "köpte subbe av en kille på gatan",
    ):
        assert "relapse" in scanner.scan(text).categories, text
    for text in (
        "sålde kakor i skolan till klassresan",
        "picked up a package at the post office, last time i order from them",
        "kunden betalade kontanter genom kassan igen idag",
        "katten har stora pupiller igen haha",
        "bought a sub from a guy at subway",
        "vill ha en öl så jävla mycket men dricker inte. dricker cola istället",
        "my old dealer texted asking if i want anything. told him to lose my number",
    ):
        assert not scanner.scan(text).matched_any, text


@pytest.mark.parametrize(
    "text, rule",
    [
        ("tog mina mediciner för hela veckan på en gång", "took_days_supply_at_once"),
        ("took two weeks of my antidepressants at once", "took_days_supply_at_once"),
        ("tog alla mina mediciner på en gång", "took_all_meds_at_once"),
        ("took double the amount of my meds", "took_multiple_amount"),
        ("took an od", "took_an_overdose"),
        ("I overdid it with my meds", "overdid_medicine"),
    ],
)
def test_a_span_of_medicine_at_once_or_a_multiple_is_an_overdose(scanner, text, rule):
    assert ("overdose", rule) in reasons(scanner, text), text


def test_medicine_packed_or_taken_as_a_routine_is_no_overdose(scanner):
    for text in (
        "tog med en veckas tabletter på resan",
        "took a week of meds to the cabin",
        "jag tar alla mina mediciner samtidigt varje morgon",
        "fyllde dosetten för hela veckan på en gång",
        "tog alla mina mediciner på en gång som läkaren sa",
        "overdid it at the gym",
    ):
        assert "overdose" not in scanner.scan(text).categories, text


def test_veiled_and_indirect_threats_of_round_four(scanner):
    for text, rule in {
        "they put 50k on my head": "bounty_on_me",
        "it would be a shame if something happened to your kids": "shame_if_happens",
        "han sa att folk som golar brukar råka ut för olyckor": "fate_of_talkers",
        "he said people who leave tend to have accidents": "fate_of_talkers",
        "pay up or we take your sister": "take_the_family",
        "snacka med snuten så blir det begravning": "funeral_or_else",
        "om jag inte betalar får lillebror sota för det": "suffer_or_pay",
        "got a pic of a bullet with my name written on it": "bullet_with_my_name",
        "dina dagar är räknade stod det på lappen": "days_numbered",
        "he hoped my daughter enjoys her childhood while it lasts": "enjoy_while_lasts",
    }.items():
        assert ("threat", rule) in reasons(scanner, text), text


def test_ordinary_shame_funerals_and_accidents_are_no_threat(scanner):
    for text in (
        "det vore tråkigt om något hände med resan",
        "det var en begravning i familjen förra veckan så jag var borta",
        "accidents happen, dont worry about the glass",
        "we'll take your brother first then you",
        "njut av ditt liv medan du kan, sa mamma",
        "took an advil for my head thats it",
        "the summer days are numbered, school starts soon",
        "Mum says she'll murder me if I miss her birthday again. I'll be there, obviously.",
    ):
        assert not any(category == "threat" for category, _ in reasons(scanner, text)), text


def test_warnings_to_family_and_marked_pictures_are_threats(scanner):
    for text, rule in {
        "han sa att min bror borde vara försiktig": "family_should_be_careful",
        "fick en bild på mig med ett kryss över ansiktet": "picture_crossed_out",
        "dom sa att dom har folk på anstalten där brorsan sitter": "reach_inside",
        "betala eller så får din syster lära sig en läxa": "suffer_or_pay",
    }.items():
        assert ("threat", rule) in reasons(scanner, text), text
    for text in ("mamma sa att jag ska vara försiktig på isen", "det vore synd om bilen inte startar imorgon"):
        assert not any(category == "threat" for category, _ in reasons(scanner, text)), text


def test_self_harm_ideas_of_round_four_and_their_ordinary_twins(scanner):
    for text, rule in {
        "the world would be just fine without me tbh": "world_without_me",
        "slår mig själv tills det blöder": "self_hit_bleeding",
        "jag önskar att jag fick dö i sömnen": "wish_die_in_sleep",
        "won't be at the meeting on monday, or any after it": "never_attend_again",
        "mamma hittade min sökhistorik om hur man hänger sig": "searched_for_a_way",
        "funderar på att köra rakt in i en pelare": "drive_into",
        "i'm on the bridge. just wanted someone to know": "someone_know_at_height",
        "om jag försvinner, säg till mamma att det inte var hennes fel": "not_their_fault_if_gone",
    }.items():
        assert ("self_harm", rule) in reasons(scanner, text), text
    for text in (
        "jag kommer inte på något mer att säga just nu",
        "the team will manage fine without me while i'm on holiday",
        "keep banging my head on the wall with this code",
        "sökte efter hur man hänger upp en tavla",
        "I'm on the bridge, stuck in traffic, just wanted someone to know I'm late",
        "kan du ta hand om min hund om nåt händer mig på jobbet",
        "got the rope out on the boat",
    ):
        assert not any(category == "self_harm" for category, _ in reasons(scanner, text)), text


# --- fifth pass: substance and overdose ---


def test_fifth_pass_overdose_ideas_fire(scanner):
    for text, rule in {
        "har tagit pappas blodtryckstabletter, typ tolv stycken": "medicine_quantity",
        "svalde 20 hjärttabletter nyss": "medicine_quantity",
        "took 15 of my heart meds an hour ago": "medicine_quantity",
        "tog fler sobril än jag får, kanske åtta": "took_more_than_allowed",
        "popped more pregabs than im allowed tonight": "took_more_than_allowed",
        "tog mina stesolid dubbelt idag": "took_doubled",
        "took my seroquel double tonight": "took_doubled",
        "doubled my xanax this afternoon": "double_dosed",
        "dubblade mina sobril igår kväll och idag": "double_dosed",
        "just swallowed the entire bottle of ibuprofen": "took_whole_pack",
        "tömde kartan med imovane som jag fick utskriven": "emptied_medicine",
        "tog mina hjärtmediciner två gånger, nu är jag yr": "medicine_symptoms",
        "took a load of my heart tablets, my pulse is very slow": "medicine_symptoms",
        "tog åtta bars med en flaska vodka, allt snurrar": "bars_counted",
        "necked 6 bars and now i cant stand": "bars_counted",
    }.items():
        assert ("overdose", rule) in reasons(scanner, text), text


def test_fifth_pass_overdose_twins_stay_quiet(scanner):
    for text in (
        "mamma tar sina blodtryckstabletter varje morgon",
        "har tagit hjärtmedicinen idag som vanligt",
        "doktorn dubblade min dos av sertralin",
        "my doctor doubled my sertraline last week",
        "tog en dubbel espresso och mina tabletter",
        "i doubled my workout and took my vitamins",
        "tog mina tabletter som läkaren skrev ut",
        "pappa glömde sina hjärttabletter hemma igen",
        "the entire bottle of shampoo leaked in my bag",
        "there are 10 bars on this street, cant walk straight for all the people",
        "10 bars i signal här ute, äntligen",
    ):
        assert not scanner.scan(text).matched_any, text


def test_fifth_pass_substance_money_errands_and_goods_fire(scanner):
    for text, rule in {
        "dom vill att jag håller i deras pengar igen, sa ja": "handling_group_money",
        "de bad mig räkna deras pengar en sista gång": "handling_group_money",
        "they want me looking after their money again": "handling_group_money",
        "said yes to minding their money one last time": "handling_group_money",
        "dom vill att jag tar hand om deras pengar igen": "handling_group_money",
        "keeping six for them again tonight": "lookout_for_group",
        "sköter luren igen, förlåt": "phone_orders_again",
        "står vakt åt de äldre killarna igen": "lookout_for_group",
        "doing lookout for them again tonight": "lookout_for_group",
        "fick tillbaka min gamla lur, tar beställningar igen": "phone_orders_again",
        "got the burner back, taking orders again": "phone_orders_again",
        "han gav mig ett paket att leverera imorgon": "handed_bag_to_keep",
        "he came round with a bag to keep for them, i said yeah": "handed_bag_to_keep",
        "dom pressade mig att ta emot paket åt dom": "packages_in_my_name",
        "they pushed me to take packages for them in my name": "packages_in_my_name",
        "började sälja stulna telefoner igen": "fencing_again",
        "selling stolen goods again, need money for rent": "fencing_again",
        "tog emot ett parti mobiler åt en gammal bekant": "received_goods_for_contact",
        "took in a batch of phones for an old mate, a last favour he said": "received_goods_for_contact",
        "gamla gänget behövde en chaufför, jag sa ja": "driver_for_group",
        "the old crew needed a driver for one trip and i agreed": "driver_for_group",
    }.items():
        assert ("relapse", rule) in reasons(scanner, text), text


def test_fifth_pass_substance_use_and_drinking_fire(scanner):
    for text, rule in {
        "tog något på festen, inte ens vet vad det var": "took_unknown_thing",
        "took something a mate had, dont know what it was": "took_unknown_thing",
        "tog en stesolid jag inte har recept på": "medicine_not_mine",
        "took a couple of oxy, i dont have a prescription for them": "medicine_not_mine",
        "är fett full nu ärligt talat": "not_sober_now",
        "im so drunk right now": "not_sober_now",
        "sitter på puben, femte ölen": "drinks_counted",
        "at the pub, on my seventh pint": "drinks_counted",
        "öl till frukost idag": "alcohol_for_breakfast",
        "had wine for breakfast again": "alcohol_for_breakfast",
        "sitter och dricker ensam i parken": "drinking_alone_somewhere",
        "sitting in the car drinking, a bottle of vodka": "drinking_alone_somewhere",
        "köpte lite sömntabletter av min gamla langare": "got_from_dealer",
        "bought some xans from my old dealer": "got_from_dealer",
        "rökte en jolle igår, hoppas det går ur innan pissprovet": "used_before_test",
        "smoked weed last night, my drug test is on friday": "used_before_test",
        "två öl igår kväll, räknas väl inte som återfall": "small_use_relapse",
        "a line at the party last night, not a relapse right": "small_use_relapse",
        "rökte med de äldre killarna igår": "smoked_with_old_group",
        "smoked with my old boys last night": "smoked_with_old_group",
        "asfull ikväll, första gången sen midsommar": "drunk_first_time_since",
        "got hammered tonight, first time since easter": "drunk_first_time_since",
    }.items():
        assert ("relapse", rule) in reasons(scanner, text), text


def test_fifth_pass_substance_twins_stay_quiet(scanner):
    for text in (
        "jag ska sköta kassan på skolans loppis, sa ja till det",
        "min chef bad mig sköta kassan idag och jag sa ja",
        "they asked me to handle the money for the class trip and i said yes",
        "tog något att äta, vet inte vad jag vill ha till middag",
        "took something for my headache, dont know what it was",
        "jag har inget recept på pannkakor, tog ett från nätet",
        "min kompis är inte nykter nu, får köra honom hem",
        "im pissed off now, the bus was late again",
        "hon är på tredje ölen redan",
        "third glass of water today, trying to hydrate",
        "kaffe till frukost som vanligt",
        "sitter och dricker kaffe i bilen",
        "sitting in the car drinking my coffee before work",
        "got a message from my old dealer, ignored it",
        "lämnar urinprov på måndag, har inte rökt något",
        "did my drug test today, smoked nothing, all clean",
        "smoke with the old boys from football yesterday",
        "back on the lookout for a new job",
        "kan du hålla koll åt dom på barnen ikväll",
        "tar beställningar igen på restaurangen",
        "started taking orders again at the cafe",
        "mamma gav mig en påse att lämna till mormor",
        "someone ordered packages in my name again, fraud, called the bank",
        "någon stal min cykel och sålde den, stöldgods",
        "received a lot of mobile phones at work for repair",
        "gänget behöver en chaufför till bröllopet, sa ja",
        "the lads need a driver for the stag do, said yes",
        "sålde min gamla mobil igen, inte stöldgods alltså",
        "will sell my bike again, its not stolen goods",
        "bussen var full som fan, första gången sen april jag åkte den",
        "tar beställningar på telefon åt mammas bageri igen",
        "tog nåt som grannen hade till festen, en paj",
    ):
        assert not scanner.scan(text).matched_any, text


def test_fifth_pass_sober_streaks_past_use_and_ordinary_doses_stay_quiet(scanner):
    for text in (
        "ett helt år utan kokain idag, firar med tårta",
        "90 days without weed today, proud of myself",
        "jag var beroende av heroin i tio år, nu jobbar jag som handledare",
        "i was addicted to coke in my twenties, long story",
        "var på NA-möte, inte för att jag rökt, bara för gemenskapen",
        "went to a meeting, not that i drank, just needed the company",
        "har två kartor alvedon hemma men tar bara en när jag har feber",
        "got a whole pack of ibuprofen but i only take one when my back hurts",
        "lägger mig nu, fick melatonin av läkaren",
        "ska lägga in lite grejer att göra på sommarlovet",
        "my last job before the holidays was a delivery, boss was happy",
    ):
        assert not scanner.scan(text).matched_any, text
    for text, category in (
        ("200 dagar utan braj och igår rökte jag igen", "relapse"),
        ("lägger mig nu efter 6 öl och 10 sobril", "overdose"),
        ("tar bara en när knät värker men idag tog jag 20 ipren", "overdose"),
    ):
        assert any(found == category for found, _ in reasons(scanner, text)), text


# --- fifth pass: false alarms ---


def test_petty_causes_and_things_cancel_a_joking_threat_but_not_a_real_one(scanner):
    for text, reason in {
        "they said they'd kill me if I don't pay": ("threat", "reported_threat"),
        "dom sa att dom skulle döda mig om jag inte betalar": ("threat", "reported_threat"),
        "han sade att han skulle döda mig om jag pratar med polisen": ("threat", "reported_threat"),
        "jag tror dom ska döda mig": ("threat", "harm_intended_for_me"),
        "I think they will kill me": ("threat", "harm_intended_for_me"),
        "i swear they want to kill me": ("threat", "harm_intended_for_me"),
        "bossen kommer döda mig, jag tappade hans grejer": ("threat", "harm_intended_for_me"),
        "jag ska ta livet av mig ikväll": ("self_harm", "end_my_life"),
        "I'm going to kill myself tonight": ("self_harm", "end_my_life"),
    }.items():
        assert reason in reasons(scanner, text), text
    for text in (
        "I'm going to murder my cousin, he took my charger again",
        "jag ska döda min brorsa, han åt upp mina rester igen",
        "ja ska mörda syrran hon snodde mina lurar",
        "pappa sa att han skulle döda mig om jag tog sista kaffet igen haha",
        "my mum says she'll strangle me if I miss sunday dinner again",
        "brorsan säger att han ska strypa mig om jag missar finalen",
        "min dotter sade att hon skulle döda mig om jag kom sent till dopet",
        "mum will kill me if i don't clean my room",
        "dad is gonna kill me when he sees my grades",
        "my girlfriend is going to murder me, I forgot the milk",
        "min tjej kommer döda mig, glömde köpa mjölk",
        "I'll kill my printer if it jams one more time",
        "gonna smash my phone and kill this app",
        "jag ska ta livet av datorn snart, den hänger sig hela tiden",
        "my boss is gonna kill me, I'm late again",
        "chefen kommer döda mig om jag kommer sent igen",
        "my trainer wants to kill me, leg day again",
        "min pt vill döda mig, benpass igen",
        "customer service is killing me today",
        "kundtjänsten tar livet av mig idag",
        "han hotade med att berätta för mamma",
        "she stabbed me in the back, fake friend",
        "hon knivhögg mig i ryggen, falsk vän",
    ):
        assert not scanner.scan(text).matched_any, text


def test_past_recovered_and_counted_clean_time_is_no_crisis(scanner):
    for text, reason in {
        "I cut myself last night again": ("self_harm", "self_injury"),
        "jag skar mig igen igår natt": ("self_harm", "self_injury"),
        "tog tjack igen igår": ("relapse", "drug_use"),
        "used tjack again last night": ("relapse", "drug_use"),
        "har druckit igen, kunde inte låta bli": ("relapse", "drinking_again"),
        "I've been drinking again, couldn't stop": ("relapse", "drinking_again"),
        "jag har varit nykter i två år men igår drack jag igen": ("relapse", "drinking_again"),
    }.items():
        assert reason in reasons(scanner, text), text
    for text in (
        "i used to cut myself years ago, not anymore",
        "I aint hurt myself in ages",
        "jag brukade skada mig själv när jag var yngre",
        "hade självmordstankar förra vintern men nu mår jag bra",
        "it has been ten years since I tried to kill myself, life is good now",
        "I was addicted to heroin back in the 90s",
        "jag var beroende av subutex i tio år, nu är jag fri",
        "jag sålde knark en gång i tiden men det var länge sen",
        "got beaten up in the 90s, still remember it",
        "blev misshandlad på 80-talet, tänker ibland på det",
        "got stabbed outside a pub like 6 yrs ago, all healed",
        "been sober for 3 years today, proud of myself",
        "två år utan tjack idag, firar med tårta",
        "6 months without coke today bro",
        "300 dar utan piller idag",
        "not that I've been drinking, but I went to an AA meeting yesterday",
        "var på möte igår, inte för att jag druckit nåt",
        "my friend died of an overdose last year, I miss him",
        "kompisen dog av en överdos för länge sen, tänker på honom",
    ):
        assert not scanner.scan(text).matched_any, text


def test_medicine_at_need_and_bedtime_is_no_overdose(scanner):
    for text, reason in {
        "jag tog en hel karta alvedon": ("overdose", "took_whole_pack"),
        "I took a whole pack of paracetamol": ("overdose", "took_whole_pack"),
        "drack en massa vin och tog 20 stesolid": ("overdose", "medicine_with_alcohol"),
        "drank a bottle of vodka and took 20 xanax": ("overdose", "medicine_with_alcohol"),
    }.items():
        assert reason in reasons(scanner, text), text
    for text in (
        "har en hel burk alvedon hemma men tar bara en när huvudet värker",
        "I have a whole pack of paracetamol but I only take one when my back hurts",
        "ska ta en melatonin innan jag lägger mig",
        "the council never answers, useless, the whole pack of them",
        "ate a whole pack of biscuits watching the match",
    ):
        assert not scanner.scan(text).matched_any, text


def test_ordinary_goodbyes_helpers_and_finders_are_no_crisis(scanner):
    for text, reason in {
        "sista sms. förlåt för allt.": ("self_harm", "final_goodbye"),
        "this is my last text, goodbye forever": ("self_harm", "final_goodbye"),
        "jag orkar inte mer, vill bara dö": ("self_harm", "wish_to_die"),
        "I can't take it anymore, I want to die": ("self_harm", "wish_to_die"),
        "giving away my stuff, won't need it where I'm going": ("self_harm", "giving_things_away"),
        "someone followed me home from the station, the guys from the old gang": ("located", "tailed_by"),
        "nån följde efter mig hem från stationen, killarna från gänget": ("located", "tailed_by"),
        "blev igenkänd av en från gänget på torget": ("located", "listed_phrase"),
        "they found me, they're outside my flat": ("located", "they_are_outside"),
        "dom kommer hem till mig ikväll, vet inte vad dom vill": ("located", "coming_for_me"),
        "han knivhögg mig i ryggen utanför klubben": ("weapons", "attacked_us"),
        "he stabbed me in the back outside the club": ("weapons", "attacked_us"),
        "han högg mig, blöder massor": ("weapons", "bleeding_badly"),
    }.items():
        assert reason in reasons(scanner, text), text
    for text in (
        "sista sms för ikväll, sov gott",
        "det här är mitt sista sms innan jag somnar",
        "my last text for today, phone is dying, talk tomorrow",
        "jag orkar inte mer med skolan, behöver semester",
        "I can't take it anymore with this homework lol",
        "giving away my old clothes to charity",
        "someone followed me home. a cat lol",
        "nån följde efter mig, en räv haha",
        "I got recognised by an old classmate at the mall, we had coffee",
        "blev igenkänd av en gammal skolkamrat på ica, vi tog en fika",
        "they found me a job at the warehouse!",
        "dom hittade mig ett jobb på lagret",
        "dom kommer hem till mig ikväll och spelar kort",
        "my parents know where I live, they're coming for dinner",
        "jag skar mig när jag lagade mat, blödde massor",
        "boss gave me my last job before vacation, a delivery to malmö",
        "har du tips på roliga grejer att göra med ungarna i helgen?",
    ):
        assert not scanner.scan(text).matched_any, text


def test_post_to_an_address_and_a_holiday_getaway_are_no_crisis(scanner):
    for text, reason in {
        "they know my address, they sent a photo of my door": ("located", "photo_of_my_home"),
        "dom har min adress, dom skickade en bild på min dörr": ("located", "photo_of_my_home"),
        "I just want to disappear forever": ("self_harm", "wish_to_die"),
        "jag vill bara försvinna för alltid": ("self_harm", "wish_to_die"),
    }.items():
        assert reason in reasons(scanner, text), text
    for text in (
        "they know my address, they're sending the new bank card",
        "dom har min adress, banken skickar nytt kort",
        "I just want to disappear for a week on holiday lol",
        "vill bara försvinna till stugan en vecka",
    ):
        assert not scanner.scan(text).matched_any, text


def test_everyone_at_school_knowing_an_address_and_done_for_today_are_no_crisis(scanner):
    for text, reason in {
        "they know where I live now": ("located", "knows_where_i_am"),
        "dom vet var jag bor, alla i gänget vet": ("located", "knows_where_i_am"),
        "I can't do this anymore, today is the day": ("self_harm", "listed_phrase"),
        "orkar inte mer, idag gör jag det": ("self_harm", "listed_phrase"),
    }.items():
        assert reason in reasons(scanner, text), text
    for text in (
        "alla i klassen vet var jag bor",
        "everyone at school knows where I live",
        "jag orkar inte mer med skolan för idag",
        "can't take it anymore for today, off to bed",
    ):
        assert not scanner.scan(text).matched_any, text


# --- fifth pass: self_harm ---
@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("vill bara somna å aldrig vakna igen", "wish_not_to_wake"),
        ("jag hoppas att jag aldrig vaknar imorgon", "wish_not_to_wake"),
        ("just hoping i dont wake up tonight fr", "wish_not_to_wake"),
        ("haha typ hoppas bara jag aldrig vaknar", "wish_not_to_wake"),
        ("honestly i wouldnt mind if i didnt wake up tomorrow", "wish_not_to_wake"),
        ("det skulle inte göra nåt om jag aldrig vaknade igen", "wish_not_to_wake"),
        ("kommer inte på torsdag. eller nån mer dag heller. förlåt", "not_coming_nor_after"),
        ("not coming tmrw. or to anything else after that", "not_coming_nor_after"),
        ("har gett bort klockan och min kedja till brorsan. behöver dom inte där jag ska", "gave_belongings_farewell"),
        ("gave my chain and my watch to my lil bro today, wont need them where im going", "gave_belongings_farewell"),
        ("gav bort alla mina kläder till syrran idag haha hon behöver dom mer än jag", "gave_belongings_farewell"),
        ("om nåt händer mig ska katten till mamma och lillebror får min play", "bequest_if_i_die"),
        ("if anything happens to me my sister gets my watch and my ps5", "bequest_if_i_die"),
        ("ge min play till lillebror. han får allt mitt", "give_all_mine"),
        ("give my ps5 to my little brother ok, all my stuff", "give_all_mine"),
        ("sitter på taket. högt nog tänker jag", "lingering_up_high"),
        ("on the bridge for like an hour now. one step and its done", "lingering_up_high"),
        ("har ett järn här. den är för mig själv", "weapon_for_myself"),
        ("got a gun now. its not for anyone else. its for me", "weapon_for_myself"),
        # A bullet or a shot saved is a weapon here.
        ("jag sparar ett skott till mig själv", "weapon_for_myself"),
        ("keeping the last bullet for myself", "weapon_for_myself"),
        ("har googlat hur man gör det utan att det gör ont", "planned_how"),
        ("been planning how to do it, picked a date", "planned_how"),
        ("mitt sista sms. tack för allt du gjort", "last_message"),
        ("this my last msg. delete my number", "last_message"),
        ("det vore bättre för alla om jag inte fanns", "better_if_i_didnt_exist"),
        ("it'd be better for everyone if i wasn't around", "better_if_i_didnt_exist"),
        ("vill bara ragequitta livet", "log_out_of_life"),
        ("wanna log out of life", "log_out_of_life"),
        ("loggar ut för gott ikväll. från allt", "log_out_for_good"),
        ("ja gör slut på det inatt", "end_it_soon"),
        ("thinking about ending it every day now", "end_it_soon"),
        ("har rakbladet i handen och kollar på handleden", "blade_at_wrist"),
        ("sitting here with the blade again and it's bleeding", "blade_at_wrist"),
        ("jag har skrivit ett brev till mamma, det ligger i kökslådan", "letter_left_for_family"),
        ("I wrote a letter to my son and left it in the glovebox", "letter_left_for_family"),
        ("sitter i bilen i garaget med porten stängd", "car_in_shut_garage"),
        ("sitting in the car in the garage with the door closed", "car_in_shut_garage"),
        ("tar ut båten ikväll och ror inte tillbaka", "no_way_back_water"),
        ("gonna drive to the lake and not brake", "no_way_back_water"),
        ("tack för allt. du kommer inte höra av mig mer", "no_contact_farewell"),
        ("thank you for everything. you won't hear from me again", "no_contact_farewell"),
        ("om jag inte svarar imorgon så vet du varför", "if_no_answer_you_know"),
        ("if i dont answer tomorrow you know why", "if_no_answer_you_know"),
        ("ringde mamma och sa förlåt. nu är det gjort", "said_goodbye_to_family"),
        ("said goodbye to my mum today. it's better this way", "said_goodbye_to_family"),
        ("säg till min fru förlåt", "tell_family_sorry"),
        ("please tell my mother that I'm sorry", "tell_family_sorry"),
        ("säg till min son att jag älskade honom", "tell_family_sorry"),
    ],
)
def test_self_harm_ideas_of_round_five(scanner, text, rule):
    assert ("self_harm", rule) in reasons(scanner, text), text


@pytest.mark.parametrize(
    "text",
    [
        "hoppas bebisen sover hela natten och inte vaknar före sex",
        "vore skönt att sova länge och inte vakna förrän lunch",
        "kommer inte på mötet imorgon, eller nåt mer den här veckan, är sjuk",
        "not coming to the meeting thursday or anything else this week, got covid",
        "gav min gamla klocka till brorsan idag, han fyller år",
        "gave my old ps4 to my little brother when I got the new one",
        "gav min klocka till urmakaren idag, tack för allt",
        "i gave my watch to my brother to fix, thanks for everything man",
        "if something happens to my phone my brother gets my old one",
        "om nåt händer så ge min nyckel till grannen",
        "give my ps5 controller back to my brother, all my stuff is at his place",
        "sitter på taket och grillar, lugnt här uppe",
        "on the roof fixing the antenna, windy up here",
        "the nerf gun is for me not for them",
        "googlade hela natten hur man gör det i excel",
        "I've been planning how to do it, picked a date for the party",
        "sista meddelandet för idag, ses imorgon",
        "om jag inte fanns med i gruppchatten hade jag sluppit spammet",
        "logga ut ur livet lite i helgen och bara chilla",
        "logga ut för gott från facebook ikväll",
        "gonna cash out for good tonight, done with the casino",
        "ska göra slut med henne ikväll",
        "vi gör slut på det här bråket ikväll",
        "thinking about ending it with my girlfriend tonight",
        "har kniven i handen och skär lök",
        "skrev ett brev till mamma, det ligger i brevlådan, hon fyller år",
        "jag har skrivit en lapp till morsan, den ligger på köksbordet, handla mjölk",
        "I wrote a letter to my mother and sealed it, posting it tomorrow",
        "sitter i bilen i garaget med dörren stängd för det regnar",
        "åker till sjön och tar ut båten, kommer tillbaka på söndag",
        "om jag inte svarar imorgon så vet du varför, har tenta hela dagen",
        "if i dont answer you know why, my phone is dead",
        "sa hejdå till pappa idag, han förstod inte hur man använder swish",
        "sa adjö till min mor idag, hon åker till Thailand, det är bättre så",
        "säg till mamma förlåt att jag inte ringde tillbaka igår",
        "tell my mum sorry I'm late for dinner",
    ],
)
def test_ordinary_twins_of_the_self_harm_ideas_of_round_five(scanner, text):
    assert not scanner.scan(text).matched_any, (text, scanner.scan(text).reasons)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("har sagt upp kontraktet och lämnat nycklarna hos mamma. det känns lugnt nu", "wrapped_up_affairs"),
        ("sold everything and emptied my account. best this way", "wrapped_up_affairs"),
        ("gett bort katten till grannen idag. det är bäst så", "gave_pet_away"),
        ("gave away my dog today. wont need anything where im going", "gave_pet_away"),
        ("så trött på att vara jag. varför ens försöka", "tired_of_self_why_go_on"),
        ("sick of being me. whats the point", "tired_of_self_why_go_on"),
        ("pallar inte mer. har en plan nu", "cant_go_on_have_plan"),
        ("can't take it anymore. i got a plan", "cant_go_on_have_plan"),
        ("orkar inte kämpa mer. har bestämt mig", "tired_of_fighting_decided"),
        ("done fighting. made up my mind", "tired_of_fighting_decided"),
        ("ingen kommer sakna en sån som jag. gör det inatt", "nobody_will_miss_tonight"),
        ("no one gonna miss a loser like me. it ends tonight", "nobody_will_miss_tonight"),
    ],
)
def test_self_harm_ideas_of_round_five_wrapping_up(scanner, text, rule):
    assert ("self_harm", rule) in reasons(scanner, text), text


@pytest.mark.parametrize(
    "text",
    [
        "har sagt upp lägenheten och lämnat nycklarna till hyresvärden, flyttar till Malmö. det är bäst så",
        "ordnat allt med lägenheten inför semestern, grannen tar katten. jag är klar nu",
        "gav bort katten, sonen är allergisk. det är bäst så",
        "gav bort hunden till en familj på landet, det e bra så",
        "trött på att vara jag som alltid diskar, vad är poängen med att tjata",
        "orkar inte hålla på med skolan längre, jag har en plan: byta program",
        "i'm tired of fighting with my landlord, decided to move",
        "ingen kommer sakna den där jackan, jag slutar ikväll på jobbet",
        "nobody will miss that meeting, im done for today",
        "ingen kommer sakna det gamla jobbet, jag är klar",
        "kommer inte på torsdag, eller nåt mer innan jul, har tentor",
        "har ett järn i bilen, den är för mig själv, om jag får punka",
        "köpte en kula glass till mig själv efter jobbet",
        "started a bullet journal just for myself",
        "got a bullet train ticket for myself to osaka",
        "hoppas bara att jag inte vaknar för sent imorgon, viktig intervju",
        "lol hoping i dont wake up with a hangover tomorrow",
        "gör inget om jag inte vaknar till frukost, sov ut",
        "i wouldnt mind if i didnt wake up until noon",
        "har skrivit ett brev till pappa och lagt i kuvert, det är ett födelsedagskort",
        "om jag inte svarar ikväll så vet du varför, jag är på fotbollen",
        "har kniven i handen och kollar på handleden, fick ett sår när jag täljde",
        "tog ut båten ikväll, ror inte tillbaka förrän solen går ner",
    ],
)
def test_ordinary_twins_of_the_wrapping_up_ideas_of_round_five(scanner, text):
    assert not scanner.scan(text).matched_any, (text, scanner.scan(text).reasons)


# --- fifth pass: located and violence ---


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        # armed, and going to where he is
        ("har kniven på mig, ska leta upp honom ikväll", "armed_going_for_him"),
        ("got my strap, heading to his house now", "armed_going_for_him"),
        ("har hans adress å en kniv i fickan", "armed_going_for_him"),
        # on their way here armed, or shut in against how many of them are coming
        ("han e på väg hit med en pistol", "armed_on_their_way"),
        ("they're on their way here with a blade", "armed_on_their_way"),
        ("dom e på väg hit, dom e fyra, har låst dörren", "on_their_way_shut_in"),
        ("theyre coming for me rn, six of them, called 112", "on_their_way_shut_in"),
        ("dom samlar ihop grabbarna för att ta mig efter jobbet", "gathering_to_get_me"),
        ("theyre rounding up the boys to jump me tonight", "gathering_to_get_me"),
        # the home attacked
        ("nån slängde in en sten genom sovrumsfönstret", "thrown_through_window"),
        ("someone chucked a brick through our front window", "thrown_through_window"),
        ("dom försöker sparka in dörren, ja har ringt polisen", "door_being_kicked"),
        ("they're kicking my door rn", "door_being_kicked"),
        ("nån sprängde porten här inatt", "blast_at_home"),
        ("someone blew up the front door of my building", "blast_at_home"),
        ("det small vid garaget, tror de va menat för mig", "blast_meant_for_me"),
        ("shots outside my block, pretty sure they were aimed at me", "blast_meant_for_me"),
        # attacked just now and hurt
        ("dom slog ner mig vid busshållplatsen, blöder från munnen", "attacked_and_injured"),
        ("two of them jumped me by the shop, nose is broken", "attacked_and_injured"),
        ("nån stack mig i sidan vid tunnelbanan", "stabbed_in_body"),
        ("some guy stabbed me in the leg outside the chippy", "stabbed_in_body"),
        ("han körde rakt mot mig, vände och kom tillbaka", "car_came_back_at_me"),
        ("he drove at me, then turned around and came back", "car_came_back_at_me"),
        # going there to pay him back for what he did to mine
        ("ska åka dit ikväll, han som skadade min syster", "revenge_trip"),
        ("going over there tonight, he's gonna pay for what he did", "revenge_trip"),
    ],
)
def test_violence_ideas_of_the_fifth_pass(scanner, text, rule):
    assert ("weapons", rule) in reasons(scanner, text), text


@pytest.mark.parametrize(
    "text",
    [
        "ska hem till honom ikväll med kniven han glömde här, ska lämna tillbaka den",
        "got a knife in my bag for the picnic, heading to his house for lunch",
        "hans adress och en kniv till kalaset, det är allt jag behöver",
        "guests are on their way, five of them, locked the door so the dog stays in",
        "föräldrarna e på väg hit, dom e fyra, har låst dörren för katten",
        "dom samlar folk till fotbollen på lördag",
        "barnen kastade en boll genom fönstret, nu får vi laga det",
        "kastade en sten genom fönstret på gamla skolan när vi var små",
        "there was an explosion of flavours at that restaurant by the entrance",
        "sprängde en ballong i trapphuset, ungarna skrek",
        "the flowers were meant for me, so sweet",
        "he beat me at tennis and I'm bleeding from a blister",
        "getingen stack mig i armen, svullen nu",
        "sköterskan stack mig i armen två gånger innan hon hittade en ven",
        "a car drove at me in the car park and came back again to park",
        "jag ska åka dit och prata med killen som skadade min bil",
        "ska hitta honom en ny kniv till jobbet, han e kock",
        "My mum says she will strangle me if I miss Sunday dinner again",
        "kollegan sa att han skulle skjuta mig om jag tog sista kaffet",
        "got stabbed working the door like 10 yrs ago, scar itches in the cold",
        "nearly jumped out of my skin when the doorbell went",
    ],
)
def test_violence_ideas_of_the_fifth_pass_leave_ordinary_chat_alone(scanner, text):
    assert not scanner.scan(text).matched_any, (text, reasons(scanner, text))


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        # a message naming the children's or siblings' school, or my address and nothing else
        ("dom skrev namnet på sonens förskola i ett sms, hur vet dom", "msg_names_kids_school"),
        ("got a dm saying which school my daughter goes to", "msg_names_kids_school"),
        ("fick en bild på skolan där min lillebror går, inga ord", "bare_msg_with_my_place"),
        ("got a text from an unknown number with my new address and nothing else", "bare_msg_with_my_place"),
        # recognised, then filmed or followed
        ("en av dom kände igen mig på bussen och filmade mig", "recognised_and_filmed"),
        ("one of the old crew recognised me at the petrol station and took pics", "recognised_and_filmed"),
        # someone at the door with no business there, a knock not opened
        ("nån står vid min dörr, han bor inte här", "stranger_at_my_door"),
        ("some guy waiting outside my door, he's not a neighbour", "stranger_at_my_door"),
        ("nån bankar på dörren, vågar inte öppna", "knocking_not_opening"),
        ("someone banging. not opening", "knocking_not_opening"),
        ("dom vet vilken tid jag slutar jobbet, skickade en bild på mig", "knows_my_routine"),
        ("they know when i go to the gym, got a pic of me there from an unknown number", "knows_my_routine"),
        ("det står två killar nere på gården, ser dom från fönstret", "watched_from_window"),
        ("a guy is standing outside my building, i can see him from the window", "watched_from_window"),
    ],
)
def test_located_ideas_of_the_fifth_pass(scanner, text, rule):
    assert ("located", rule) in reasons(scanner, text), text


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        # words added to the concepts of existing rules
        ("hans storebror knackade på hos mig nyss", "knocking_them"),
        ("samma moppe har åkt förbi huset fem ggr ikväll", "keeps_driving_past"),
        ("hörde nån i trapphuset som sa mitt gamla smeknamn", "talking_about_me_outside"),
        ("heard someone in the stairwell callin my name", "talking_about_me_outside"),
        ("a black audi outside my building for like an hour now", "lingering_outside"),
        ("vart jag än går dyker samma kille upp", "same_one_again"),
        ("ppl in my stairwell asking neighbours bout me", "asked_family_about_me"),
    ],
)
def test_located_words_added_in_the_fifth_pass(scanner, text, rule):
    assert ("located", rule) in reasons(scanner, text), text


def test_followed_right_now_is_listed(scanner):
    assert ("located", "listed_phrase") in reasons(scanner, "blir följd nu. vad gör ja")
    assert ("located", "listed_phrase") in reasons(scanner, "im being followed rn")


@pytest.mark.parametrize(
    "text",
    [
        "fick ett sms från kommunen om vilken förskola min dotter får plats på",
        "dom skrev vilken skola min son ska börja på i augusti, skönt",
        "my ex sent me the name of my son's school for the forms",
        "fick ett sms med min nya adress från hyresvärden, inget mer",
        "kände igen en gammal kompis på tunnelbanan och tog kort på oss",
        "min gamla fröken kände igen mig på stan och tog kort på oss",
        "han har inget där att göra, han jobbar inte där längre",
        "grannen knackade, öppnade inte för jag sov",
        "nån knackar, öppnar inte, sitter i möte",
        "the coach knows when i train",
        "my boss knows when i finish work and sent me the new rota",
        "he's down at the entrance, I can see him from the window, going down now",
        "Jag blev igenkänd av en gammal skolkamrat på stan i dag",
        "nån följde efter mig hem. en katt lol",
    ],
)
def test_located_ideas_of_the_fifth_pass_leave_ordinary_chat_alone(scanner, text):
    assert not scanner.scan(text).matched_any, (text, reasons(scanner, text))


def test_later_ideas_of_the_fifth_pass_and_their_ordinary_twins(scanner):
    for text, (category, rule) in {
        "en av dom gamla kom in på gymmet och glodde på mig en lång stund. nu vet dom": (
            "located",
            "seen_and_now_they_know",
        ),
        "one of the old crew clocked me at the gym today. now they know": ("located", "seen_and_now_they_know"),
        "en främmande man har stått vid barnbarnets skola hela veckan": ("located", "stranger_at_kids_school"),
        "got glassed outside the club, cant see out of one eye": ("weapons", "jumped_outside_venue"),
        "blev nedslagen utanför krogen igår natt": ("weapons", "jumped_outside_venue"),
        "nån slog mig bakifrån i tvättstugan, blöder från huvet": ("weapons", "attacked_and_injured"),
        "dom e på väg hit med pangar": ("weapons", "armed_on_their_way"),
        "dom skjuter mot huset just nu, vi ligger på golvet": ("weapons", "shot_at_property"),
        "they're shooting at our house rn": ("weapons", "shot_at_property"),
        "sitter med kniven och väntar på honom": ("weapons", "weapon_at_hand"),
        "got the strap, waiting for him outside": ("weapons", "weapon_at_hand"),
        "min nya adress ligger ute i en grupp på snap": ("located", "my_details_posted"),
        "yo they pulled up to my ends asking for me": ("located", "showed_up_at"),
        "fick ett brev utan avsändare, bara min nya adress": ("located", "bare_msg_with_my_place"),
        "this guy been outside my block all day staring at my window": ("located", "waiting_outside"),
        "they put a rock through the living room window": ("weapons", "thrown_through_window"),
        "dom vet vilken väg jag tar hem, fick en bild på mig vid busshållplatsen": ("located", "knows_my_routine"),
    }.items():
        assert (category, rule) in reasons(scanner, text), text
    for text in (
        "min gamla lärare såg mig på stan, nu vet hon att jag flyttat hem",
        "we got beat 4-1, drinks outside the pub after",
        "they know when i go to work so they walk the dog for me",
        "the kids put a brick through the greenhouse glass playing football",
        "the kids are shooting at my house with water pistols",
        "the photographer is shooting at my house tomorrow for the sale",
        "väntar på honom med kniven och gaffeln, maten är klar",
        "on their way here with the blades for the lawnmower",
        "min dotter stack mig i armen med en penna, blöder lite",
        "they wrote which school my son goes to in the newsletter",
        "they rolled up to my block with pizza for my birthday",
        "got a letter from the council with my new address, nothing else needed",
        "bee stung me, then the nurse stuck me in the arm with an epipen",
        "going to his place with the bat, we play baseball on saturdays",
    ):
        assert not scanner.scan(text).matched_any, (text, reasons(scanner, text))


# --- fifth pass: threat ---


def test_fifth_pass_threats_to_the_writer_and_family_fire(scanner):
    # Ideas from the threat misses of fresh5_a and fresh6_a, in invented sentences: harm
    # promised to a family member, children growing up without their father, the family
    # answering for a debt or for talk, warnings to watch oneself, deadlines, debts that
    # stay after leaving, laughing or anonymous messages, a price on the writer.
    for text, rule in {
        "dom sa att om jag inte betalar så gör dom nåt mot min syster": "do_to_family",
        "they said they'll do something to my mum if i don't pay up": "do_to_family",
        "he says they gonna do my little bro if i talk to the cops": "do_to_family",
        "han skrev att mina döttrar ska växa upp utan pappa om jag vittnar": "grow_up_without_me",
        "they told me my kids will grow up without a father if i keep quiet about nothing": "grow_up_without_me",
        "dom sa att min fru snart blir änka om jag pratar med snuten": "widow_threat",
        "om du vill se dina barn växa upp håller du käften": "see_them_grow_up",
        "if you wanna see your kids grow up you keep your mouth shut": "see_them_grow_up",
        "dom sa till mamma att om hon vill att jag ska leva så får hon betala": "if_want_them_alive",
        "they texted my dad: if you want him alive, pay": "if_want_them_alive",
        "folk säger att dom vill ha mig borta, på riktigt": "group_wants_me_gone",
        "heard they want me gone for good now": "group_wants_me_gone",
        "nån ringde och sa att jag ska få ångra att jag hoppade av": "regret_leaving_group",
        "they promised i'd regret leaving the crew": "regret_leaving_group",
        "dom hälsade att skulden inte försvinner bara för att jag drog": "debt_stays_after_leaving",
        "they sent word that the debt doesn't go away just because i left": "debt_stays_after_leaving",
        "han sa att jag är skyldig dom pengar och att dom vet hur man får folk att betala": "know_how_to_make_pay",
        "he said i owe them and they know how to make people pay": "know_how_to_make_pay",
        "dom sa att jag ska tänka på min son innan jag vittnar": "think_of_family_testify",
        "they said i should think about my son before i go to the police": "think_of_family_testify",
        "dom sa att hon ska välja sida annars blir hon skadad": "choose_side_or_else",
        "they told her to pick a side before it's too late": "choose_side_or_else",
        "dom ringde min tjej och sa att hon ska dra innan något händer": "family_told_before_harm",
        "someone messaged my wife telling her to leave before something bad happens": "family_told_before_harm",
        "fick ett röstmeddelande, bara skratt, sen snart": "laughing_message",
        "got a voice note from an unknown number just laughing": "laughing_message",
        "vi har inte glömt vad du sa i rätten, skrev dom": "not_forgotten_court",
        "we haven't forgotten what you told the police": "not_forgotten_court",
        "okänt nummer skrev att jag är död": "dead_me_anonymous",
        "unknown number texting me ur a dead snitch": "dead_label_posted",
        "dom la ut min bild med golare och en massa kistor på insta": "snitch_coffin",
        "they posted my pic with snitch and coffin emojis all over it": "snitch_coffin",
        "dom sa att familjen får svara för det om jag inte betalar": "family_answers_for_it",
        "they said my family will answer for it if i don't pay": "family_answers_for_it",
        "han sa att min dotter får betala för det om jag snackar med snuten": "family_pays_for_my_talk",
        "he said my kids would pay for my big mouth": "family_pays_for_my_talk",
        "dom hotar min syster, säger att hon är nästa": "she_is_next",
        "they threatened my girl, said she's next": "she_is_next",
        "antingen fixar du pengarna eller så är din bror nästa": "family_next_either_or",
        "dom sa att min kusin borde akta sig, pga mig": "family_told_watch_self",
        "they told my sister she better watch herself because of me": "family_told_watch_self",
        "dom sa att det blir blod om jag inte betalar skulden": "blood_over_debt",
        "they said there will be blood if i don't pay what i owe": "blood_over_debt",
        "dom ska skära lillebror om jag inte tar tillbaka vittnesmålet": "cut_family_or_else",
        "they said they would cut my brother if i testify": "cut_family_or_else",
        "två veckor att betala tillbaka, sen smäller det sa han": "deadline_or_else",
        "three days to pay the rest, then it gets ugly. that was the whole text": "deadline_or_else",
        "hörde att det finns en prislapp på mig nu": "bounty_on_me",
        "they say there's a price tag on my head now, 50k": "bounty_on_me",
    }.items():
        assert ("threat", rule) in reasons(scanner, text), text


def test_fifth_pass_threat_words_in_ordinary_chat_do_not_alert(scanner):
    for text in (
        "jag ska göra nåt kul med lillebror i helgen",
        "we should do something nice for my mum on her birthday",
        "gonna do my sister's hair for prom tomorrow",
        "mina barn ska inte växa upp utan pappa som jag gjorde",
        "min faster blev änka förra året, tungt för henne",
        "if you want to see them grow up, spend more time with them",
        "doktorn sa om du vill leva länge ska du sluta röka",
        "dom på jobbet vill ha mig borta från projektet",
        "du kommer ångra att du hoppade av gymnasiet",
        "CSN-skulden försvinner inte bara för att jag slutat plugga",
        "the bank said the debt doesn't go away if i stop paying",
        "tänk på dina barn innan du skriver på avtalet",
        "think about your kids before you buy that car",
        "dom sa att jag måste välja sida i bråket mellan mamma och pappa",
        "min tjej sa att vi borde boka hotellet innan det är för sent",
        "fick ett röstmeddelande från brorsan, bara skratt, han såg matchen",
        "voice note from my sister just laughing at my haircut",
        "we haven't forgotten your birthday, see you at the party",
        "vi har inte glömt vad du gjorde för oss, tack",
        "my mum will pay for it, she always does",
        "min dotter får betala för det själv, hon har ett jobb",
        "my daughter would pay for my coffee if i asked",
        "mamma får svara för det på mötet",
        "hon är nästa i kön på frissan",
        "antingen kör vi pizza eller så blir det tacos, brorsan väljer nästa gång",
        "either my brother drives next or i do",
        "pappa ska skära tårtan till min syster om hon inte hinner",
        "okänt nummer: du har till fredag att hämta ditt paket",
        "pappa sa att lillebror ska akta sig för hunden",
        "my girl said she should watch herself around that dog",
        "he told my brother to watch himself on the ice",
        "om jag vill se henne växa upp måste jag sluta röka",
        "prislappen på mössan jag har på huvet var 300",
        "mamma sa hon kan betala min skuld till CSN",
        "mormor sa att barnbarnen hälsar",
        "they said my brother will pay if i don't have the money for the tickets",
        "han skrev att jag är död efter passet haha",
        "jag är död efter träningen idag",
        "i'm dead 😂 that video",
    ):
        assert not scanner.scan(text).matched_any, text


def test_fifth_pass_threat_second_ideas_and_their_twins(scanner):
    # Taking a child if the writer testifies, talkers who do not live long, a lost parcel
    # owed, "he did not sound like he was joking" (no joke word), the snitch already dead,
    # done for with the family, an anonymous deadline, "or your mum pays", a price on me.
    for text, rule in {
        "dom sa att de ska ta lillasyster om jag vittnar": "take_the_family",
        "they say people who talk do not live long around here": "fate_of_talkers",
        "om jag inte betalar för paketet som försvann kommer dom göra nåt mot mamma": "do_to_family",
        (
            "han sa att min son får betala för det om jag snackar med snuten. han lät inte som att han skämtade"
        ): "family_pays_for_my_talk",
        "a withheld number called, old debts never expire they said": "debt_stays_after_leaving",
        "dom skriver att golaren redan är ett lik": "snitch_already_dead",
        "they wrote that the snitch is already dead": "snitch_already_dead",
        "han sa om jag går till polisen så är jag klar och min bror med": "talk_and_done_for",
        "he said if i talk to the cops then it s over for you and your brother": "talk_and_done_for",
        "okänt nummer: du har en vecka. inget mer. jag vet vad det betyder": "deadline_ominous",
        "unknown number again: you have 48 hours. we all know what that means": "deadline_ominous",
        "swisha pengarna eller så får din mamma betala": "either_family_pays",
        "send the money or your mum pays": "either_family_pays",
        "dom ringde från dolt och sa att dom inte glömt vad du sa i rätten": "not_forgotten_court",
        "kusin sa att det finns en prislapp på mig nu": "listed_phrase",
        "apparently there's a price tag on my head": "listed_phrase",
    }.items():
        assert ("threat", rule) in reasons(scanner, text), text
    for text in (
        "jag skrattade så mycket, lol inte kul att jag missade bussen",
        "pappa har gamla skulder till banken som aldrig försvinner",
        "om jag går till polisen med passet så är jag klar sen",
        "you have one week of holiday left, you know what that means: beach",
        "antingen betalar jag middagen eller så får mamma betala, hon insisterar",
        "the price tag on my new shoes was crazy",
        "vi har inte glömt vad du sa på festen haha",
        "vår katt är redan död sedan länge, ingen fara",
        "om du går till polisen med anmälan så är du klar",
        "if i go to the police with my passport then i'm done",
    ):
        assert not scanner.scan(text).matched_any, text


def test_fifth_pass_jokes_over_trifles_and_family_speakers_are_no_threat(scanner):
    # A trifle named as the reason (the last coffee, headphones, leftovers, a spoiled
    # finale, a crashed computer) or a family member saying it ("min dotter sade att hon")
    # is a joke; the same verbs over money or the police still alert.
    for text in (
        "ska döda lillebror, han snodde mina airpods igen",
        "kollegan sa att han skulle skjuta mig om jag drack sista kaffet",
        "im going to murder my computer, it crashed again",
        "min dotter sade att hon skulle döda mig om jag glömde tårtan",
        "my sister said she would murder me if i spoiled the finale",
        "gonna kill my brother he ate my leftovers",
    ):
        assert not scanner.scan(text).matched_any, text
    for text in (
        "dom sa att dom ska döda mig om jag inte betalar",
        "he said he would kill my brother if i talk to the cops",
        "they said they would kill me over the money",
    ):
        assert any(category == "threat" for category, _ in reasons(scanner, text)), text


def test_fifth_pass_threat_rules_step_back_for_ordinary_reasons(scanner):
    # Growing up without phones, a side in a debate, stairs and ice, an invoice with late
    # fees, tickets paid by mum, a stolen bike: the same shapes as the threats above.
    for text in (
        "han sa att mina barn kommer växa upp utan mobiler om jag får bestämma",
        "välj sida i debatten, annars blir det tråkigt",
        "pick a side in the game, otherwise we can't start",
        "they told my mum to watch herself on the stairs",
        "one week to pay the invoice, then it gets ugly with late fees",
        "eller så får mamma betala biljetterna, hon har pengarna",
        "or my mum pays for the tickets, she has the money anyway",
        "han sa om jag pratar med polisen om cykeln så är det kört för mig att få tillbaka den",
        "antingen är lillebror nästa eller så är det jag",
    ):
        assert not scanner.scan(text).matched_any, text
    for text, rule in {
        "dom sa till min tjej att hon ska välja sida annars blir hon skadad": "choose_side_or_else",
        "they told my sister to pick a side or she gets hurt": "choose_side_or_else",
        "dom sa att mina barn kommer växa upp utan sin pappa om jag snackar": "grow_up_without_me",
        "swisha 20k eller så får din mamma betala": "either_family_pays",
    }.items():
        assert ("threat", rule) in reasons(scanner, text), text


def test_fifth_pass_threat_family_fates_visits_and_debts(scanner):
    # The family comes to harm, gets a visit, is never seen again or pays the debt, said
    # with a payment, the police or a debt; the same words about weather, driving, flats,
    # a landlord's visit or a holiday do not alert.
    for text, rule in {
        "dom sa att mamma kommer råka illa ut om jag inte betalar": "family_in_trouble",
        "they said my dad might have an accident if i talk to the police": "family_in_trouble",
        "they said my mum will get a visit if i don't pay": "visit_family_or_pay",
        "dom sa att dom ska hälsa på min mamma om jag inte betalar": "visit_family_or_pay",
        "han sa att jag aldrig kommer se min dotter igen om jag vittnar": "never_see_family_again",
        "the message said my family answers for my mouth": "family_pays_for_my_talk",
        "they told my brother to watch his back because of me": "family_told_watch_self",
        "han sa att mina barn inte kommer ha en pappa snart": "grow_up_without_me",
        "he said i have a week or it gets ugly": "deadline_or_else",
        "om du inte kommer tillbaka gör vi nåt med din syster": "do_to_family",
    }.items():
        assert ("threat", rule) in reasons(scanner, text), text
    for text in (
        "dom sa att mamma får det hett i Spanien",
        "dom sa att pappa kommer råka illa ut om han fortsätter köra så fort",
        "dom sa att mamma ska se sig om efter en ny lägenhet",
        "om jag inte betalar hyran får mamma besök av hyresvärden",
        "vi ska hälsa på mamma om jag inte måste jobba, hon betalar maten",
        "jag kommer aldrig se min syster igen om jag inte får pengar till resan",
        "they told my son to watch his back at football training",
        "he said i have a week or it gets ugly with the landlord",
    ):
        assert not scanner.scan(text).matched_any, text


def test_fifth_pass_threat_chat_spellings_and_bare_deadlines(scanner):
    # Chat forms of the same ideas: "me aina", "ur lil bro", a bare "1 vecka" followed by
    # "sen e de kört"; their twins are nails, cooking and a custody weekend.
    for text, rule in {
        "om du snackar me aina e din morsa klar": "talk_and_done_for",
        "they gon do ur lil bro if u dont pay": "do_to_family",
        "1 vecka sen smäller de sa han": "bare_deadline_then_bad",
        "u got 3 days or it gets ugly": "bare_deadline_then_bad",
        "tell ur girl to watch herself, that's what they wrote": "family_told_watch_self",
    }.items():
        assert ("threat", rule) in reasons(scanner, text), text
    for text in (
        "gonna do your nails if you don't mind, ur sis wants too",
        "ur mom is done with the cooking",
        "jag får aldrig se mina ungar på helgerna om jag inte betalar underhållet",
        "two days left on the sale, then it gets ugly in the shops",
    ):
        assert not scanner.scan(text).matched_any, text


def test_fifth_pass_a_parent_strangling_over_sunday_dinner_is_no_alert(scanner):
    # A parent's "I'll strangle you if you skip dinner" and a colleague over the last
    # coffee are jokes for the assault rule too; the same verb over money still alerts.
    for text in (
        "Pappa säger att han ska strypa mig om jag missar söndagsmiddagen",
        "my dad says he will strangle me if i skip sunday dinner",
        "kollegan sa han skulle skjuta mig om jag tog sista kaffet",
    ):
        assert not scanner.scan(text).matched_any, text
    assert scanner.scan("dom sa att dom ska strypa mig om jag inte betalar").matched_any
    assert scanner.scan("they said they will strangle my brother if i talk").matched_any


def test_fifth_pass_the_family_not_spared_or_made_sorry(scanner):
    for text, rule in {
        "They made it clear that my family would not be spared.": "family_not_spared",
        "De sa att ingen i familjen kommer att skonas.": "family_not_spared",
        "han sa att familjen kommer få ta konsekvenserna om jag vittnar": "family_not_spared",
        "a note at my mum's said traitors pay, and their families too": "family_not_spared",
        "He said my grandchildren would be sorry if I speak to the police.": "family_will_be_sorry",
    }.items():
        assert ("threat", rule) in reasons(scanner, text), text
    for text in (
        "my mum said my brother will be sorry he missed the party",
        "mamma sa att lillebror kommer ångra sig om han inte följer med",
        "the team will face the consequences of the coach leaving, my brother says",
        "min bror får ta konsekvenserna av sina val, sa mamma",
        "vi ska ta konsekvenserna av flytten, familjen är trött",
    ):
        assert not scanner.scan(text).matched_any, text


def test_fifth_pass_a_machine_is_no_target_of_a_threat(scanner):
    # "my" before a laptop or a router is no person threatened; a threat that only names
    # the computer on the way still alerts, and so does one after a theft.
    for text in ("im gonna kill my laptop, it froze again", "ska mörda min router snart, den dör hela tiden"):
        assert not scanner.scan(text).matched_any, text
    for text in (
        "they hacked my computer and said they will kill my family",
        "dom snodde mina grejer och sa att de ska döda mig",
    ):
        assert any(category == "threat" for category, _ in reasons(scanner, text)), text


def test_fifth_pass_threat_twins_from_reading_the_rules_again(scanner):
    # Advice before a police interview, turn-taking, a fever, a witness order, New Year's
    # fireworks and an old family saying about debts are no threat.
    for text in (
        "tänk på din framtid innan du pratar med polisen",
        "think about your future before you talk to the police",
        "either you go first or your brother goes next",
        "dom sa att han borde akta sig, han har feber",
        "hon är nästa att prata med polisen",
        "min tjej sa att vi borde gå ut innan det smäller vid tolvslaget",
        "mamma sa att gamla skulder ska betalas först",
    ):
        assert not scanner.scan(text).matched_any, text


def test_fifth_pass_threat_family_chores_custody_and_grief_are_no_threat(scanner):
    # A haircut, an aunt soon a widow, keys forgotten, a spare ticket, the bank, a custody
    # ruling, exam stress and toys: ordinary family chat with the fifth-pass words.
    for text in (
        "my mum will cut my hair if i dont go to the barber",
        "min faster blir änka snart, morbror är döende, sa mamma",
        "mamma sa att pappa får svara för det, han glömde nycklarna",
        "my sister can take it instead if i dont want the ticket",
        "my brother will pay for it, he is talking to the bank",
        "jag kommer aldrig få se min dotter igen om domstolen bestämmer så",
        "en dag kvar sen är det kört",
        "if you dont clean your room dad will burn your toys",
    ):
        assert not scanner.scan(text).matched_any, text


def test_fifth_pass_threat_deadlines_need_a_consequence_of_theirs(scanner):
    # "Their own way" after a deadline to pay is a threat; someone solving it her own way
    # by Friday is not.
    assert ("threat", "deadline_or_else") in reasons(
        scanner, "hälsning via en polare: två veckor att betala tillbaka, sen löser dom de på sitt sätt"
    )
    assert not scanner.scan("hon har till fredag, hon löser det på sitt sätt").matched_any


def test_a_commute_does_not_cancel_a_method_but_delays_and_waiting_still_do(scanner):
    # "På väg hem" says where the writer is, not that the method is an errand: it no longer
    # cancels self-harm. Waiting for the bus still does (without it the bridge alerts).
    fires = {
        "im stepping in front of the tram on my way home": "sh7f_tram_step_front",
        "ska kasta mig framför tåget på väg hem ikväll": "in_front_of_a_train",
    }
    for text, rule in fires.items():
        assert ("self_harm", rule) in reasons(scanner, text), text
    assert not scanner.scan("står på bron och väntar på bussen på väg hem").matched_any


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("pissprovet imorgon kommer vara positivt, bara sa du vet", "r13_drug_test_failed"),
        ("my test next week is gonna be dirty", "r13_drug_test_failed"),
        ("har inte varit ren sen vi sags sist", "r13_not_clean_since"),
        ("full sen fredag, idag e de söndag", "r13_drunk_for_days"),
        ("full på jobbet idag, chefen märkte nåt tror ja", "r13_drunk_at_a_duty"),
        ("kan inte gå på mötet imorgon utan att dricka först", "r13_drinks_to_function"),
        ("the shakes are back if i dont drink", "r13_drinks_to_function"),
        ("went out for one drink, woke up on a bench", "r13_blackout_drinking"),
        ("spent my whole paycheck on coke", "r13_money_spent_on_it"),
        ("stopped counting drinks around midnight", "r13_lost_count_of_drinks"),
        ("typ 12 öl igår, slutade räkna sen", "r13_drinks_counted"),
        ("finished a bottle of whisky on my own last night", "r13_finished_a_bottle"),
        ("satt på puben från lunch till stängning", "r13_at_the_bar_till_closing"),
        ("wine every night since she left, thought i could control it", "r13_drinking_every_night"),
        ("already did two runs for them this week", "r13_runs_for_them"),
        ("skulden va 40 lax, jobbar av den nu. fattar du hur", "r13_debt_worked_off"),
        ("holding something in my flat for a week, dont ask", "r13_holding_ask_not"),
        ("har en lada i forradet som ja inte far oppna", "r13_holding_dont_ask"),
        ("they asked to use my account and i said fine", "r13_account_lent"),
        ("i was the lookout on saturday", "r13_was_the_lookout"),
        ("ringde gamla numret igen bror. han kom på tio min", "r13_old_number_called"),
        ("har du tid idag? ja har börjat med oxy igen", "r13_started_on_a_drug"),
        ("keff helg om du fattar. mycket vitt", "r13_a_lot_of_a_drug"),
        ("3 grams in 2 days. cant believe im typing it", "r13_grams_counted"),
        ("rokte tre jointar innan ja gick till jobbet", "r13_joints_counted"),
        ("been on subs all weekend, sorry", "r13_medicine_for_days"),
    ],
)
def test_relapse_said_shortly_is_seen(scanner, text, rule):
    assert ("relapse", rule) in reasons(scanner, text)


def test_the_everyday_twins_of_relapse_said_shortly_stay_quiet(scanner):
    for text in (
        "covid testet kommer vara positivt tror ja, hela familjen e sjuk",
        "Can we move Tuesday to after four? Work runs late.",
        "Sista korningen innan semestern. Sen tva veckor ledigt, fan va skont.",
        "lanade ut mitt kort till syrran o nu har hon kopt typ 3 pizzor haha",
        "Fick tillbaka pa skatten. Ska betala av en skuld med det.",
        "An old number rang. I blocked it. I'm fine.",
        "i took like 20 shots on goal at practice today, coach says im ready for saturday",
        "gar pa gymmet varje dag nu, ingen alkohol bara vatten o protein",
        "csn har inte betalat ut studiebidraget an, e de normalt?",
        "brorsan har börjat med oxy igen, ja e orolig för honom",
    ):
        assert not scanner.scan(text).matched_any, text


def test_someone_elses_relapse_a_soft_drink_and_a_sober_year_are_no_relapse(scanner):
    for text in (
        "min kusin har fallit dit igen, ja kan inte hjälpa honom och de gör ont",
        "kompis fick aterfall igen, ja sa att ja finns dar om han vill prata",
        "my mate relapsed again, i feel bad for him but i'm staying away from that stuff",
        "too much energy drink while studying, heart going crazy but i'm ok",
        "it's been a year since my last drink, my mum cried lol",
    ):
        assert not scanner.scan(text).matched_any, text
    # The writer's own relapse, a friend in the room or not, still alerts; "bror" alone is
    # how one speaks to a friend, not who relapsed.
    assert scanner.scan("min kusin o ja söp hela helgen, förlåt").matched_any
    assert scanner.scan("bror de e tillbaka till gamla livet. säljer i orten varje kväll").matched_any
    assert scanner.scan("i relapsed again, my mate was there").matched_any


def test_a_relative_right_before_a_relapse_is_who_relapsed_unless_the_writer_is_in_it(scanner):
    for text in ("farsan drack igen i helgen o blev jobbig", "morsan söp hela helgen"):
        assert not scanner.scan(text).matched_any, (text, scanner.scan(text).reasons)
    # The writer named after the relative (inside the match, or in its clause), with the
    # relative ("ja o brorsan"), or left unsaid further off: the writer's own relapse. A
    # review found each of these silenced by a version that reached six words (a friend or
    # a relative) and read the writer in the clause of the match's first word only.
    for text in (
        "när min kusin kom över söp jag igen",
        "my brother got me drunk again last night",
        "my cousin came over and we got wasted again",
        "min bror o jag rökte på igen",
        "ja o brorsan söp igen hela helgen",
        "mamma hittade tjack i mitt rum",
        "mamma hittade sprutan, ja har börjat igen",
        "sen farsan dog har druckit varje dag igen",
        "morsan dog i fredags har supit sen dess",
        "my mom found out i relapsed",
        "after my dad died relapsed again",
        "min bror kom hem igår fick återfall direkt",
        "en kompis från gänget bjöd på en lina tog den direkt",
        "brorsan fixade ett jobb åt gänget ska köra ett paket ikväll",
        "polaren behövde hjälp så har gömt grejer åt gänget hemma igen",
    ):
        assert scanner.scan(text).categories == ("relapse",), (text, scanner.scan(text).reasons)


def test_someone_else_then_is_then_the_relapse_is_theirs(scanner):
    # The fifteenth round: the relapse right after "is"/"e" and the person.
    assert not scanner.scan("my ex is drinking again, worried about the kids at her place").matched_any
    # The writer in the same clause keeps it; "has"/"har" is a possession, and the use the
    # writer's ("syrran har gräs, rökte med henne igår", from a review of the round).
    for text in ("my ex is drinking again with me", "syrran har gräs, rökte med henne igår"):
        assert scanner.scan(text).categories == ("relapse",), (text, scanner.scan(text).reasons)


def test_water_a_dose_as_labelled_oil_and_tiredness_are_no_overdose_or_relapse(scanner):
    for text in (
        "blev så torr i munnen av nya medicinen, dricker massa vatten",
        "dropped a whole bottle of olive oil in the store, so embarrassing",
        "i'm so tired i feel drunk, just walked into the fridge door",
        "drunk on sleep deprivation after the night shift haha",
        "penicillin för halsen, tar dom enligt lappen",
        "Knät värker efter löpningen. Tog en Alvedon enligt förpackningen och la på is.",
    ):
        assert not scanner.scan(text).matched_any, (text, scanner.scan(text).reasons)
    # Their crisis twins, several from a review of the round: water pills, soap, "en massa"
    # as an amount, "nothing but", a threat's "tar dom", a whole pack.
    for text, category in (
        ("tog massa stesolid", "overdose"),
        ("tog 10 stesolid och drack massa vatten", "overdose"),
        ("took 20 water pills to flush myself out for good", "overdose"),
        ("slängde i mig en massa o la mig att dö", "overdose"),
        ("tog en hel förpackning alvedon", "overdose"),
        ("drank washing up liquid last night", "relapse"),
        ("rökte inget annat än spice sen jag kom ut", "relapse"),
        ("drank a whole bottle of vodka last night", "relapse"),
        ("im drunk again", "relapse"),
        ("dom ska ta dom enligt ordern, min bror först", "weapons"),
    ):
        assert category in scanner.scan(text).categories, (text, scanner.scan(text).reasons)
    assert scanner.scan("han sa att dom tar dom om ja pratar").categories == ("threat",)


def test_a_doctors_change_of_dose_and_none_taken_are_no_overdose(scanner):
    for text in (
        "Läkaren höjde metadonet från 80 till 90 mg i dag. Enligt plan.",
        "Doktorn höjde sertralinet te 100. Ska se hur hä går.",
        "Tog ingen oxy i dag alls. Klarade mig på alvedon.",
        "bror ja e pa antabus sa ja drack ingen ol pa festen, alla trodde ja va sjuk",
    ):
        assert not scanner.scan(text).matched_any, (text, scanner.scan(text).reasons)
    # The doctor's change names the medicine right after it, not a match further on or
    # before it; the usual dose is no blocker at all ("took the usual plus 30 more oxy").
    for text in (
        "tog 20 stesolid, läkaren höjde dosen igår",
        "doktorn höjde dosen så ja tog 30 stesolid",
        "läkaren höjde dosen igår tog hela kartan",
        "took the usual plus 30 more oxy",
        "tog mina vanliga sobril + 25 st extra",
        "tog 20 oxy",
    ):
        assert "overdose" in scanner.scan(text).categories, (text, scanner.scan(text).reasons)


def test_an_unless_concept_after_the_blocker_word_keeps_the_match(tmp_path: Path):
    rules = rules_file(tmp_path, "rule\tused\thigh\trelapse\t2\ta,b\nblock\tz\trelapse\tlead:6\tunless:w\n")
    assert rules.blockers[0].unless == "w"
    assert "w" in rules.concepts  # a programme may add its own words for the writer
    matcher = PhraseMatcher(concept_words(a="alfa", b="beta", z="zeta", w="wu"), rules)
    assert not matcher.scan("zeta x x alfa beta").matched_any
    assert matcher.scan("zeta wu alfa beta").reasons == (("relapse", "used"),)
    assert matcher.scan("zeta alfa beta wu").reasons == (("relapse", "used"),)
    # Before the blocker word, or in another clause, the word says nothing of the match.
    assert not matcher.scan("wu zeta alfa beta").matched_any
    assert not matcher.scan("zeta alfa beta. wu").matched_any
    for option in ("unless:", "sometimes"):
        with pytest.raises(ValueError, match=rf"rules.tsv:2: unknown block option '{option}'"):
            rules_file(tmp_path, f"rule\tused\thigh\trelapse\t2\ta,b\nblock\tz\trelapse\tlead:6\t{option}\n")


def test_naming_a_relative_or_a_game_does_not_silence_what_follows(scanner_with_model):
    # "det var min X" as a false alarm (a fright that turned out to be a relative) and a
    # game word beside a match in one clause only were tried this round and silenced these.
    for text in (
        "det var min sambo som slog mig, han sa att han dödar mig nästa gång",
        "det var min pappa som slog mig igår, han sa att han ska döda mig",
        "trodde det var min mamma men det var dom, dom står utanför",
        "sen va de min kusin som ringde, dom har hittat min nya adress",
        "he hit me after the game and said he'll kill me next time",
        "inkasso ringer hela tiden, dom sa att dom vet var jag bor",
        "Jag lovade ingen alkohol i år men igår drack jag en hel flaska",
        "han sa han väntar utanför när jag kommer hem",
        # A second review: laughter, an animal, fireworks, "när jag kommer hem", a mixer
        # or a friend beside a crisis must not silence it.
        "im dying they shot me",
        "he laughed when he said he would kill my kids",
        "blev knivhuggen när ja rastade hunden",
        "they shot at me while i was walking the dog",
        "dom vet var ja bor, nån sköt raketer mot mitt fönster inatt",
        "de vet när jag kommer hem bror, skickade bild",
        "without alcohol im shaking, had to have a drink this morning",
        "drack vodka med energidryck, första gången på ett år",
        "ja o kompisen söp igen",
        "me and my cousin relapsed",
        "ja har t ex druckit varje dag i två veckor",
    ):
        assert scanner_with_model.scan(text).matched_any, text
    # Missed before this round too: a fronted clause ("när jag kommer hem tar jag …"), and a
    # nervous laugh beside a critical threat, which a joke no longer cancels.
    for text in (
        "när jag kommer hem tar jag livet av mig",
        "they said they'll kill my family lol what do i do",
    ):
        assert scanner_with_model.scan(text).severity is Severity.CRITICAL, text
    assert not scanner_with_model.scan("matchen tar livet av mig").matched_any
    for text in (
        "im dying they shot me",
        "he laughed when he said he would kill my kids",
        "blev knivhuggen när ja rastade hunden",
        "they shot at me while i was walking the dog",
    ):
        assert scanner_with_model.scan(text).severity is Severity.CRITICAL, text


def test_an_animal_fireworks_and_coming_home_are_no_alarm(scanner):
    for text in (
        "blev typ attackerad av en mås på stranden",
        "a pigeon has been following me around campus all week, it knows me now",
        "de smällde på gården hela kvällen, bara raketer nån firade",
        "glömde medicinen hemma, tar den när ja kommer hem ikväll, de e lugnt",
        "wasted two days on this stupid bug",
        "kalendern e full hela veckan",
        "did three runs this week, legs are dead",
        "blackout in the whole building during the party",
        "cant open the window in my flat, its stuck",
        "spent my wages on the car repair, again",
        "credit card debt, slowly paying it off",
        "tried calling his number again, worried about grandpa",
        "me and my mate drank coffee all night studying",
    ):
        assert not scanner.scan(text).matched_any, text
    # "getting" is not "geting" (a wasp): the threats around it still alert.
    assert scanner.scan("keep getting voice notes saying im a dead man").matched_any
    assert scanner.scan("han sa han väntar utanför när jag kommer hem").matched_any
