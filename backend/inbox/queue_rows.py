"""The work queue's rows as HTML, built here rather than in a template: the queue shows
every case at once (200 for a busy contact person) and is fetched again on every live
change, and Django's template engine spent more on 200 rows than all the queries behind
them. Every value is escaped by ``format_html``."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from backend.inbox.templatetags.inbox_format import (
    age,
    alert_kind,
    alert_state,
    iso,
    local_datetime,
    open_until,
    unread_label,
)
from backend.inbox.templatetags.inbox_format import severity as severity_label
from backend.inbox.work_queue import QueueRow

EN_DASH = "\u2013"  # "nothing here" in a table cell
DASH = format_html('<span class="muted">{}</span>', EN_DASH)


def _alert_cell(row: QueueRow) -> SafeString:
    if row.alert is None:
        return DASH
    state = ""
    if row.alert.state == "acknowledged":
        state = format_html(' <span class="muted">({})</span>', alert_state(row.alert.state).lower())
    return format_html(
        '<span class="pill severity-{}">{}</span> {}{}',
        row.alert.severity,
        severity_label(row.alert.severity),
        alert_kind(row.alert.kind),
        state,
    )


def _checkin_cell(row: QueueRow) -> SafeString:
    checkin = row.checkin
    if checkin.open_until:
        text = format_html("{}", open_until(checkin.open_until))
    elif checkin.next_due_at:
        text = format_html("{}", local_datetime(checkin.next_due_at))
    else:
        text = format_html('<span class="muted">{}</span>', _("none planned"))
    if checkin.last_status == "missed":
        text = format_html('{} <span class="pill severity-high">{}</span>', text, _("last one missed"))
    return text


def _row(row: QueueRow, labels: tuple[str, ...]) -> SafeString:
    unread = (
        format_html('<span class="count" aria-label="{}">{}</span>', unread_label(row.unread), row.unread)
        if row.unread
        else format_html('<span class="muted">{}</span>', 0)
    )
    waiting = (
        format_html(
            '<time datetime="{}" title="{}">{}</time>',
            iso(row.waiting_since),
            local_datetime(row.waiting_since),
            age(row.waiting_since),
        )
        if row.waiting_since
        else DASH
    )
    severity_class = f" severity-{row.alert.severity}" if row.alert else ""
    cells = (_alert_cell(row), unread, waiting, _checkin_cell(row), row.primary_contact or EN_DASH)
    return format_html(
        '<tr data-testid="queue-row" data-case-id="{}" class="group-{}{}">'
        '<th scope="row"><a href="{}">{}</a></th>{}</tr>',
        row.case.pk,
        row.group,
        severity_class,
        reverse("inbox-case", args=[row.case.pk]),
        row.case.defector.alias,
        format_html_join("", '<td data-label="{}">{}</td>', zip(labels, cells, strict=True)),
    )


def queue_rows_html(rows: list[QueueRow]) -> SafeString:
    if not rows:
        return format_html('<tr><td colspan="6">{}</td></tr>', _("You are not on any case."))
    labels = (_("Alert"), _("Unread"), _("Waiting since"), _("Check-in"), _("Contact person"))
    return format_html_join("\n", "{}", ((_row(row, labels),) for row in rows))
