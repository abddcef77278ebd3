"""bench/scan_versus.py: two versions' scanners run side by side (no timing is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_version_against_itself_flags_the_same_messages():
    run = subprocess.run(
        [sys.executable, "bench/scan_versus.py", "HEAD", "--rounds", "2", "--messages", "300", "--extra", "20"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    flagged = re.findall(r"msg/s best of 2 \((\d+) messages flagged\)", run.stdout)
    assert len(flagged) == 2, run.stdout
    assert flagged[0] == flagged[1] != "0"
    assert re.search(r"this checkout against HEAD: \d+\.\d\dx the time", run.stdout)
    assert re.search(r"median of the rounds' ratios: \d+\.\d\dx", run.stdout)
