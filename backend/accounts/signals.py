"""What accounts announces to the apps above it.

Accounts sits below cases, so it cannot look up which case a defector's device belongs
to; when the audit entry of a revocation must be filed under that case, it sends this
signal inside the revoking transaction and the cases app (which knows) writes the entry.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent by ``accounts.services`` inside the transaction that revoked a device (tokens
# deleted, push token dropped), with ``device``, ``actor`` (None when the server revoked
# it, e.g. for a reused refresh token), ``action`` ("device.revoked" or
# "device.refresh_reuse") and ``reason`` for the audit log. Receivers write in that
# transaction: ``cases.services.audit_device_revocation``.
device_revoked = Signal()
