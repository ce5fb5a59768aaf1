"""Admin pages inside the Airflow UI: run reports per week, upload validation reports, the CRM data page.

A FastAPI app mounted by plugins/seller_digest_plugin.py. Plugin apps are not behind Airflow's
login by default, so every admin route depends on :func:`require_viewer`, which asks Airflow's auth
manager. The unsubscribe pages (digest.airflow.unsubscribe) are the only routes without it. Pages show counts, states and reasons from report files; never a seller's card content
(cards.jsonl and the emails are not read here). What a page shows is shaped in digest.airflow.pages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from digest.airflow.crm_page import coverage_folder, download_names, read_crm_page
from digest.airflow.pages import read_run, render_page
from digest.airflow.unsubscribe import unsubscribe_router
from digest.config import Settings, load_settings
from digest.errors import InputError
from digest.weeks import IsoWeek

RESOURCE_NAME = "SellerDigestAdmin"  # what auth managers see in is_authorized_custom_view
MAX_UPLOAD_REPORTS = 30


def require_viewer(user: GetUserDep) -> Any:
    """Refuse anonymous requests (401, from Airflow's get_user) and users the auth manager does not allow (403)."""
    from airflow.api_fastapi.app import get_auth_manager

    if not get_auth_manager().is_authorized_custom_view(method="GET", resource_name=RESOURCE_NAME, user=user):
        raise HTTPException(status_code=403, detail="Forbidden: your Airflow role may not see the seller-digest admin pages.")
    return user


def create_app() -> FastAPI:
    """The plugin's app: the admin pages (every one requires an authorised Airflow user) and the unsubscribe pages (a token instead)."""
    app = FastAPI(title="seller-digest admin", docs_url=None, redoc_url=None, openapi_url=None)
    admin = APIRouter(dependencies=[Depends(require_viewer)])

    @admin.get("/", response_class=HTMLResponse)
    def index() -> str:
        settings = load_settings()
        return _page("admin_index.html.j2", runs=list_runs(settings), uploads=list_upload_reports(settings))

    @admin.get("/runs/{week}", response_class=HTMLResponse)
    def run_page(week: str) -> str:
        settings = load_settings()
        return _page("admin_run.html.j2", run=read_run(settings, _week(week)))

    @admin.get("/uploads/{name}", response_class=HTMLResponse)
    def upload_page(name: str) -> str:
        settings = load_settings()
        known = {r["name"]: r for r in list_upload_reports(settings)}
        if name not in known:  # only names from the listing: no path from the request reaches the disk
            raise HTTPException(status_code=404, detail=f"no upload report named {name!r}")
        return _page("admin_upload.html.j2", upload=known[name])

    @admin.get("/crm", response_class=HTMLResponse)
    def crm_page() -> str:
        return _page("admin_crm.html.j2", page=read_crm_page(load_settings()))

    @admin.get("/crm/files/{name}")
    def crm_file(name: str) -> FileResponse:
        folder = coverage_folder(load_settings())
        if name not in download_names() or folder is None or not (folder / name).is_file():
            raise HTTPException(status_code=404, detail=f"no CRM data download named {name!r}")  # known names only
        return FileResponse(folder / name, media_type="text/csv; charset=utf-8", filename=name)

    app.include_router(admin)
    app.include_router(unsubscribe_router())  # no Airflow login: sellers have none; the link's token says who
    return app


def _page(template: str, **values: Any) -> str:
    return render_page(template, **values)


def _week(text: str) -> IsoWeek:
    try:
        return IsoWeek.parse(text)
    except InputError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


def list_runs(settings: Settings) -> list[dict[str, Any]]:
    """Every week with a run folder, newest first, with the headline counts of its report."""
    root = Path(settings.runs.folder)
    weeks = []
    for folder in sorted(root.iterdir() if root.is_dir() else [], reverse=True):
        try:
            week = IsoWeek.parse(folder.name)
        except InputError:
            continue
        weeks.append(read_run(settings, week))
    return weeks


def list_upload_reports(settings: Settings) -> list[dict[str, Any]]:
    """The latest upload validation reports written by the crm_upload DAG, newest first."""
    from digest.airflow.uploads import reports_folder

    folder = reports_folder(settings)
    files = sorted(folder.glob("*.json"), reverse=True)[:MAX_UPLOAD_REPORTS] if folder.is_dir() else []
    out = []
    for f in files:
        doc = json.loads(f.read_text(encoding="utf-8"))
        out.append({"name": f.stem, **doc})
    return out
