"""Dashboard routes: ``/login`` (API key -> HttpOnly session cookie), ``/logout``,
``/dashboard`` (the single-page app) and ``/static`` (bundled assets)."""

from __future__ import annotations

from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from emotiondesk.errors import AuthenticationError, EmotionDeskError
from emotiondesk.storage import repository as repo
from emotiondesk.web.session import SESSION_COOKIE, check_same_origin, client_address

router = APIRouter(include_in_schema=False)

#: How long a dashboard session lasts (seconds).
SESSION_MAX_AGE = 12 * 3600


def _page(name: str) -> str:
    return files("emotiondesk.web").joinpath("static", name).read_text(encoding="utf-8")


async def _principal(request: Request, key_hash: str | None, scope: str = "read") -> object | None:
    """The principal of a key (by its hash) when it may read (no rate-limit token taken)."""
    if not key_hash:
        return None
    principal = await request.app.state.verifier.verify_hash(key_hash)
    if principal is None:
        return None
    try:
        principal.require(scope)
    except EmotionDeskError:
        return None
    return principal


@router.get("/", response_class=RedirectResponse)
async def root() -> RedirectResponse:
    return RedirectResponse("/dashboard", status_code=307)


@router.get("/login", response_class=HTMLResponse)
async def login_page() -> HTMLResponse:
    return HTMLResponse(_page("login.html"))


@router.post("/login")
async def login(
    request: Request, api_key: Annotated[str, Body(embed=True, min_length=1, max_length=256)]
) -> Response:
    """Check the key (it needs the read scope) and set the session cookie.

    The cookie holds a signed session token (the key's hash and an expiry),
    never the key. A cross-site login is refused (Origin check), and failed
    logins count against the client address like failed API calls.
    """
    if request.headers.get("origin") is not None:
        check_same_origin(request)
    verifier = request.app.state.verifier
    address = client_address(request)
    verifier.refuse_throttled(address)
    key_hash = repo.hash_key(api_key.strip())
    if await _principal(request, key_hash) is None:
        await verifier.count_failure(address)
        raise AuthenticationError("unknown or revoked API key, or it lacks the read scope")
    resp = JSONResponse({"ok": True})
    resp.set_cookie(
        SESSION_COOKIE,
        request.app.state.signer.issue(key_hash, SESSION_MAX_AGE),
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return resp


@router.get("/logout")
async def logout() -> RedirectResponse:
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    key_hash = request.app.state.signer.verify(token) if token else None
    if await _principal(request, key_hash) is None:
        return RedirectResponse("/login", status_code=303)
    return HTMLResponse(_page("dashboard.html"))


#: Swagger UI and ReDoc come from the fastapi-offline package (it carries their
#: bundles), so the API docs work on a network without the internet.
DOCS_ASSETS = "/static/docs"


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    from fastapi.openapi.docs import get_swagger_ui_html

    app = request.app
    return get_swagger_ui_html(
        openapi_url=app.openapi_url,
        title=f"{app.title} · API docs",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    )


@router.get("/redoc", response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    from fastapi.openapi.docs import get_redoc_html

    app = request.app
    return get_redoc_html(
        openapi_url=app.openapi_url,
        title=f"{app.title} · API reference",
        redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
        redoc_favicon_url="/static/favicon.svg",
        with_google_fonts=False,
    )


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    return Response(
        files("emotiondesk.web").joinpath("static", "favicon.svg").read_bytes(),
        media_type="image/svg+xml",
        headers={"cache-control": "public, max-age=86400"},
    )


def install_web(app: FastAPI) -> None:
    """Add the dashboard routes, its static files and the offline API docs to ``app``."""
    app.include_router(router)
    # mounted before /static so that /static/docs/... is not looked up in ours
    app.mount(DOCS_ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs")
    app.mount("/static", StaticFiles(packages=[("emotiondesk.web", "static")]), name="static")
