"""The inbox's pages: the work queue, a case's conversation with its side panel, the alert
queue, and check-in schedules. Thin: reads go through the selectors (which audit staff
reads of case content exactly as the API does), writes through the services."""

from __future__ import annotations

from typing import Any

import segno
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backend.accounts import services as account_services
from backend.accounts.models import User
from backend.cases import enrollment, policy
from backend.cases import selectors as case_selectors
from backend.cases.models import Case
from backend.checkins import services as checkin_services
from backend.checkins.models import CheckinSchedule
from backend.crisis import selectors as alert_selectors
from backend.crisis import services as alert_services
from backend.inbox import oncall_notes
from backend.inbox.alert_queue import alert_queue
from backend.inbox.conversation_pages import conversation_page, older_messages
from backend.inbox.forms import AckForm, ResolveForm, RevokeForm, ScheduleForm
from backend.inbox.pages import staff_page, staff_user
from backend.inbox.queue_rows import queue_rows_html
from backend.inbox.work_queue import work_queue
from backend.problems import Problem

# --- the work queue ----------------------------------------------------------------------


@require_GET
@staff_page
def queue_view(request: HttpRequest) -> HttpResponse:
    return render(
        request, "inbox/queue.html", {"rows_html": queue_rows_html(work_queue(staff_user(request))), "page": "queue"}
    )


@require_GET
@staff_page
def queue_rows_view(request: HttpRequest) -> HttpResponse:
    """The queue's rows alone: what the page fetches when a live frame says it changed."""
    return render(request, "inbox/_queue_rows.html", {"rows_html": queue_rows_html(work_queue(staff_user(request)))})


# --- a case --------------------------------------------------------------------------------


@require_GET
@staff_page
def case_view(request: HttpRequest, case_id: int) -> HttpResponse:
    return conversation_page(request, staff_user(request), case_id)


@require_GET
@staff_page
def older_messages_view(request: HttpRequest, case_id: int) -> HttpResponse:
    return older_messages(request, staff_user(request), case_id)


def new_enrollment_code(case: Case, user: User) -> dict[str, Any]:
    """A fresh one-time code for ``case`` with its QR, as ``_enrollment_code.html`` shows
    them (the service refuses anyone not assigned to the case)."""
    code, row = enrollment.create_enrollment_code(case=case, created_by=user)
    qr = segno.make(code, error="m").svg_inline(scale=5, title=code)
    return {"code": code, "expires_at": row.expires_at, "qr": qr}


@require_POST
@staff_page
def enrollment_code_view(request: HttpRequest, case_id: int) -> HttpResponse:
    user = staff_user(request)
    case = policy.require_case_for_staff(user, case_id)
    response = render(request, "inbox/enrollment_code.html", {"case": case, **new_enrollment_code(case, user)})
    # A one-time code: no cache, no back-button copy.
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@staff_page
def revoke_device_view(request: HttpRequest, device_id: str) -> HttpResponse:
    """Revoking a phone asks first (a page, not a script dialog): it cannot be undone."""
    user = staff_user(request)
    device = policy.device_for(user, device_id)
    case = policy.case_of_defector(device.user_id)
    form = RevokeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        account_services.revoke_device(device=device, actor=user, reason=form.cleaned_data["reason"])
        return HttpResponseRedirect(reverse("inbox-case", args=[case.pk]) if case else reverse("inbox-home"))
    return render(request, "inbox/revoke_device.html", {"device": device, "case": case, "form": form})


# --- alerts --------------------------------------------------------------------------------


@require_GET
@staff_page
def alerts_view(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    context = {**alert_queue(user), "coverage": oncall_notes.coverage_for(user), "page": "alerts"}
    return render(request, "inbox/alerts.html", context)


@require_GET
@staff_page
def alert_rows_view(request: HttpRequest) -> HttpResponse:
    # Forms in the fragment return to the page it is shown on, not to the fragment.
    context = {**alert_queue(staff_user(request)), "return_to": reverse("inbox-alerts")}
    return render(request, "inbox/_alert_rows.html", context)


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    return target if target.startswith("/inbox/") else reverse("inbox-alerts")


@require_POST
@staff_page
def alert_ack_view(request: HttpRequest, alert_id: int) -> HttpResponse:
    user = staff_user(request)
    alert = alert_selectors.alert_for(user, alert_id)
    form = AckForm(request.POST)
    if not form.is_valid():
        raise Problem(status_code=400, slug="validation", detail=form.errors.as_text(), field="note")
    alert_services.acknowledge_alert(alert=alert, user=user, note=form.cleaned_data["note"])
    return HttpResponseRedirect(_back(request))


@require_POST
@staff_page
def alert_resolve_view(request: HttpRequest, alert_id: int) -> HttpResponse:
    user = staff_user(request)
    alert = alert_selectors.alert_for(user, alert_id)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "inbox/resolve_alert.html",
            {"alert": alert, "form": form, "next": _back(request)},
            status=400,
        )
    alert_services.resolve_alert(alert=alert, user=user, note=form.cleaned_data["note"])
    return HttpResponseRedirect(_back(request))


# --- check-in schedules ----------------------------------------------------------------------


def _create_schedule(case: Case, user: User, form: ScheduleForm) -> None:
    one_off_at = form.one_off_at()
    checkin_services.create_schedule(
        case=case,
        actor=user,
        rrule=form.rrule(),
        at=one_off_at,
        dtstart=None if one_off_at else form.first_start(),
        zone=form.zone,
        window_minutes=form.cleaned_data["window_minutes"],
        grace_minutes=form.cleaned_data["grace_minutes"],
        reminder_minutes=form.cleaned_data["reminder_minutes"],
    )


@require_http_methods(["GET", "POST"])
@staff_page
def schedules_view(request: HttpRequest, case_id: int) -> HttpResponse:
    user = staff_user(request)
    case = case_selectors.case_for_reading(user, case_id)
    form = ScheduleForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            _create_schedule(case, user, form)
        except Problem as problem:
            form.add_error(None, str(problem.detail))
        else:
            return HttpResponseRedirect(reverse("inbox-schedules", args=[case.pk]))
    context = {
        "case": case,
        "form": form,
        "schedules": CheckinSchedule.objects.filter(case=case).order_by("pk"),
        "history": checkin_services.history_for(case)[:50],
    }
    return render(request, "inbox/schedules.html", context, status=400 if form.errors else 200)


@require_POST
@staff_page
def schedule_pause_view(request: HttpRequest, schedule_id: int, *, paused: bool) -> HttpResponse:
    user = staff_user(request)
    schedule = checkin_services.schedule_for(user, schedule_id)
    checkin_services.set_paused(schedule=schedule, actor=user, paused=paused)
    return HttpResponseRedirect(reverse("inbox-schedules", args=[schedule.case_id]))
