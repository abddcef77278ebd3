"""A programme's audit trail, for its supervisors and admins: the entries, paged and
filtered by staff member, case, kind and day; the hash chain's verdict (``verify_audit``'s,
on a page of its own: it reads the whole log); and a CSV export, itself audited, through
the same path as the API's (``audit_selectors.exported_csv``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET

from backend.accounts.models import Programme
from backend.administration import access, audit_selectors, staff_services
from backend.administration.audit_selectors import AuditFilter, ShownEntry
from backend.audit.verification import verify_chain
from backend.cases import policy
from backend.cases.models import Case
from backend.inbox.pages import staff_page, staff_user

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    """The API's filters as a person picks them: people and cases by name, kinds from
    those in the log, whole days in the inbox's time zone."""

    actor = forms.TypedChoiceField(label=gettext_lazy("Staff member"), coerce=int, empty_value=None, required=False)
    case = forms.TypedChoiceField(label=gettext_lazy("Case"), coerce=int, empty_value=None, required=False)
    action = forms.ChoiceField(label=gettext_lazy("Kind"), required=False)
    since = forms.DateField(
        label=pgettext_lazy("first day", "From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=gettext_lazy("Until (inclusive)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    page = forms.IntegerField(min_value=1, max_value=100_000, required=False, widget=forms.HiddenInput)

    def __init__(self, data: Any, *, programme: Programme, people: dict[int, str], cases: dict[int, str]) -> None:
        super().__init__(data)
        self._choose("actor", [("", _("Everyone")), *sorted(people.items(), key=lambda pair: pair[1].lower())])
        self._choose("case", [("", _("All cases")), *cases.items()])
        logged = audit_selectors.programme_entries(programme, AuditFilter()).order_by().values_list("action", flat=True)
        actions = sorted(logged.distinct())
        families = sorted({action.split(".", 1)[0] + "." for action in actions if "." in action})
        self._choose(
            "action",
            [
                ("", _("All kinds")),
                (_("Groups"), [(family, _("%(group)s… (all)") % {"group": family}) for family in families]),
                (_("Single kinds"), [(action, action) for action in actions]),
            ],
        )

    def _choose(self, name: str, choices: list[Any]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            self.add_error("until", _("The last day cannot be before the first."))
        return data

    def wanted(self) -> AuditFilter:
        data = self.cleaned_data
        zone = ZoneInfo(settings.LIVLINA_INBOX_TIME_ZONE)

        def start_of(day: dt.date | None) -> dt.datetime | None:
            return dt.datetime.combine(day, dt.time(), tzinfo=zone) if day else None

        until = data.get("until")
        return AuditFilter(
            actor=data.get("actor"),
            case=data.get("case"),
            action=data.get("action") or "",
            since=start_of(data.get("since")),
            until=start_of(until + dt.timedelta(days=1) if until else None),
        )


@dataclass(frozen=True)
class EntryRow:
    entry: ShownEntry
    who: str
    case: str
    target: str
    details: str


@dataclass(frozen=True)
class Names:
    """What the page calls the programme, its staff and its cases (ids elsewhere)."""

    programme: Programme
    people: dict[int, str]
    cases: dict[int, str]

    def target(self, target: str) -> str:
        kind, _sep, ident = target.partition(":")
        known = {"user": self.people, "case": self.cases, "programme": {self.programme.pk: self.programme.name}}
        if ident.isdigit() and int(ident) in known.get(kind, {}):
            return known[kind][int(ident)]
        return target


def _programme(request: HttpRequest, programme_id: int) -> Programme:
    return access.programme_for(
        staff_user(request),
        programme_id,
        policy.may_read_programme_audit,
        _("Only the programme's supervisors and admins read its audit log."),
    )


def _names(programme: Programme) -> Names:
    people = {m.user.pk: m.user.get_full_name() or m.user.username for m in staff_services.staff_of(programme)}
    rows = Case.objects.filter(programme=programme).select_related("defector").order_by("defector__alias")
    return Names(programme=programme, people=people, cases={case.pk: case.defector.alias for case in rows})


def _who(entry: ShownEntry, names: Names) -> str:
    if entry.actor_label == audit_selectors.OUTSIDE_LABEL:
        return _("Someone outside this programme")
    if entry.actor_id is not None and entry.actor_id in names.people:
        return names.people[entry.actor_id]
    return entry.actor_label or _("The system")


def _details(details: dict[str, Any]) -> str:
    def shown(value: Any) -> str:
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)

    return "; ".join(f"{key}: {shown(value)}" for key, value in sorted(details.items()) if value not in ("", [], {}))


def _row(entry: ShownEntry, names: Names) -> EntryRow:
    if entry.case_id is None:
        case = ""
    else:
        case = names.cases.get(entry.case_id, _("case %(id)s (moved away)") % {"id": entry.case_id})
    return EntryRow(
        entry=entry,
        who=_who(entry, names),
        case=case,
        target=names.target(entry.target),
        details=_details(entry.details),
    )


def _query(form: AuditFilterForm, **changes: Any) -> str:
    """The filters as a query string, for the export link and the page links."""
    values = {name: form.data.get(name, "") for name in ("actor", "case", "action", "since", "until")}
    return urlencode({key: value for key, value in (values | changes).items() if value not in ("", None)})


@require_GET
@staff_page
def audit_view(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    names = _names(programme)
    form = AuditFilterForm(request.GET, programme=programme, people=names.people, cases=names.cases)
    context: dict[str, Any] = {"programme": programme, "form": form, "page": "programme", "rows": []}
    if not form.is_valid():
        return render(request, "inbox/programme/audit.html", context, status=400)
    entries = audit_selectors.programme_entries(programme, form.wanted())
    count = entries.count()
    pages = max(1, -(-count // PAGE_SIZE))
    number = min(form.cleaned_data.get("page") or 1, pages)
    start = (number - 1) * PAGE_SIZE
    shown = audit_selectors.shown(programme, entries[start : start + PAGE_SIZE])
    context |= {
        "rows": [_row(entry, names) for entry in shown],
        "count": count,
        "page_number": number,
        "pages": pages,
        "filters": _query(form),
        "previous": _query(form, page=number - 1) if number > 1 else None,
        "next": _query(form, page=number + 1) if number < pages else None,
    }
    return render(request, "inbox/programme/audit.html", context)


@require_GET
@staff_page
def audit_export_view(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    names = _names(programme)
    form = AuditFilterForm(request.GET, programme=programme, people=names.people, cases=names.cases)
    if not form.is_valid():
        context = {"programme": programme, "form": form, "page": "programme", "rows": []}
        return render(request, "inbox/programme/audit.html", context, status=400)
    text = audit_selectors.exported_csv(programme, form.wanted(), actor=staff_user(request))
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-programme-{programme.pk}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@staff_page
def audit_verification_view(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    context = {"programme": programme, "result": verify_chain(), "page": "programme"}
    return render(request, "inbox/programme/audit_verification.html", context)


urlpatterns = [
    path("", audit_view, name="programme-page-audit"),
    path("export/", audit_export_view, name="programme-page-audit-export"),
    path("verification/", audit_verification_view, name="programme-page-audit-verification"),
]
