"""Audit the installed dependencies with pip-audit, and say plainly when that was not
possible: pip-audit prints "No known vulnerabilities found" even when it could reach no
advisory source and audited nothing (every package "skipped"), which must never read as
a clean result.

Exit status: 0 every dependency audited, none vulnerable; 1 a known vulnerability;
2 not (fully) audited, the advisory source unreachable. ``--report FILE`` reads a
``pip-audit -f json`` report instead of running pip-audit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CLEAN, VULNERABLE, NOT_AUDITED = 0, 1, 2


def verdict(report: dict) -> tuple[int, str]:
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if "skip_reason" in d]
    if vulnerable:
        lines = [f"  {d['name']} {d.get('version', '')}: {', '.join(v['id'] for v in d['vulns'])}" for d in vulnerable]
        return VULNERABLE, "dependency audit: KNOWN VULNERABILITIES\n" + "\n".join(lines)
    if not dependencies or skipped:
        return NOT_AUDITED, (
            f"dependency audit: NOT DONE - {len(skipped)} of {len(dependencies)} packages could not be audited "
            "(advisory source unreachable?); this is not a clean result. First reason: "
            + (skipped[0]["skip_reason"] if skipped else "pip-audit reported no packages")
        )
    return CLEAN, f"dependency audit: {len(dependencies)} packages audited, no known vulnerability"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--report"]:
        report = json.loads(Path(argv[1]).read_text())
    else:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip_audit",
                "--local",
                "--progress-spinner",
                "off",
                "--timeout",
                "15",
                "-f",
                "json",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            report = json.loads(run.stdout)
        except ValueError:
            print(f"dependency audit: NOT DONE - pip-audit failed: {run.stderr.strip()[-500:]}")
            return NOT_AUDITED
    status, message = verdict(report)
    print(message)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
