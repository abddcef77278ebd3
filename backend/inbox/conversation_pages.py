"""A case's conversation page and its older pages. The case and its newest messages are
read through ``open_case_for_reading`` and older pages through ``messages_after``, so
every staff read is audited exactly as through the API."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from backend.accounts.models import User
from backend.cases import policy
from backend.cases.models import Case, CaseAssignment
from backend.checkins import services as checkin_services
from backend.checkins.models import CheckinSchedule
from backend.crisis import selectors as alert_selectors
from backend.inbox.alert_queue import UNRESOLVED
from backend.inbox.message_rows import messages_html
from backend.inbox.people import display_name
from backend.messaging import selectors as message_selectors
from backend.messaging.models import Conversation
from backend.problems import Problem

PAGE = 50


def _names(case: Case, messages: Iterable[message_selectors.MessagePayload]) -> dict[str, str]:
    """Who wrote what, by user id (a string, as the page's script looks them up): the
    defector by alias, staff by name. Everyone who may write in the conversation now (so
    a live message is named too) and whoever wrote the messages shown."""
    names = {str(case.defector.user_id): case.defector.alias}
    writers = {m["sender"] for m in messages} - {case.defector.user_id}
    for staff in policy.staff_with_access(case) | User.objects.filter(pk__in=writers):
        names[str(staff.pk)] = display_name(staff)
    return names


def _page(user: User, conversation: Conversation, *, before_seq: int) -> list[message_selectors.MessagePayload]:
    """Up to ``PAGE`` messages just before ``before_seq`` (sequence numbers have no gaps)."""
    after_seq = max(0, before_seq - 1 - PAGE)
    limit = before_seq - 1 - after_seq
    if limit < 1:
        return []
    return message_selectors.messages_after(user, conversation, after_seq=after_seq, limit=limit).results


def conversation_page(request: HttpRequest, user: User, case_id: int) -> HttpResponse:
    opened = message_selectors.open_case_for_reading(user, case_id, newest=PAGE)
    case, conversation, messages = opened.case, opened.conversation, opened.newest
    read_markers = message_selectors.read_markers(conversation)
    names = _names(case, messages)
    defector_read_seq = read_markers.get(case.defector.user_id, 0)
    context = {
        "case": case,
        "conversation": conversation,
        "messages_html": messages_html(
            messages, names=names, defector_user_id=case.defector.user_id, defector_read_seq=defector_read_seq
        ),
        "has_messages": bool(messages),
        "names": names,
        "defector_user_id": case.defector.user_id,
        "defector_read_seq": defector_read_seq,
        "my_read_seq": read_markers.get(user.pk, 0),
        "alerts": alert_selectors.case_alerts(case).filter(state__in=UNRESOLVED).order_by("-severity", "pk"),
        "schedules": CheckinSchedule.objects.filter(case=case).order_by("pk"),
        "checkins": checkin_services.history_for(case)[:10],
        "devices": policy.case_devices(case),
        "may_enroll": CaseAssignment.objects.filter(case=case, staff=user).exists(),
        "page": "conversation",
    }
    return render(request, "inbox/conversation.html", context)


def older_messages(request: HttpRequest, user: User, case_id: int) -> HttpResponse:
    """The page of messages before ``?before_seq=N``: what the conversation loads when
    the staff member scrolls to the top."""
    case = policy.require_case_for_staff(user, case_id)
    try:
        before_seq = int(request.GET.get("before_seq", ""))
    except ValueError:
        raise Problem(status_code=400, slug="validation", detail="Must be a number.", field="before_seq") from None
    if not 1 <= before_seq <= case.conversation.last_seq + 1:
        raise Problem(status_code=400, slug="validation", detail="No such message.", field="before_seq")
    messages = _page(user, case.conversation, before_seq=before_seq)
    read_markers = message_selectors.read_markers(case.conversation)
    html = messages_html(
        messages,
        names=_names(case, messages),
        defector_user_id=case.defector.user_id,
        defector_read_seq=read_markers.get(case.defector.user_id, 0),
    )
    return render(request, "inbox/_messages.html", {"messages_html": html})
