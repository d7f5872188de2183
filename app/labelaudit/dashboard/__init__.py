"""The built-in dashboard: static HTML, CSS and vanilla JavaScript under ``static/`` that read the /v1 API.

No build step and nothing from a CDN: the pages are committed as they are served,
and the charts are hand-written SVG (``static/charts.js``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"

router = APIRouter(prefix="/dashboard", include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("")
def audits_page() -> FileResponse:
    """The audits list."""
    return _page("index.html")


@router.get("/")
def audits_page_slash() -> RedirectResponse:
    return RedirectResponse("/dashboard")


@router.get("/audits/{audit_id}")
def audit_page(audit_id: str) -> FileResponse:
    """One audit: progress while it runs; summary, charts and the issue browser when done."""
    return _page("audit.html")


@router.get("/new")
def new_audit_page() -> FileResponse:
    """Upload a dataset (or pick one), optionally derive a noisy copy, and start an audit."""
    return _page("new.html")


@router.get("/compare")
def compare_page() -> FileResponse:
    """Two audits side by side (``?base=au_...&other=au_...``)."""
    return _page("compare.html")


def install(app: FastAPI) -> None:
    """Serve the dashboard pages at ``/dashboard`` and their assets at ``/dashboard/static``."""
    app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
