"""What makes a staff session good enough for the inbox: the one check behind the inbox
pages, the staff API's session authentication and the inbox's WebSocket."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device as OtpDevice

from backend.accounts.models import User
from backend.accounts.services import staff_session_ends_at


def verified_staff_session(
    user: AbstractBaseUser | AnonymousUser, session: SessionBase, *, now: datetime
) -> datetime | None:
    """When ``session`` stops being accepted, if it is a verified staff session; else None.

    ``user`` is whom the session authenticates (Django's ``request.user``, or Channels'
    ``channels.auth.get_user`` on a socket). Verified means: an active staff member, who
    confirmed a second factor in this session (django-otp's rule: the session names a
    confirmed device of this user), and a session younger than ``LIVLINA_SESSION_MAX_AGE``
    since that login, however active it has been."""
    if not isinstance(user, User) or not user.is_active or not user.is_staff_member:
        return None
    ends_at = staff_session_ends_at(session)
    if ends_at is None or now >= ends_at:
        return None
    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    second_factor = _session_device(user, persistent_id) if persistent_id else None
    if second_factor is None or second_factor.user_id != user.pk or not second_factor.confirmed:
        return None
    return ends_at


def _session_device(user: User, persistent_id: str) -> OtpDevice | None:
    """The second factor the session names. django-otp's middleware has read it for this
    request already when the request came through it (``user.otp_device``, the same row);
    a socket's user was not, and reads it here."""
    read_this_request = getattr(user, "otp_device", None)
    if isinstance(read_this_request, OtpDevice) and read_this_request.persistent_id == persistent_id:
        return read_this_request
    return OtpDevice.from_persistent_id(persistent_id)
