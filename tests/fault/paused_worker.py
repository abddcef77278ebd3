"""``manage.py run_worker`` that holds every claimed batch of escalation steps for the
given seconds before running it, so a fault test can kill it mid-step. The pause is
wrapped around ``crisis.engine.run_steps`` here, not built into the engine.

Run from the repository root: ``python -m tests.fault.paused_worker SECONDS``."""

from __future__ import annotations

import os
import sys
import time

import django


def main() -> None:
    pause = float(sys.argv[1])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    django.setup()
    from django.core.management import call_command

    from backend.crisis import engine

    run_steps = engine.run_steps

    def run_steps_after_a_pause(alert_ids: list[int], **kwargs: object) -> int:
        if alert_ids:
            time.sleep(pause)
        return run_steps(alert_ids, **kwargs)  # type: ignore[arg-type]

    engine.run_steps = run_steps_after_a_pause  # type: ignore[assignment]
    call_command("run_worker")


if __name__ == "__main__":
    main()
