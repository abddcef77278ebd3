"""The forms of the case and transfer pages. People are chosen from a list of the
programme's staff by name; the services still check every choice themselves."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from backend.accounts.models import Programme, StaffRole, User
from backend.administration.staff_services import staff_of
from backend.inbox.people import display_name

Choices = list[tuple[int, str]]

ALIAS_MAX_CHARS = 80
CLOSING_NOTE_MAX_CHARS = 4000


def people_choices(users: Iterable[User]) -> Choices:
    """Staff by name, alphabetically; two people with the same name are told apart by
    their usernames."""
    people = list(users)
    names = Counter(display_name(user) for user in people)
    labelled = [
        (user.pk, display_name(user) if names[display_name(user)] == 1 else f"{display_name(user)} ({user.username})")
        for user in people
    ]
    return sorted(labelled, key=lambda choice: choice[1].casefold())


def staff_with_role(programme: Programme, *roles: str) -> list[User]:
    """The programme's active staff holding one of ``roles``."""
    return [m.user for m in staff_of(programme) if m.user.is_active and set(m.roles) & set(roles)]


def contact_persons(programme: Programme) -> list[User]:
    """Who may be a case's primary contact (``policy.may_be_primary_contact``)."""
    return staff_with_role(programme, StaffRole.Role.CONTACT_PERSON)


def possible_backups(programme: Programme) -> list[User]:
    """Who may be a case's backup (``policy.may_be_backup_contact``)."""
    return staff_with_role(programme, StaffRole.Role.CONTACT_PERSON, StaffRole.Role.ON_CALL)


def _person_field(label: Any, choices: Choices) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(label=label, coerce=int, choices=[("", "—"), *choices])


class OpenCaseForm(forms.Form):
    alias = forms.CharField(
        label=_("Alias"),
        max_length=ALIAS_MAX_CHARS,
        help_text=_("The name the case goes by in the inbox: never the person's real name."),
    )

    def __init__(self, *args: Any, primaries: Choices, backups: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["primary_contact"] = _person_field(_("Primary contact person"), primaries)
        self.fields["backups"] = forms.TypedMultipleChoiceField(
            label=_("Backups (optional)"),
            coerce=int,
            choices=backups,
            required=False,
            widget=forms.CheckboxSelectMultiple,
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("primary_contact") in data.get("backups", []):
            self.add_error("backups", _("The primary contact person cannot also be a backup."))
        return data


class PersonForm(forms.Form):
    """One person for a role on a case: the new primary contact, or a backup."""

    def __init__(self, *args: Any, label: Any, choices: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"] = _person_field(label, choices)


class CloseCaseForm(forms.Form):
    note = forms.CharField(
        label=_("Why is the case closed?"),
        max_length=CLOSING_NOTE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Saved in the audit trail and as the resolution of the case's open alerts."),
    )


class ProposeTransferForm(forms.Form):
    def __init__(self, *args: Any, programmes: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_programme"] = forms.TypedChoiceField(
            label=_("Move to programme"), coerce=int, choices=[("", "—"), *programmes]
        )


class AcceptTransferForm(forms.Form):
    def __init__(self, *args: Any, choices: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["primary_contact"] = _person_field(_("New primary contact person"), choices)
