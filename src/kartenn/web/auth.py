"""Log in and out in the browser: local accounts, OpenID Connect (authorization code with PKCE), sign-up
requests that an administrator approves.

- ``GET /auth/login?next=/path`` shows the form (and "log in with" the provider when one is configured);
  ``POST /auth/login`` checks the password, opens a session and goes back to ``next`` (a path on this site
  only: never an open redirect).
- ``GET /auth/oidc?next=`` starts an OpenID Connect login; the provider sends the browser back to
  ``/auth/callback``, which checks state (bound to this browser by a cookie), trades the code with its PKCE
  verifier and checks the ID token (signature, iss, aud, exp, nonce). The user is created on first login.
- ``POST /auth/logout`` ends the session, then RP-initiated logout at the provider for OpenID sessions.
- ``GET|POST /auth/signup``: an account request; ``/api/v1/signups`` lets administrators approve it.
- ``GET /auth/me``: who the browser is, and the CSRF token its scripts send as ``X-CSRF-Token``.

Forms carry a CSRF token: the session's once logged in, a double-submit cookie before.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kartenn.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from kartenn.services import logins, oidc, sessions
from kartenn.site import Site
from kartenn.web.deps import base_url, client_ip, get_identity
from kartenn.web.portal.context import base_values, language, remember_language
from kartenn.web.portal.context import templates as portal_templates
from kartenn.web.portal.i18n import translator

router = APIRouter(prefix="/auth", include_in_schema=False)
FORM_COOKIE = "kartenn_form"  # double-submit CSRF token for forms shown before a session exists
FLOW_SECONDS = 600
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,79}$")

STRINGS = {
    "en": {
        "login": "Log in", "logout": "Log out", "signup": "Ask for an account", "user": "User name",
        "password": "Password", "with": "Log in with your organisation's account", "or": "or",
        "failed": "Wrong user name or password.",
        "bye": "Log out of {site}?", "name": "Full name", "email": "E-mail", "org": "Organisation",
        "message": "Why you need an account", "send": "Send the request",
        "sent": "Your request is recorded. An administrator will approve it; you can then log in.",
        "closed": "Account requests are closed on this site.", "error": "The login did not succeed.",
        "back": "Back to the home page", "logged": "Logged in as {user}.", "password.hint": "10 characters at least",
    },
    "fr": {
        "login": "Se connecter", "logout": "Se déconnecter", "signup": "Demander un compte",
        "user": "Identifiant", "password": "Mot de passe", "with": "Se connecter avec le compte de votre organisme",
        "or": "ou", "failed": "Identifiant ou mot de passe incorrect.",
        "bye": "Se déconnecter de {site} ?", "name": "Nom complet", "email": "Courriel", "org": "Organisme",
        "message": "Pourquoi vous avez besoin d'un compte", "send": "Envoyer la demande",
        "sent": "Votre demande est enregistrée. Un administrateur la validera ; vous pourrez alors vous connecter.",
        "closed": "Les demandes de compte sont fermées sur ce site.", "error": "La connexion n'a pas abouti.",
        "back": "Retour à l'accueil", "logged": "Connecté en tant que {user}.",
        "password.hint": "10 caractères au moins",
    },
}


def safe_next(value: str | None) -> str:
    """A path on this site to go back to; anything else (another host, a scheme, //host, \\\\host) is "/"."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(c in value for c in "\\\r\n\t") or any(ord(c) < 32 for c in value):
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


def _site(request: Request) -> Site:
    return request.app.state.site  # type: ignore[no-any-return]


def _secure(request: Request) -> bool:
    configured = _site(request).settings.cookie_secure
    return configured if configured is not None else base_url(request).startswith("https:")


def _cookie(response: Response, request: Request, name: str, value: str, *, max_age: int | None = None,
            path: str = "/", same_site: str = "lax") -> None:
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, secure=_secure(request),
                        samesite=same_site)  # type: ignore[arg-type]


def _page(request: Request, mode: str, status: int = 200, **extra: Any) -> HTMLResponse:
    """The auth page in ``mode`` (login, logout, signup, message), in the portal's frame (header, menu, language
    switch), with a fresh form token when needed."""
    site = _site(request)
    lang = language(request)
    base_t, table = translator(lang), STRINGS[lang]

    def t(key: str, **values: object) -> str:
        return table[key].format(**values) if key in table else base_t(key, **values)

    session = getattr(request.state, "session", None)
    form_token = session["csrf"] if session else secrets.token_urlsafe(32)
    next_path = safe_next(extra.pop("next", None) or request.query_params.get("next"))
    context = {**base_values(request, site.settings.title, get_identity(request), lang, next_path=next_path),
               "t": t, "mode": mode, "csrf": form_token, "next": next_path,
               "oidc": oidc.browser_login(site.settings), "signup": site.settings.signup,
               "organisations": site.accounts.list_organisations() if mode == "signup" else [], **extra}
    response = portal_templates.TemplateResponse(request, "auth.html", context, status_code=status,
                                                 headers={"Cache-Control": "no-store", "Content-Language": lang,
                                                          "Vary": "Accept-Language, Cookie"})
    remember_language(request, response, lang)
    if not session:
        _cookie(response, request, FORM_COOKIE, form_token, max_age=3600, path="/auth", same_site="strict")
    return response


def _form_ok(request: Request, sent: str) -> bool:
    """The form's token matches the session's, or, before a session, the double-submit cookie."""
    session = getattr(request.state, "session", None)
    if session:
        return sessions.csrf_ok(session, sent)
    cookie = request.cookies.get(FORM_COOKIE)
    return bool(cookie) and secrets.compare_digest(cookie, sent or "")


def _start_session(request: Request, user_id: str, next_url: str, **kwargs: Any) -> Response:
    site = _site(request)
    sessions.close_session(site, request.cookies.get(sessions.COOKIE))  # a new id at each login: no fixation
    cookie = sessions.open_session(site, user_id, **kwargs)
    response = RedirectResponse(safe_next(next_url), status_code=303)
    _cookie(response, request, sessions.COOKIE, cookie, max_age=site.settings.session_hours * 3600)
    response.delete_cookie(FORM_COOKIE, path="/auth")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    get_identity(request)  # reads the session, if any
    return _page(request, "login")


@router.post("/login")
def login(request: Request, username: Annotated[str, Form(max_length=80)] = "",
          password: Annotated[str, Form(max_length=1000)] = "", csrf_token: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/") -> Response:
    site, ip = _site(request), client_ip(request)
    get_identity(request)
    if not _form_ok(request, csrf_token):
        raise Forbidden("the form has expired or did not come from this site; reload the page")
    try:
        logins.password_login(site, username, password, ip)
    except Unauthorized:
        # The form again, with the message (200, as a page the browser shows, not an HTTP challenge).
        return _page(request, "login", failed=True, username=username, next=safe_next(next))
    return _start_session(request, username, next)


@router.get("/oidc")
def oidc_start(request: Request) -> Response:
    site = _site(request)
    oidc.require_browser_login(site.settings)
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    now = datetime.now(UTC)
    site.accounts.add_login_flow(state, nonce, verifier, safe_next(request.query_params.get("next")),
                                 older_than=now - timedelta(seconds=FLOW_SECONDS))
    try:
        url = oidc.authorization_url(site.settings, f"{base_url(request)}/auth/callback", state, nonce, verifier)
    except (OSError, ValueError, KeyError):
        return _page(request, "message", status=502, message_key="error")
    response = RedirectResponse(url, status_code=303)
    _cookie(response, request, sessions.FLOW_COOKIE, state, max_age=FLOW_SECONDS, path="/auth")
    return response


@router.get("/callback")
def oidc_callback(request: Request) -> Response:
    site, params = _site(request), request.query_params
    oidc.require_browser_login(site.settings)
    state, code = params.get("state", ""), params.get("code", "")
    bound = request.cookies.get(sessions.FLOW_COOKIE, "")
    flow = site.accounts.take_login_flow(state, datetime.now(UTC) - timedelta(seconds=FLOW_SECONDS)) \
        if state and len(state) <= 64 else None
    if params.get("error") or not code or flow is None or not secrets.compare_digest(bound, state):
        reason = params.get("error") or ("no code" if not code else "unknown, used or foreign state")
        logins.refuse_login(site, str(reason), client_ip(request))
        response = _page(request, "message", status=400, message_key="error")
        response.delete_cookie(sessions.FLOW_COOKIE, path="/auth")
        return response
    try:
        identity, claims, id_token = oidc.finish_login(site.settings, f"{base_url(request)}/auth/callback", code,
                                                       flow["verifier"], flow["nonce"])
    except Unauthorized as exc:
        logins.refuse_login(site, exc.message, client_ip(request))
        return _page(request, "message", status=401, message_key="error")
    try:
        user_id = logins.oidc_login(site, identity, claims, client_ip(request))
    except Forbidden:
        return _page(request, "message", status=403, message_key="error")
    response = _start_session(request, user_id, flow["next"], identity=identity, id_token=id_token)
    response.delete_cookie(sessions.FLOW_COOKIE, path="/auth")
    return response


@router.get("/logout", response_class=HTMLResponse)
def logout_form(request: Request) -> Response:
    identity = get_identity(request)
    if identity.user is None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _page(request, "logout", user=identity.user)


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    site = _site(request)
    identity = get_identity(request)
    session = getattr(request.state, "session", None)
    if session is None:
        return RedirectResponse("/", status_code=303)
    if not (_form_ok(request, csrf_token) or sessions.csrf_ok(session, request.headers.get("x-csrf-token"))):
        raise Forbidden("the form has expired or did not come from this site; reload the page")
    logins.logout(site, identity, request.cookies.get(sessions.COOKIE))
    after = f"{base_url(request)}/"
    target = oidc.logout_url(site.settings, session["id_token"], after) if session["id_token"] else None
    response = RedirectResponse(target or "/", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request) -> Response:
    get_identity(request)
    return _page(request, "signup" if _site(request).settings.signup else "message",
                 message_key=None if _site(request).settings.signup else "closed")


@router.post("/signup")
def signup(request: Request, username: Annotated[str, Form(max_length=80)] = "",
           name: Annotated[str, Form(max_length=200)] = "", email: Annotated[str, Form(max_length=200)] = "",
           password: Annotated[str, Form(max_length=1000)] = "", org: Annotated[str, Form(max_length=80)] = "",
           message: Annotated[str, Form(max_length=2000)] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
    site, ip = _site(request), client_ip(request)
    get_identity(request)
    if not site.settings.signup:
        raise Forbidden("account requests are closed on this site")
    if not _form_ok(request, csrf_token):
        raise Forbidden("the form has expired or did not come from this site; reload the page")
    sessions.check_rate(site, ip)
    sessions.note_failure(site, ip)  # each request counts: a flood of them is throttled like failed logins
    try:
        if not NAME.match(username):
            raise InvalidInput("a user name is 2 to 80 letters, digits, '.', '_' or '-'", locator="username")
        if "@" not in email:
            raise InvalidInput("an e-mail address is needed", locator="email")
        logins.request_account(site, username, name=name, email=email, password=password, org=org or None,
                               message=message, ip=ip)
    except (InvalidInput, Conflict) as exc:
        return _page(request, "signup", status=exc.status, problem=exc.message, form={
            "username": username, "name": name, "email": email, "org": org, "message": message})
    return _page(request, "message", message_key="sent")


@router.get("/me")
def me(request: Request) -> dict[str, Any]:
    identity = get_identity(request)
    session = getattr(request.state, "session", None)
    return {"user": identity.user, "admin": identity.admin, "roles": identity.roles,
            "csrf": session["csrf"] if session else None}

