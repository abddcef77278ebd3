"""A conversation's messages as HTML, built here rather than in a template, for the
reason the queue's rows are (``queue_rows``): the conversation page opens with 50 of
them and every older page brings 50 more, and Django's template engine spent more on
them than on everything else the page shows.

Every value that is not a number passes through ``html.escape`` (quotes too) before it
is placed, so the result may be marked safe once, as a whole. Each message's markup is
the one ``static/inbox/inbox.js`` builds for a message that arrives live."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from backend.inbox.templatetags.inbox_format import local_datetime
from backend.messaging.selectors import MessagePayload


class _Words:
    """The page's words and names, looked up and escaped once per page."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = {user_id: escape(name) for user_id, name in names.items()}
        self.staff = escape(_("Staff"))
        self.read = escape(_("Read"))
        self.erased = f"<em>{escape(_('(content erased)'))}</em>"
        self.show_older = escape(_("Show older messages"))


def _message(m: MessagePayload, words: _Words, *, defector_user_id: int, defector_read_seq: int) -> str:
    seq, sender = int(m["seq"]), int(m["sender"])
    if sender == defector_user_id:
        side, receipt = "from-defector", ""
    else:
        side, receipt = "from-staff", f' <span class="receipt">{words.read if seq <= defector_read_seq else ""}</span>'
    who = words.names.get(str(sender), words.staff)
    body = escape(m["body"]) if m["body"] else words.erased
    return (
        f'\n<li data-testid="conversation-message" data-seq="{seq}" data-client-id="{escape(m["client_id"])}" '
        f'data-sender="{sender}" class="message {side}">\n'
        f'  <div class="meta"><span class="who">{who}</span> <time datetime="{escape(m["created_at"])}">'
        f"{escape(local_datetime(m['created_at']))}</time>{receipt}</div>\n"
        f'  <p class="body">{body}</p>\n</li>'
    )


def messages_html(
    messages: Sequence[MessagePayload],
    *,
    names: Mapping[str, str],
    defector_user_id: int,
    defector_read_seq: int,
) -> SafeString:
    """``messages`` in seq order, after a "Show older messages" button when there are
    older ones (sequence numbers have no gaps); a staff message shows "Read" once the
    defector has read up to it."""
    words = _Words(names)
    parts = []
    if messages and messages[0]["seq"] > 1:
        parts.append(
            f'<li class="older" data-older-before="{int(messages[0]["seq"])}"><button type="button" class="link" '
            f"data-load-older>{words.show_older}</button></li>"
        )
    parts.extend(
        _message(m, words, defector_user_id=defector_user_id, defector_read_seq=defector_read_seq) for m in messages
    )
    # Safe: every value in every message was escaped above.
    return mark_safe("".join(parts))  # noqa: S308  # nosec B308 B703
