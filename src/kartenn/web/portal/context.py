"""What every portal page needs: the templates, the built assets, the language, the caller.

>>> page(request, site, "home.html", datasets=[])   # doctest: +SKIP
<HTMLResponse 200>
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from kartenn.errors import InvalidInput
from kartenn.web.deps import base_url
from kartenn.web.portal.i18n import LANGUAGES, STRINGS, pick_language, translator

WEB = Path(__file__).resolve().parents[1]
STATIC = WEB / "static"
LANG_COOKIE = "lang"

templates = Jinja2Templates(directory=WEB / "templates")


@lru_cache(maxsize=1)
def _manifest(stamp: float) -> dict[str, str]:
    path = STATIC / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def asset(name: str) -> str:
    """The URL of a built front-end file: ``asset("portal.js")`` → ``/static/portal-3FZ2K.js``."""
    path = STATIC / "manifest.json"
    built = _manifest(path.stat().st_mtime if path.exists() else 0.0)
    return f"/static/{built.get(name, name)}"


def language(request: Request) -> str:
    """``?lang=`` first, then the language chosen before (cookie), then the browser's."""
    asked = request.query_params.get("lang")
    if asked is not None and asked not in LANGUAGES:
        raise InvalidInput(f"lang must be one of {', '.join(LANGUAGES)}", locator="lang")
    asked = asked or request.cookies.get(LANG_COOKIE)
    return pick_language(request.headers.get("accept-language"), asked)


def switch_href(request: Request, lang: str) -> str:
    """The current page in the other language."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", lang)]
    return f"{request.url.path}?{urlencode(query)}"


def base_values(request: Request, title: str, identity: Any, lang: str, next_path: str | None = None) -> dict[str, Any]:
    """What base.html needs on every page: language, header (menu, language switch, who is logged in), CSRF.

    ``next_path``: where the header's login link and language switch lead back to (the auth pages pass theirs).
    """
    other = "en" if lang == "fr" else "fr"
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    switch = switch_href(request, other) if next_path is None else \
        f"{request.url.path}?{urlencode({'lang': other, 'next': next_path})}"
    return {
        "lang": lang, "other": other, "t": translator(lang), "title": title,
        "base": base_url(request), "path": request.url.path,
        "login_next": urlencode({"next": next_path if next_path is not None else path}),
        "switch_href": switch, "user": identity.user, "is_admin": identity.admin,
        "is_editor": identity.admin or any(r in ("editor", "admin") for r in identity.roles.values()),
        "csrf_token": (getattr(request.state, "session", None) or {}).get("csrf", ""), "asset": asset,
        "js_strings": {k: v for k, v in STRINGS[lang].items() if k.startswith("js.")},
    }


def remember_language(request: Request, response: HTMLResponse, lang: str) -> None:
    """A language asked for in the address holds on the next pages (cookie)."""
    if request.query_params.get("lang") in LANGUAGES and request.cookies.get(LANG_COOKIE) != lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")


def page(request: Request, site: Any, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)
    values = {**base_values(request, site.settings.title, site.identity, lang), **context}
    response = templates.TemplateResponse(request, template, values, status_code=status_code,
                                          headers={"Content-Language": lang, "Vary": "Accept-Language, Cookie"})
    remember_language(request, response, lang)
    return response


class StaticAssets(StaticFiles):
    """The built front end: hashed names are cached for a year, the rest (basemap data) for a day."""

    async def get_response(self, path: str, scope: Scope) -> Any:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            hashed = path in set(_manifest_values())
            response.headers["Cache-Control"] = ("public, max-age=31536000, immutable" if hashed
                                                 else "public, max-age=86400")
        return response


def _manifest_values() -> list[str]:
    path = STATIC / "manifest.json"
    return list(_manifest(path.stat().st_mtime if path.exists() else 0.0).values())


def static_files() -> StaticAssets:
    STATIC.mkdir(parents=True, exist_ok=True)
    return StaticAssets(directory=STATIC)
