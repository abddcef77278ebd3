"""What every inbox page shares: its language, its time zone, its Content-Security-Policy,
and (for every page but the login) a verified staff session."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from typing import Any

from csp.constants import NONE, SELF
from csp.decorators import csp_replace
from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation

from backend.accounts.models import User
from backend.accounts.sessions import verified_staff_session
from backend.inbox.language import language_for
from backend.problems import Problem

View = Callable[..., HttpResponseBase]

# No inline script or style anywhere: the pages load one stylesheet and one ES module
# from /static/, and talk only to this host (REST and the WebSocket; CSP Level 3 lets
# 'self' cover ws:// and wss:// of the same host).
INBOX_POLICY = {
    "default-src": [SELF],
    "script-src": [SELF],
    "style-src": [SELF],
    "img-src": [SELF, "data:"],
    "connect-src": [SELF],
    "form-action": [SELF],
    "base-uri": [NONE],
    "object-src": [NONE],
    "frame-ancestors": [NONE],
}


def inbox_page(view: View) -> View:
    """The page in the reader's language and the inbox's time zone, under the inbox's
    policy. ``override``, not ``activate``: nothing may leak to the next request served
    on this thread."""

    @csp_replace(INBOX_POLICY)
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        with translation.override(language_for(request)), timezone.override(settings.LIVLINA_INBOX_TIME_ZONE):
            response = view(request, *args, **kwargs)
            # Rendered here, while the language and zone are still in force.
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
            return response

    return wrapper


def staff_page(view: View) -> View:
    """No page but the login works without a password, a verified second factor, and a
    session younger than the absolute limit. A ``Problem`` raised by a selector or service
    (a case the staff member may not see, a note that is too long) is shown as a page."""

    @inbox_page
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if verified_staff_session(request.user, request.session, now=timezone.now()) is None:
            logout(request)
            return HttpResponseRedirect(f"{reverse('inbox-login')}?next={request.path}")
        try:
            return view(request, *args, **kwargs)
        except Problem as problem:
            return problem_page(request, problem)

    return wrapper


def staff_user(request: HttpRequest) -> User:
    """The signed-in staff member (``staff_page`` has checked the session)."""
    assert isinstance(request.user, User)
    return request.user


def problem_page(request: HttpRequest, problem: Problem) -> HttpResponse:
    """A case, alert or device the staff member may not see looks exactly like one that
    does not exist."""
    if problem.status_code == HTTPStatus.NOT_FOUND:
        return render(request, "inbox/not_found.html", status=404)
    return render(request, "inbox/error.html", {"detail": problem.detail}, status=problem.status_code)
