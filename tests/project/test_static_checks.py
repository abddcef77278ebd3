"""Static checks that run with the tests: bandit over backend/ with no medium or high
finding, and the dependency audit's verdict (.ci/dependency_audit.py), which must never
call an audit that reached no advisory source clean. (``check --deploy`` in production
mode: tests/project/test_settings.py.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BANDIT = shutil.which("bandit", path=str(Path(sys.executable).parent))

needs_bandit = pytest.mark.skipif(BANDIT is None, reason="bandit is in the dev extra; not installed here")


def bandit_findings(target: Path) -> list[dict]:
    assert BANDIT is not None
    result = subprocess.run(
        [BANDIT, "-q", "-r", str(target), "-f", "json"], capture_output=True, text=True, timeout=300, check=False
    )
    report = json.loads(result.stdout)
    assert not report["errors"], report["errors"]
    return report["results"]


@needs_bandit
def test_bandit_finds_no_medium_or_high_issue_in_the_backend():
    findings = [f for f in bandit_findings(ROOT / "backend") if f["issue_severity"] in {"MEDIUM", "HIGH"}]
    assert findings == [], [(f["filename"], f["line_number"], f["test_id"], f["issue_text"]) for f in findings]


@needs_bandit
def test_bandit_would_see_one(tmp_path):
    (tmp_path / "bad.py").write_text("import subprocess\n\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n")
    assert {f["issue_severity"] for f in bandit_findings(tmp_path)} & {"MEDIUM", "HIGH"}


def audit(tmp_path: Path, dependencies: list[dict]) -> subprocess.CompletedProcess[str]:
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"dependencies": dependencies, "fixes": []}))
    return subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "dependency_audit.py"), "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


OFFLINE = {"name": "django", "version": "5.2", "skip_reason": "Dependency not found on PyPI and could not be audited"}
AUDITED = {"name": "django", "version": "5.2", "vulns": []}


def test_an_audit_that_reached_no_advisory_source_says_so_and_is_not_clean(tmp_path):
    for dependencies in ([OFFLINE, OFFLINE | {"name": "redis"}], [AUDITED, OFFLINE], []):
        result = audit(tmp_path, dependencies)
        assert result.returncode == 2
        assert "NOT DONE" in result.stdout and "no known vulnerability" not in result.stdout


def test_an_audit_names_known_vulnerabilities_and_fails(tmp_path):
    vulnerable = {"name": "redis", "version": "1.0", "vulns": [{"id": "PYSEC-1", "fix_versions": []}]}
    result = audit(tmp_path, [AUDITED, vulnerable])
    assert result.returncode == 1
    assert "redis 1.0: PYSEC-1" in result.stdout


def test_a_complete_audit_without_findings_is_clean(tmp_path):
    result = audit(tmp_path, [AUDITED])
    assert result.returncode == 0
    assert "1 packages audited, no known vulnerability" in result.stdout
