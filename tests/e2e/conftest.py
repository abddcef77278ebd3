"""The browser tests' fixtures, one of each per test module: a live server, Chromium, and
the one-time codes of its demo staff."""

from __future__ import annotations

import os

import pytest

from tests.e2e.browser import CHROMIUM, Authenticator, needs
from tests.e2e.live_server import live_server


@pytest.fixture(scope="module")
def chromium():
    needs("Chromium", CHROMIUM is not None, "apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
            # Date and time inputs follow the browser's own language (from the environment
            # on Linux, with Debian's chromium-l10n), not the page's: Swedish, as staff see them.
            env={**os.environ, "LANG": "sv_SE.UTF-8", "LANGUAGE": "sv"},
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("inbox")) as running:
        yield running


@pytest.fixture(scope="module")
def authenticator() -> Authenticator:
    return Authenticator()
