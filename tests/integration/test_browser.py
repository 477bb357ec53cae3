"""The pages people open in a browser render there: /docs (Swagger UI) and /ui/.

Uses the machine's Chromium, headless, with no network beyond localhost (the pages
must not need a CDN). Skipped, saying why, where Chromium is not installed
(`apt-get install chromium`).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.integration.webproc import clean_environ, web_process

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=10000"]


def rendered_dom(url: str, profile: str) -> str:
    """The page's DOM after its scripts ran."""
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed on this machine")
def test_docs_and_ui_render_in_chromium(tmp_path, sim, amqp_url):
    env = {**clean_environ(), "OPSCOM_BASE_URL": sim.base_url, "OPSCOM_API_TOKEN": sim.token,
           "AMQP_URL": amqp_url, "DATABASE_URL": f"sqlite:///{tmp_path}/bridge.db",
           "BRIDGE_ADMIN_TOKEN": "admin-token-for-browser"}
    with web_process(env, tmp_path / "web.log", tmp_path) as web:
        docs = rendered_dom(f"{web.base_url}/docs", str(tmp_path / "profile-docs"))
        login = rendered_dom(f"{web.base_url}/ui/", str(tmp_path / "profile-ui"))
    # Swagger UI built the page from /openapi.json: its operations are in the DOM
    assert 'class="swagger-ui' in docs
    assert "/webhooks/standard" in docs
    assert "/admin/dead-letters" in docs
    # the operations pages answer with their sign-in form
    assert "<form" in login and "password" in login.lower()
