"""Create the benchmark's people and devices through Livlina's own services; print JSON.

For each pair ``i``: a contact person ``bench-staff-<i>`` (so each staff socket gets only
its own pair's messages, as in real life), a case opened for them, the defector's app
enrolled with a one-time code (``enroll_device``), and the contact person's phone with a
token pair. Staff phones normally enroll with password + TOTP over the API; here the
Device row and ``issue_token_pair`` are used directly (same tokens, no TOTP dance).

Run by ``messaging_bench.py`` as ``python bench/bench_setup.py N [--push-tokens]`` with
the benchmark's environment (DJANGO_SETTINGS_MODULE=bench.livlina_settings).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.livlina_settings")

import django  # noqa: E402

django.setup()

import nacl.public  # noqa: E402
import nacl.signing  # noqa: E402
from django.conf import settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from backend.accounts import services as account_services  # noqa: E402
from backend.accounts.models import Device, Programme, StaffRole, User  # noqa: E402
from backend.administration.services import open_case  # noqa: E402
from backend.cases import enrollment  # noqa: E402


def _keys(name: str, push_token: str) -> account_services.DeviceKeys:
    signing = nacl.signing.SigningKey.generate()
    box = nacl.public.PrivateKey.generate()
    return account_services.DeviceKeys(
        name=name,
        platform="android",
        signing_key=base64.b64encode(bytes(signing.verify_key)).decode(),
        box_key=base64.b64encode(bytes(box.public_key)).decode(),
        push_token=push_token,
    )


def _on_duty_around_the_clock(staff: User) -> None:
    """The bench's staff never read, so outside working hours every defector message
    would raise an "unanswered" alert at once (messaging.unanswered). Real contact persons
    read within the limit; keep the bench on the messaging path by putting its staff at
    work all day, every day. Skipped where the crisis app has no working hours."""
    try:
        from backend.crisis.models import WorkingHours
    except ImportError:
        return
    WorkingHours.objects.update_or_create(
        user=staff,
        defaults={"weekdays": [1, 2, 3, 4, 5, 6, 7], "start": dt.time(0, 0), "end": dt.time.max},
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pairs", type=int)
    parser.add_argument("--push-tokens", action="store_true", help="give every device a push token")
    parser.add_argument(
        "--off-duty", action="store_true", help="leave staff on default working hours (alerts at night)"
    )
    args = parser.parse_args()

    # Long enough for setup + both phases, whatever the run length.
    settings.LIVLINA_ACCESS_TOKEN_TTL = timedelta(hours=2)
    programme, _ = Programme.objects.get_or_create(name="Bench programme")
    pairs = []
    for i in range(args.pairs):
        staff = User(username=f"bench-staff-{i}", kind=User.Kind.STAFF, first_name="Bench", last_name=str(i))
        staff.set_unusable_password()
        staff.save()
        StaffRole.objects.create(user=staff, programme=programme, role=StaffRole.Role.CONTACT_PERSON)
        case = open_case(programme=programme, alias=f"Bench {i}", primary_contact=staff, actor=staff)
        code, _ = enrollment.create_enrollment_code(case=case, created_by=staff)
        push = f"bench-push-defector-{i}" if args.push_tokens else ""
        _, defector_tokens, _ = enrollment.enroll_device(code=code, keys=_keys("Bench phone", push))
        staff_keys = _keys("Staff phone", f"bench-push-staff-{i}" if args.push_tokens else "")
        staff_device = Device.objects.create(
            user=staff,
            name=staff_keys.name,
            platform=staff_keys.platform,
            signing_key=staff_keys.signing_key,
            box_key=staff_keys.box_key,
            push_token=staff_keys.push_token,
        )
        staff_tokens = account_services.issue_token_pair(staff_device, now=timezone.now())
        if not args.off_duty:
            _on_duty_around_the_clock(staff)
        pairs.append(
            {
                "pair": i,
                "case": case.pk,
                "conversation": case.conversation.pk,
                "defector_token": defector_tokens.access_token,
                "staff_token": staff_tokens.access_token,
            }
        )
    json.dump({"pairs": pairs}, sys.stdout)


if __name__ == "__main__":
    main()
