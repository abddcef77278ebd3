"""Crisis-language scanning: normalisation, matching, the default lists, per-programme
lists and their cache, and precision/recall on a labelled corpus."""

from __future__ import annotations

import csv
import re
import string
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from backend.accounts.models import Programme, StaffRole
from backend.crisis import language, phrase_services, scanning
from backend.crisis.language import PhraseEntry, PhraseMatcher, ScanResult, normalise
from backend.crisis.models import PhraseList
from backend.crisis.scanning import scan_text
from backend.crisis.severity import Severity

CORPUS = Path(__file__).with_name("eval_corpus.tsv")


@pytest.fixture(autouse=True)
def _fresh_matcher_cache():
    scanning.clear_cache()
    yield
    scanning.clear_cache()


@pytest.fixture
def compilations(monkeypatch) -> list[PhraseMatcher]:
    """Every matcher the scanner compiles from now on."""
    compiled: list[PhraseMatcher] = []

    def compile_and_count(extra=()):
        matcher = language.compile_matcher(extra)
        compiled.append(matcher)
        return matcher

    monkeypatch.setattr(scanning, "compile_matcher", compile_and_count)
    return compiled


def entry(phrase: str, severity: str = "high", category: str = "self_harm", *, exclusion: bool = False) -> PhraseEntry:
    key, prefix = language.parse_phrase(phrase)
    return PhraseEntry(key, "" if exclusion else severity, "" if exclusion else category, exclusion, prefix)


def matcher(*entries: PhraseEntry) -> PhraseMatcher:
    return PhraseMatcher(entries)


# --- normalisation ----------------------------------------------------------------------


def test_normalise_folds_case():
    assert normalise("VILL INTE LEVA") == normalise("vill inte leva") == "vil inte leva"


def test_normalise_applies_nfkc_to_compatibility_forms():
    # Full-width letters and the "fi" ligature become plain letters.
    assert normalise("ＨＪÄＬＰ") == "hjalp"
    assert normalise("ﬁnd me") == "find me"


def test_normalise_folds_diacritics_so_text_with_and_without_them_meets():
    assert normalise("dö") == normalise("do") == normalise("DÖ") == "do"
    assert normalise("självmord") == normalise("sjalvmord")
    assert normalise("café Ørebro") == "cafe orebro"
    # A decomposed "ö" (o + combining diaeresis) is the same as the composed one.
    assert normalise("do\u0308") == "do"


def test_normalise_collapses_elongated_letters():
    assert normalise("hjäääälp") == normalise("hjälp") == "hjalp"
    assert normalise("pleeeease") == "please"


def test_normalise_collapses_double_letters_the_same_way_on_both_sides():
    # "tabletter" has a legitimate double t; both spellings meet at one form.
    assert normalise("tabletter") == normalise("tableter") == normalise("tablllettttter") == "tableter"
    assert normalise("mått") == normalise("måt")


def test_normalise_swaps_digits_for_letters_inside_words():
    assert normalise("vill d0 nu") == "vil do nu"
    assert normalise("h3lp m3") == "help me"
    assert normalise("$jälvm0rd") == "sjalvmord"
    assert normalise("k1ll") == "kil"
    assert normalise("p4ng") == "pang"
    assert normalise("7a l1v3t") == "ta livet"


def test_normalise_leaves_numbers_alone():
    assert normalise("ring 112 nu") == "ring 112 nu"
    assert normalise("klockan 17:30") == "klockan 17 30"
    assert normalise("@ 5") == "5"


def test_one_is_also_read_as_l():
    assert language.normalised_variants("he1p") == ("heip", "help")
    assert language.normalised_variants("vi11 dö") == ("vi do", "vil do")
    assert language.normalised_variants("ring 112") == ("ring 112",)
    only = matcher(entry("vill dö"))
    assert only.scan("vi11 d0").matched == ("vil do",)


def test_normalise_turns_punctuation_and_spacing_into_single_spaces():
    assert normalise("ta.livet.av.mig") == "ta livet av mig"
    assert normalise("ta  livet\tav\nmig!!!") == "ta livet av mig"
    assert normalise("  -- de_vet//var...jag bor?? ") == "de vet var jag bor"
    assert normalise("") == ""


# Folded ASCII text as the normaliser meets it: lower case, digits, punctuation, spacing,
# doubled letters and chat spellings.
_FOLDED_ASCII = st.lists(
    st.sampled_from([*string.ascii_lowercase, *string.digits, *" .,!?-_/@$\t\n", "ja", "e", "typ", "asa", "ba", "mej"]),
    max_size=40,
).map("".join)


@given(_FOLDED_ASCII)
@example("ja e typ hemma  ")
@example("aaa bbbb ja")
@example("typ")
def test_the_ascii_path_finishes_text_as_the_general_path_does(text):
    assert language._finish_ascii(text) == language._finish_unicode(text)


def _unleet_word_by_word(text: str, table: dict[int, str]) -> str:
    """Swap inside every word that holds both a letter and a swapped character, one word
    at a time: what ``_unleet`` must do."""

    def swap(token: re.Match[str]) -> str:
        word = token.group(0)
        if re.search(r"[013457@$]", word) and re.search(r"[^\W\d_]", word):
            return word.translate(table)
        return word

    return re.sub(r"(?:[^\W_]|[@$])+", swap, text)


@given(st.text(alphabet="ab1é0345 7@$_.-2\u00e4", max_size=30))
@example("h3lp m3 kl 10.30")
@example("a21 @ $5 ab_1")
def test_only_words_with_a_letter_and_a_swapped_character_are_swapped(text):
    for table in (language._LEET_I, language._LEET_L):
        assert language._unleet(text, table) == _unleet_word_by_word(text, table)


def test_normalise_removes_invisible_characters_inside_words():
    assert normalise("sj\u200bälv\u00admord") == "sjalvmord"


def test_phrases_and_text_are_normalised_alike():
    found = matcher(entry("Ta livet av mig!")).scan("TA.LIVET.AAAV.M1G")
    assert found.matched == ("ta livet av mig",)


# --- matching ---------------------------------------------------------------------------


def test_whole_words_only():
    only = matcher(entry("dö"))
    assert only.scan("jag vill dö").matched_any
    assert only.scan("dö").matched_any
    assert not only.scan("vi ses i döbeln").matched_any
    assert not only.scan("endö").matched_any
    assert not only.scan("döden").matched_any


def test_whole_word_phrase_may_start_and_end_the_message():
    only = matcher(entry("vill dö"))
    assert only.scan("vill dö").matched_any
    assert only.scan("vill dö, snälla").matched_any
    assert not only.scan("vill döda").matched_any
    assert not only.scan("javill dö").matched_any


def test_prefix_phrase_lets_only_the_last_word_continue():
    only = matcher(entry("självmord*"))
    assert only.scan("självmordstankar hela natten").matched == ("sjalvmord*",)
    assert only.scan("självmord").matched_any
    assert not only.scan("antisjälvmord").matched_any


def test_a_match_inside_an_exclusion_is_dropped():
    found = matcher(entry("dör"), entry("jag dör av skratt", exclusion=True))
    assert not found.scan("jag dör av skratt 😂").matched_any
    assert found.scan("jag dör").matched_any


def test_a_match_only_partly_inside_an_exclusion_still_counts():
    found = matcher(entry("vill dö"), entry("dö av skratt", exclusion=True))
    # "vill dö" starts before the exclusion does.
    assert found.scan("vill dö av skratt").matched == ("vil do",)
    # The same phrase elsewhere in the message still counts.
    assert found.scan("dö av skratt, men jag vill dö").matched_any


def test_an_exclusion_drops_only_what_it_covers():
    found = matcher(entry("skar mig"), entry("skar mig i fingret", exclusion=True), entry("hänga mig", "critical"))
    result = found.scan("skar mig i fingret, vill hänga mig")
    assert result.matched == ("hanga mig",)
    assert result.severity == "critical"


def test_prefix_exclusion_covers_the_word_it_continues():
    found = matcher(entry("granat", "critical", "weapons"), entry("granatäpple*", exclusion=True))
    assert not found.scan("vi åt granatäpplen").matched_any
    assert found.scan("han har en granat").matched_any


def test_several_matches_give_the_highest_severity_and_every_category():
    found = matcher(
        entry("orkar inte mer", "normal", "self_harm"),
        entry("vet var jag bor", "critical", "located"),
        entry("har en pang", "high", "weapons"),
    )
    result = found.scan("orkar inte mer. de vet var jag bor och han har en pang")
    assert result == ScanResult(
        severity="critical",
        categories=("located", "self_harm", "weapons"),
        matched=("har en pang", "orkar inte mer", "vet var jag bor"),
        reasons=(("located", "programme_phrase"), ("self_harm", "programme_phrase"), ("weapons", "programme_phrase")),
    )
    assert result.matched_any
    assert result.severity_rank == 3


def test_overlapping_phrases_are_all_found():
    found = matcher(entry("ta livet av mig", "critical"), entry("livet av", "normal", "threat"))
    result = found.scan("vill ta livet av mig")
    assert result.matched == ("livet av", "ta livet av mig")
    assert result.categories == ("self_harm", "threat")


def test_the_same_phrase_in_two_lists_counts_with_both():
    found = matcher(entry("hela burken", "high", "self_harm"), entry("hela burken", "critical", "relapse"))
    result = found.scan("tog hela burken")
    assert result.severity == "critical"
    assert result.categories == ("relapse", "self_harm")


def test_no_match_is_an_empty_result():
    result = matcher(entry("vill dö")).scan("hej, ses imorgon")
    assert result == ScanResult(severity=None, categories=(), matched=())
    assert not result.matched_any
    assert result.severity_rank == 0
    assert not PhraseMatcher([]).scan("vill dö").matched_any


# --- the default lists -----------------------------------------------------------------


@pytest.mark.parametrize("code", ["sv", "en"])
def test_default_lists_have_at_least_150_valid_phrases_each(code):
    entries = language.load_phrase_file(language.DEFAULT_PHRASES_DIR / f"{code}.tsv", source=code)
    assert len(entries) >= 150
    keys = [(e.key, e.prefix) for e in entries]
    assert len(keys) == len(set(keys)), "a phrase is listed twice"
    for e in entries:
        assert e.severity in set(Severity)
        assert e.category in language.CATEGORIES
        assert len(e.key) >= 3
    assert {e.category for e in entries} == set(language.CATEGORIES)
    assert {e.severity for e in entries} == set(Severity)


def test_default_exclusions_load():
    exclusions = [e for e in language.default_entries() if e.exclusion]
    assert len(exclusions) >= 20


@pytest.mark.parametrize(
    ("text", "severity", "category"),
    [
        ("de vet var jag bor", "critical", "located"),
        ("De hittade mig!!", "critical", "located"),
        ("han har en pang", "critical", "weapons"),
        ("vill inte leva", "critical", "self_harm"),
        ("jag ska ta livet av mig", "critical", "self_harm"),
        ("tänker ta mitt liv", "critical", "self_harm"),
        ("orkar inte mer", "high", "self_harm"),
        ("tog alla piller", "critical", "self_harm"),
        ("tog hela burken", "critical", "self_harm"),
        ("tog hela kartan igår", "critical", "self_harm"),
        ("har börjat knarka igen", "high", "relapse"),
        ("they know where i live", "critical", "located"),
        ("i want to kill myself", "critical", "self_harm"),
        ("took all the pills", "critical", "self_harm"),
    ],
)
def test_default_lists_catch_the_examples_from_the_issue(text, severity, category):
    result = scan_text(text, programme_id=None)
    assert result.severity == severity
    assert category in result.categories


def test_method_words_rate_higher_than_the_word_suicide():
    suicide = scan_text("jag tänker på självmord", programme_id=None)
    method = scan_text("jag har samlat tabletter i en månad", programme_id=None)
    assert suicide.severity_rank < method.severity_rank


@pytest.mark.parametrize(
    "text",
    [
        "jag dör av skratt",
        "vi ses i döbeln",
        "vi tog tabletter mot huvudvärk igår",
        "kan vi skjuta upp mötet?",
        "killing time at the station",
        "see you at the bridge club",
        "det var mördande tråkigt",
        "shoot me a message later",
        "Tack för ert snara svar",
        "vi åt granatäpple",
    ],
)
def test_default_lists_leave_hard_negatives_alone(text):
    assert not scan_text(text, programme_id=None).matched_any


def test_defaults_are_compiled_once_per_process(compilations):
    first = scanning.matcher_for(None)
    count = len(compilations)
    for _ in range(5):
        scan_text("vill dö", programme_id=None)
    assert scanning.matcher_for(None) is first
    assert len(compilations) == count


# --- per-programme lists and the cache ---------------------------------------------------


@pytest.fixture
def other_programme(db) -> Programme:
    return Programme.objects.create(name="Other programme")


def add(supervisor, programme, phrase, **kwargs):
    defaults = {"language": "sv", "severity": "high", "category": "threat"}
    return phrase_services.add_phrase(
        actor=supervisor.user, programme_id=programme.pk, phrase=phrase, **{**defaults, **kwargs}
    )


def test_a_programme_phrase_affects_only_that_programme(supervisor, programme, other_programme):
    assert not scan_text("de kom med den blå volvon", programme_id=programme.pk).matched_any
    add(supervisor, programme, "blå volvon", severity="critical", category="located")

    here = scan_text("De kom med den BLÅ VOLVON", programme_id=programme.pk)
    assert here.severity == "critical"
    assert here.categories == ("located",)
    assert not scan_text("de kom med den blå volvon", programme_id=other_programme.pk).matched_any
    assert not scan_text("de kom med den blå volvon", programme_id=None).matched_any
    # The defaults still apply to the programme.
    assert scan_text("vill inte leva", programme_id=programme.pk).matched_any


def test_a_programme_exclusion_silences_a_default_phrase_only_there(supervisor, programme, other_programme):
    # "Hänga" is also to hang out. A critical phrase, which the text model's veto does not
    # drop here (the model gives this message 4.4%, above the critical veto's 1%, and
    # does not alert on it alone): only the exclusion can.
    add(supervisor, programme, "hänga mig på gympan", exclusion=True, severity="", category="")
    assert not scan_text("ska du hänga mig på gympan", programme_id=programme.pk).matched_any
    assert scan_text("ska du hänga mig på gympan", programme_id=other_programme.pk).severity == "critical"


def test_inactive_lists_are_not_used(supervisor, programme):
    add(supervisor, programme, "blå volvon")
    # Deactivating must change the version, like every change, for the cache to see it.
    PhraseList.objects.filter(programme=programme).update(is_active=False, version=99)
    assert not scan_text("blå volvon", programme_id=programme.pk).matched_any


def test_matcher_is_rebuilt_only_when_the_version_changes(supervisor, programme, compilations):
    add(supervisor, programme, "blå volvon")
    first = scanning.matcher_for(programme.pk)
    count = len(compilations)
    for _ in range(10):
        scan_text("blå volvon igen", programme_id=programme.pk)
    assert scanning.matcher_for(programme.pk) is first
    assert len(compilations) == count

    row, _ = add(supervisor, programme, "röda audin")
    assert scan_text("röda audin", programme_id=programme.pk).matched_any
    second = scanning.matcher_for(programme.pk)
    assert second is not first
    assert len(compilations) == count + 1

    phrase_services.remove_phrase(actor=supervisor.user, programme_id=programme.pk, phrase_id=row.pk)
    assert not scan_text("röda audin", programme_id=programme.pk).matched_any
    assert len(compilations) == count + 2


def test_a_scan_costs_one_query_once_compiled(supervisor, programme, django_assert_num_queries):
    add(supervisor, programme, "blå volvon")
    scan_text("warm up", programme_id=programme.pk)
    with django_assert_num_queries(1):
        assert scan_text("blå volvon", programme_id=programme.pk).matched_any
    with django_assert_num_queries(0):
        scan_text("vill dö", programme_id=None)


def test_a_programme_without_lists_uses_the_default_matcher(programme):
    assert scanning.matcher_for(programme.pk) is scanning.matcher_for(None)


def test_version_grows_with_every_change(supervisor, programme, make_staff):
    admin = make_staff("admin", programme, StaffRole.Role.ADMIN)
    _, v1 = add(supervisor, programme, "blå volvon")
    _, v2 = add(admin, programme, "blue volvo", language="en")
    row, v3 = add(supervisor, programme, "röda audin")
    v4 = phrase_services.remove_phrase(actor=admin.user, programme_id=programme.pk, phrase_id=row.pk)
    assert [v1, v2, v3, v4] == [1, 2, 3, 4]
    assert phrase_services.programme_version(programme.pk) == 4


# --- precision and recall --------------------------------------------------------------


def _corpus() -> list[tuple[bool, int, str, str]]:
    rows = []
    held_out = False
    with CORPUS.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if not row:
                continue
            if row[0].startswith("#"):
                held_out = held_out or "held-out" in row[0]
                continue
            label, language, text = row
            rows.append((held_out, int(label), language, text))
    return rows


def _score(rows: list[tuple[bool, int, str, str]]) -> tuple[float, float, int, int, int]:
    tp = fp = fn = 0
    for _, label, _, text in rows:
        alerted = scan_text(text, programme_id=None).matched_any
        tp += bool(label and alerted)
        fp += bool(not label and alerted)
        fn += bool(label and not alerted)
    return tp / (tp + fp), tp / (tp + fn), tp, fp, fn


def test_corpus_is_big_enough_and_covers_both_languages():
    rows = _corpus()
    assert len(rows) >= 120
    for code in ("sv", "en"):
        labels = [label for _, label, lang, _ in rows if lang == code]
        assert labels.count(1) >= 30 and labels.count(0) >= 30


def test_precision_and_recall_on_the_labelled_corpus():
    rows = _corpus()
    figures = {
        "all": _score(rows),
        "sv": _score([r for r in rows if r[2] == "sv"]),
        "en": _score([r for r in rows if r[2] == "en"]),
        "held-out": _score([r for r in rows if r[0]]),
    }
    for name, (precision, recall, tp, fp, fn) in figures.items():
        print(f"\ncrisis scan [{name}]: precision {precision:.3f} recall {recall:.3f} (tp {tp}, fp {fp}, fn {fn})")
    precision, recall, *_ = figures["all"]
    # Floors just below what the shipped lists achieve; the held-out part was written
    # after the lists were frozen and scores lower, which is the more honest figure.
    assert precision >= 0.92
    assert recall >= 0.87
    held_precision, held_recall, *_ = figures["held-out"]
    assert held_precision >= 0.85
    assert held_recall >= 0.80
