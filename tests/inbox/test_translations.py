"""Every word the inbox shows has its Swedish translation: the strings are extracted
from the inbox's code and templates exactly as Django's ``makemessages`` does, and each
must be in the committed ``sv`` catalogue, translated and not marked fuzzy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
INBOX = ROOT / "backend" / "inbox"
CATALOGUE = INBOX / "locale" / "sv" / "LC_MESSAGES" / "django.po"


def _extracted(tmp_path: Path) -> polib.POFile:
    """The inbox's strings as makemessages finds them, in a copy of the app (so the
    committed catalogue is never rewritten)."""
    if shutil.which("xgettext") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide GNU gettext (apt-get install -y gettext)")
        pytest.skip("needs GNU gettext's xgettext: apt-get install -y gettext")
    copy = tmp_path / "inbox"
    shutil.copytree(INBOX, copy, ignore=shutil.ignore_patterns("locale", "node_modules", "__pycache__", "*.mo"))
    (copy / "locale").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "backend.settings"}
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "--locale", "sv", "--no-location", "--no-wrap"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
    )
    return polib.pofile(str(copy / "locale" / "sv" / "LC_MESSAGES" / "django.po"))


def _key(entry: polib.POEntry) -> tuple[str, str]:
    return entry.msgctxt or "", entry.msgid


def test_every_inbox_string_has_a_swedish_translation(tmp_path):
    extracted = _extracted(tmp_path)
    assert len(extracted) > 100, "makemessages found too little: is the extraction looking in the right place?"
    catalogue = {_key(entry): entry for entry in polib.pofile(str(CATALOGUE)) if not entry.obsolete}
    missing = [entry.msgid for entry in extracted if _key(entry) not in catalogue]
    untranslated = [
        key[1]
        for key in (_key(entry) for entry in extracted)
        if key in catalogue and (not catalogue[key].translated() or "fuzzy" in catalogue[key].flags)
    ]
    assert missing == [], f"strings without a Swedish entry in {CATALOGUE.relative_to(ROOT)}: {missing}"
    assert untranslated == [], f"strings with an empty or fuzzy Swedish translation: {untranslated}"


def test_the_catalogue_holds_no_entry_twice():
    """A duplicate msgid makes the compiled catalogue pick one at random."""
    keys = [_key(entry) for entry in polib.pofile(str(CATALOGUE))]
    assert len(keys) == len(set(keys))
