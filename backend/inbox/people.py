"""How the inbox names staff members."""

from __future__ import annotations

from backend.accounts.models import User


def display_name(user: User) -> str:
    return user.get_full_name() or user.username
