"""The portal's own session: its cookie, the guard every portal view passes, and the
headers every portal response carries. The portal accepts nothing else as a session:
not an API key, not a dashboard login."""

import functools
from http.cookies import Morsel

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from portal.services import portal_session_find

COOKIE = "flexhooks_portal"


class _PartitionedMorsel(Morsel):
    """A cookie with the Partitioned attribute (CHIPS), which Python's Morsel lacks before
    3.14: what lets the session work inside another site's iframe."""

    def OutputString(self, attrs=None):
        return super().OutputString(attrs) + "; Partitioned"


def framed() -> bool:
    return bool(settings.FLEXHOOKS_PORTAL_FRAME_ANCESTORS)


def set_session_cookie(response, raw_token: str, max_age: int) -> None:
    """HttpOnly, Lax and (under FLEXHOOKS_TLS) Secure for a tab; SameSite=None, Secure
    and Partitioned when the portal may be framed."""
    response.set_cookie(
        COOKIE,
        raw_token,
        max_age=max_age,
        path="/portal/",
        httponly=True,
        secure=framed() or settings.FLEXHOOKS_TLS,
        samesite="None" if framed() else "Lax",
    )
    if framed():
        plain = response.cookies[COOKIE]
        partitioned = _PartitionedMorsel()
        partitioned.set(plain.key, plain.value, plain.coded_value)
        partitioned.update(plain)
        dict.__setitem__(response.cookies, COOKIE, partitioned)


def protect(response):
    """No caching, a strict content policy, and framing only by the configured origins."""
    ancestors = settings.FLEXHOOKS_PORTAL_FRAME_ANCESTORS or "'none'"
    response["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline';"
        f" script-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
    )
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    if framed():
        response.xframe_options_exempt = True  # CSP frame-ancestors says who may frame it
    return response


def refuse(request, status: int, title: str, text: str):
    return protect(
        render(request, "portal/refused.html", {"title": title, "text": text}, status=status)
    )


def portal_view(view=None, *, changes: bool = False, read_only_too: bool = False):
    """Guard a portal view: a live portal session (else the "ask for a new link" page, with
    no data); GET only, or, for `changes`, POST only with the session's form token and a
    session that is not read-only (unless `read_only_too`: signing out). `request.portal`
    is the session. Every answer, a 404 or a 405 too, carries the portal's headers."""
    if view is None:
        return functools.partial(portal_view, changes=changes, read_only_too=read_only_too)
    method = "POST" if changes else "GET"

    @functools.wraps(view)
    def guarded(request, *args, **kwargs):
        if request.method != method and not (method == "GET" and request.method == "HEAD"):
            response = refuse(request, 405, "Not here", f"This page answers {method} only.")
            response["Allow"] = method
            return response
        session = portal_session_find(raw_token=request.COOKIES.get(COOKIE))
        if session is None:
            return refuse(
                request,
                401,
                "Your portal session has ended",
                "Open the webhooks page again from your billing platform to get a new link.",
            )
        request.portal = session
        if request.method == "POST":
            if session.read_only and not read_only_too:
                return refuse(
                    request, 403, "Read only", "This portal session cannot change anything."
                )
            if not constant_time_compare(request.POST.get("form_token", ""), session.form_token):
                return refuse(
                    request, 403, "The form has expired", "Reload the page and try again."
                )
        if request.method == "GET" and session.notices:  # shown once, on this page
            request.portal_notices, session.notices = session.notices, []
            session.save(update_fields=["notices"])
        try:
            return protect(view(request, *args, **kwargs))
        except Http404:
            return refuse(request, 404, "Not found", "There is no such page in your portal.")

    return csrf_exempt(guarded)
