"""The CRM data page: in a real browser (sort, pick, search, download links), and behind Airflow's login (401/403)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from airflow_fixtures import airflow_env, airflow_home  # noqa: F401 - fixtures
from coverage_data import WEEK, build
from digest.config import Settings
from digest.pipeline import coverage
from digest.weeks import IsoWeek

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--mute-audio")
# Test-only: drive the page like a user, then write what it shows into an <output> that --dump-dom prints.
PROBE = """<script>window.addEventListener('load', function () {
  function texts(sel) { return Array.prototype.map.call(document.querySelectorAll(sel), function (e) { return e.textContent.trim(); }); }
  var out = {};
  var th = document.querySelectorAll('#attributes th')[4];  // coverage
  th.click(); out.coverage_up = texts('#attributes tbody tr td:nth-child(5)');
  th.click(); out.coverage_down = texts('#attributes tbody tr td:nth-child(5)');
  var picker = document.getElementById('top-picker'); picker.value = 'contacts.ContactsAccountId';
  picker.dispatchEvent(new Event('change')); out.picked = texts('#top-values tbody td:first-child');
  var sort = document.getElementById('top-sort'); sort.value = 'value'; sort.dispatchEvent(new Event('change'));
  out.by_value = texts('#top-values tbody td:first-child');
  var search = document.getElementById('top-search'); search.value = 'a9'; search.dispatchEvent(new Event('input'));
  out.searched = texts('#top-values tbody tr');
  out.downloads = Array.prototype.map.call(document.querySelectorAll('a.download'), function (a) { return a.getAttribute('href'); });
  out.svgs = document.querySelectorAll('svg').length;
  var o = document.createElement('output'); o.id = 'probe'; o.textContent = JSON.stringify(out); document.body.appendChild(o);
});</script></body>"""


def _computed(tmp_path, settings: Settings) -> Settings:
    s = settings.replace("data", folder=str(tmp_path / "data"), store=str(tmp_path / "store"))
    build(tmp_path / "data")
    coverage(s, IsoWeek.parse(WEEK))
    return s


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed: run `make system-deps` (scripts/system-deps.sh)")
def test_the_page_sorts_picks_searches_and_links_the_downloads(tmp_path):
    from digest.airflow.crm_page import read_crm_page
    from digest.airflow.pages import render_page

    base = Settings().replace("runs", folder=str(tmp_path / "runs")).replace("airflow", upload_inbox=str(tmp_path / "inbox"))
    s = _computed(tmp_path, base)
    html = render_page("admin_crm.html.j2", page=read_crm_page(s))
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html), "the page loads something from elsewhere (no CDN)"
    page = tmp_path / "crm.html"
    page.write_text(html.replace("</body>", PROBE, 1), encoding="utf-8")
    result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                             "--virtual-time-budget=5000", page.as_uri()], capture_output=True, text=True, timeout=90, check=False)
    found = re.search(r'<output id="probe">(.*?)</output>', result.stdout, re.S)
    assert found, result.stderr[-2000:]
    out = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    up = [float(v.rstrip(" %")) for v in out["coverage_up"]]
    assert up == sorted(up) and out["coverage_down"] == out["coverage_up"][::-1]
    assert out["picked"] == ["A1", "A2", "A9"] and out["by_value"] == ["A1", "A2", "A9"]
    assert out["searched"] == ["A91"]  # value A9, 1 row
    assert "crm/files/contacts_not_associated.csv" in out["downloads"] and "crm/files/accounts.csv" in out["downloads"]
    assert out["svgs"] >= 3  # external collaborators, collaborators matched, collaboration time


@pytest.mark.airflow
def test_page_and_downloads_behind_the_login(tmp_path, airflow_env):  # noqa: F811
    from airflow.api_fastapi.app import create_app, get_auth_manager, purge_cached_app
    from fastapi.testclient import TestClient

    from digest.airflow.home import AirflowHome

    _computed(tmp_path, airflow_env.settings)
    purge_cached_app()
    with TestClient(create_app(), base_url="http://127.0.0.1") as client:
        assert client.get("/seller-digest/crm").status_code == 401
        assert client.get("/seller-digest/crm/files/accounts.csv").status_code == 401
        password = AirflowHome(airflow_env.root).admin_password()
        token = client.post("/auth/token", json={"username": "admin", "password": password}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        page = client.get("/seller-digest/crm", headers=auth)
        assert page.status_code == 200 and "Data is not associated" in page.text and "Fabrikam" in page.text
        csv = client.get("/seller-digest/crm/files/accounts.csv", headers=auth)
        assert csv.status_code == 200 and csv.text.startswith("AccountId,AccountName,TotalCollaboratorCount")
        assert "attachment" in csv.headers["content-disposition"]
        assert client.get("/seller-digest/crm/files/coverage.json", headers=auth).status_code == 404
        assert client.get("/seller-digest/crm/files/..%2Fcards.jsonl", headers=auth).status_code == 404
        manager = get_auth_manager()
        original = manager.is_authorized_custom_view
        manager.is_authorized_custom_view = lambda **kw: False  # an auth manager that does not allow this user
        try:
            assert client.get("/seller-digest/crm", headers=auth).status_code == 403
            assert client.get("/seller-digest/crm/files/accounts.csv", headers=auth).status_code == 403
        finally:
            manager.is_authorized_custom_view = original
    purge_cached_app()
