"""The work queue's rows as HTML, built here rather than in a template: the queue shows
every case at once (200 for a busy contact person) and is fetched again on every live
change, and Django's template engine spent more on 200 rows than all the queries behind
them. Every value is escaped by ``format_html``."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from backend.inbox import labels
from backend.inbox.templatetags.inbox_format import age, iso, local_datetime, open_until, unread_label
from backend.inbox.work_queue import QueueRow

EN_DASH = "\u2013"  # "nothing here" in a table cell
DASH = format_html('<span class="muted">{}</span>', EN_DASH)


class _Words:
    """The labels in the request's language, looked up once per page, not once per row."""

    def __init__(self) -> None:
        self.kinds = {code: str(word) for code, word in labels.ALERT_KINDS.items()}
        self.severities = {code: str(word) for code, word in labels.SEVERITIES.items()}
        self.acknowledged = str(labels.ALERT_STATES["acknowledged"]).lower()
        self.none_planned = _("none planned")
        self.last_missed = _("last one missed")
        self.columns = (_("Alert"), _("Unread"), _("Waiting since"), _("Check-in"), _("Contact person"))


def _alert_cell(row: QueueRow, words: _Words) -> SafeString:
    if row.alert is None:
        return DASH
    state = (
        format_html(' <span class="muted">({})</span>', words.acknowledged) if row.alert.state == "acknowledged" else ""
    )
    return format_html(
        '<span class="pill severity-{}">{}</span> {}{}',
        row.alert.severity,
        words.severities.get(row.alert.severity, row.alert.severity),
        words.kinds.get(row.alert.kind, row.alert.kind),
        state,
    )


def _checkin_cell(row: QueueRow, words: _Words) -> SafeString:
    checkin = row.checkin
    if checkin.open_until:
        text = format_html("{}", open_until(checkin.open_until))
    elif checkin.next_due_at:
        text = format_html("{}", local_datetime(checkin.next_due_at))
    else:
        text = format_html('<span class="muted">{}</span>', words.none_planned)
    if checkin.last_status == "missed":
        text = format_html('{} <span class="pill severity-high">{}</span>', text, words.last_missed)
    return text


def _row(row: QueueRow, words: _Words) -> SafeString:
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
    cells = (_alert_cell(row, words), unread, waiting, _checkin_cell(row, words), row.primary_contact or EN_DASH)
    return format_html(
        '<tr data-testid="queue-row" data-case-id="{}" class="group-{}{}">'
        '<th scope="row"><a href="{}">{}</a></th>{}</tr>',
        row.case_id,
        row.group,
        severity_class,
        reverse("inbox-case", args=[row.case_id]),
        row.alias,
        format_html_join("", '<td data-label="{}">{}</td>', zip(words.columns, cells, strict=True)),
    )


def queue_rows_html(rows: list[QueueRow]) -> SafeString:
    if not rows:
        return format_html('<tr><td colspan="6">{}</td></tr>', _("You are not on any case."))
    words = _Words()
    return format_html_join("\n", "{}", ((_row(row, words),) for row in rows))
