"""Reading and changing a programme's crisis phrase lists.

Who may do what (asked of the access policy, ``cases.policy``): supervisors and admins
of the programme read and change its lists (``may_manage_programme_settings``); its
contact persons read them (``may_read_phrases``); any other staff member of the programme
gets 403, and everyone else (staff of other programmes, unknown programmes) gets "not
found" (``works_in_programme``), so programme ids leak nothing. Defectors never get here
(the views require staff).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from backend.accounts.models import Programme, User
from backend.audit.services import record_event
from backend.cases import policy
from backend.crisis.language import CATEGORIES, LANGUAGES, PREFIX_MARK, default_rules, parse_phrase
from backend.crisis.models import PHRASE_MAX_LENGTH, Phrase, PhraseList, PhraseListChange
from backend.crisis.severity import Severity
from backend.problems import Problem

# A phrase shorter than this (normalised) would fire on far too much.
MIN_PHRASE_LENGTH = 3
MIN_PREFIX_LENGTH = 4
MAX_CUSTOM_PHRASES = 5000


@dataclass(frozen=True)
class ProgrammePhrases:
    programme_id: int
    version: int
    phrases: QuerySet[Phrase]


@dataclass(frozen=True)
class PhraseHistory:
    programme_id: int
    version: int
    changes: QuerySet[PhraseListChange]


def _not_found() -> Problem:
    return Problem(status_code=404, slug="not-found", detail="No such programme.")


def _require_reader(user: User, programme_id: int) -> None:
    if not policy.works_in_programme(user, programme_id):
        raise _not_found()
    if not policy.may_read_phrases(user, programme_id):
        raise Problem(status_code=403, slug="forbidden", detail="Only supervisors and admins may read phrase lists.")


def _require_changer(user: User, programme_id: int) -> None:
    if not policy.works_in_programme(user, programme_id):
        raise _not_found()
    if not policy.may_manage_programme_settings(user, programme_id):
        raise Problem(status_code=403, slug="forbidden", detail="Only supervisors and admins may change phrase lists.")


def programme_version(programme_id: int) -> int:
    """The version the scanner caches on: the sum of the programme's list versions."""
    total = PhraseList.objects.filter(programme_id=programme_id).aggregate(v=Sum("version"))["v"]
    return int(total or 0)


def list_phrases(*, user: User, programme_id: int) -> ProgrammePhrases:
    """The programme's custom phrases (defaults are not listed) and its version.
    Read-only; supervisors, admins and contact persons of the programme."""
    _require_reader(user, programme_id)
    phrases = Phrase.objects.filter(phrase_list__programme_id=programme_id).select_related("phrase_list")
    return ProgrammePhrases(programme_id, programme_version(programme_id), phrases.order_by("pk"))


def phrase_history(*, user: User, programme_id: int) -> PhraseHistory:
    """Every change to the programme's lists, newest first. Same readers as ``list_phrases``."""
    _require_reader(user, programme_id)
    changes = (
        PhraseListChange.objects.filter(phrase_list__programme_id=programme_id)
        .select_related("phrase_list", "actor")
        .order_by("-pk")
    )
    return PhraseHistory(programme_id, programme_version(programme_id), changes)


def _locked_programme(programme_id: int) -> Programme:
    # Every change to a programme's lists holds this lock, so versions never race and
    # the programme version recorded with a change is exact.
    programme = Programme.objects.select_for_update().filter(pk=programme_id).first()
    if programme is None:
        raise _not_found()
    return programme


def _bump(*, phrase_list: PhraseList, actor: User, summary: dict[str, object]) -> PhraseListChange:
    now = timezone.now()
    PhraseList.objects.filter(pk=phrase_list.pk).update(version=F("version") + 1, updated_at=now)
    phrase_list.refresh_from_db(fields=["version", "updated_at"])
    return PhraseListChange.objects.create(
        phrase_list=phrase_list,
        version=phrase_list.version,
        programme_version=programme_version(phrase_list.programme_id),
        actor=actor,
        at=now,
        summary=summary,
    )


def _audit(*, actor: User, programme_id: int, change: PhraseListChange, phrase: Phrase, op: str) -> None:
    # The phrase text stays out of the (unencrypted) audit log: a programme's own phrase
    # may name a place or a group. The history table keeps it.
    record_event(
        action="phrases.changed",
        actor=actor,
        target=f"programme:{programme_id}",
        details={
            "op": op,
            "programme_id": programme_id,
            "list_id": change.phrase_list_id,
            "phrase_id": phrase.pk,
            "language": change.phrase_list.language,
            "severity": phrase.severity,
            "category": phrase.category,
            "exclusion": phrase.is_exclusion,
            "concept": phrase.concept,
            "list_version": change.version,
            "programme_version": change.programme_version,
        },
    )


def _invalid(field: str, detail: str) -> Problem:
    return Problem(status_code=400, slug="validation", detail=detail, field=field)


def _checked_kind(*, severity: str, category: str, exclusion: bool, concept: str) -> tuple[str, str]:
    """The severity and category to store: empty for an exclusion or a concept word."""
    if concept:
        if concept not in default_rules().concepts:
            raise _invalid("concept", f"Use one of: {', '.join(sorted(default_rules().concepts))}.")
        if exclusion:
            raise _invalid("exclusion", "A concept word is not an exclusion.")
        return "", ""
    if exclusion:
        return "", ""
    if severity not in {s.value for s in Severity}:
        raise _invalid("severity", f"Use one of: {', '.join(Severity)}.")
    if category not in CATEGORIES:
        raise _invalid("category", f"Use one of: {', '.join(CATEGORIES)}.")
    return severity, category


def add_phrase(
    *,
    actor: User,
    programme_id: int,
    phrase: str,
    language: str,
    severity: str = "",
    category: str = "",
    exclusion: bool = False,
    concept: str = "",
) -> tuple[Phrase, int]:
    """Add a phrase (or an exclusion, or a word of one of the rules' concepts, such as a
    medicine name) to the programme's list for ``language`` and return
    it with the programme's new version. Transactional: the phrase, the version bump, the
    history row and the audit entry commit together. Supervisors and admins only.
    Raises 400 (naming the field) for a phrase that normalises to too little, 409 for a
    duplicate in the same list."""
    _require_changer(actor, programme_id)
    if language not in LANGUAGES:
        raise _invalid("language", f"Use one of: {', '.join(LANGUAGES)}.")
    severity, category = _checked_kind(severity=severity, category=category, exclusion=exclusion, concept=concept)
    text = phrase.strip()
    if len(text) > PHRASE_MAX_LENGTH:
        raise _invalid("phrase", f"At most {PHRASE_MAX_LENGTH} characters.")
    if PREFIX_MARK in text.rstrip(PREFIX_MARK):
        raise _invalid("phrase", 'A "*" may only end the phrase (the last word may continue).')
    key, prefix = parse_phrase(text)
    if len(key) < (MIN_PREFIX_LENGTH if prefix else MIN_PHRASE_LENGTH):
        raise _invalid("phrase", "Too short to match safely once normalised.")
    normalised = key + PREFIX_MARK if prefix else key

    with transaction.atomic():
        _locked_programme(programme_id)
        if Phrase.objects.filter(phrase_list__programme_id=programme_id).count() >= MAX_CUSTOM_PHRASES:
            raise Problem(status_code=409, slug="limit-reached", detail=f"At most {MAX_CUSTOM_PHRASES} phrases.")
        phrase_list, _ = PhraseList.objects.get_or_create(
            programme_id=programme_id,
            name=f"custom-{language}",
            defaults={"language": language, "updated_at": timezone.now()},
        )
        duplicate = Phrase.objects.filter(
            phrase_list=phrase_list, normalised=normalised, is_exclusion=exclusion, concept=concept
        )
        if duplicate.exists():
            raise Problem(
                status_code=409, slug="duplicate-phrase", detail="The list already has this phrase.", field="phrase"
            )
        row = Phrase.objects.create(
            phrase_list=phrase_list,
            phrase=text,
            normalised=normalised,
            severity=severity,
            category=category,
            is_exclusion=exclusion,
            concept=concept,
            created_at=timezone.now(),
            created_by=actor,
        )
        change = _bump(
            phrase_list=phrase_list,
            actor=actor,
            summary={
                "op": "added",
                "phrase_id": row.pk,
                "phrase": row.phrase,
                "severity": severity,
                "category": category,
                "exclusion": exclusion,
                "concept": concept,
            },
        )
        _audit(actor=actor, programme_id=programme_id, change=change, phrase=row, op="added")
    return row, change.programme_version


def remove_phrase(*, actor: User, programme_id: int, phrase_id: int) -> int:
    """Remove one of the programme's phrases and return the programme's new version.
    Transactional like ``add_phrase``; supervisors and admins only; a phrase of another
    programme is "not found"."""
    _require_changer(actor, programme_id)
    with transaction.atomic():
        _locked_programme(programme_id)
        row = (
            Phrase.objects.select_related("phrase_list")
            .filter(pk=phrase_id, phrase_list__programme_id=programme_id)
            .first()
        )
        if row is None:
            raise Problem(status_code=404, slug="not-found", detail="No such phrase.")
        summary: dict[str, object] = {
            "op": "removed",
            "phrase_id": row.pk,
            "phrase": row.phrase,
            "severity": row.severity,
            "category": row.category,
            "exclusion": row.is_exclusion,
            "concept": row.concept,
        }
        phrase_list = row.phrase_list
        row.delete()
        row.pk = phrase_id  # for the audit entry: delete() clears it
        change = _bump(phrase_list=phrase_list, actor=actor, summary=summary)
        _audit(actor=actor, programme_id=programme_id, change=change, phrase=row, op="removed")
    return change.programme_version
