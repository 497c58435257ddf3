"""Jinja2 environment for server-rendered pages: Markdown, dates and the CSRF token."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markupsafe import Markup

from prequel import __version__
from prequel.auth.csrf import FORM_FIELD, csrf_token

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def render_markdown(text: str) -> Markup:
    """CommonMark with tables; raw HTML in the source is escaped, never rendered."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    return Markup(md.render(text))  # noqa: S704 - html=False escapes raw HTML in the source


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M UTC")


# The same names and tones as static/js/lib/status.js, for server-rendered pages.
STATUS_LABELS: dict[str, dict[str, str]] = {
    "scheduled": {"label": "Scheduled", "tone": "info", "icon": "◷"},
    "invited": {"label": "Invited", "tone": "info", "icon": "✉"},
    "activated": {"label": "Starting", "tone": "progress", "icon": "◌"},
    "initializing": {"label": "Initializing", "tone": "progress", "icon": "◌"},
    "configuring": {"label": "Configuring", "tone": "progress", "icon": "◌"},
    "active": {"label": "Active", "tone": "ok", "icon": "●"},
    "destroying": {"label": "Saving work", "tone": "progress", "icon": "◌"},
    "destroyed": {"label": "Ended", "tone": "neutral", "icon": "■"},
    "error": {"label": "Error", "tone": "danger", "icon": "!"},
}
END_REASON_LABELS = {
    "time_up": "Time up",
    "ended_by_interviewer": "Ended by interviewer",
    "revoked": "Revoked",
    "submitted": "Submitted",
    "expired": "Expired",
    "failed": "Failed",
}


def _page_context(request: Request) -> dict[str, Any]:
    token = csrf_token(request.session) if "session" in request.scope else ""
    return {
        "csrf_token": token,
        "csrf_field": FORM_FIELD,
        "principal": getattr(request.state, "principal", None),
        "app_version": __version__,
    }


def create_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=TEMPLATES_DIR, context_processors=[_page_context])
    templates.env.filters["markdown"] = render_markdown
    templates.env.filters["datetime"] = format_datetime
    templates.env.globals["status_labels"] = STATUS_LABELS
    templates.env.globals["end_reason_labels"] = END_REASON_LABELS
    return templates
