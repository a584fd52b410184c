"""The portal's pages. Every query starts from the session's account (another account's id
is a 404); every change calls the same services as the API and the dashboard."""

import json
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from deliveries import selectors
from deliveries.charts import STATUS_COLOURS, health_charts
from deliveries.models import Delivery
from deliveries.payloads import pretty_json
from deliveries.services import (
    deliveries_retry,
    endpoint_delete,
    endpoint_disable,
    endpoint_recover,
    endpoint_send_test,
    render_envelope,
)
from endpoints.models import Endpoint, EventType
from endpoints.services import (
    endpoint_create,
    endpoint_current_secret,
    endpoint_enable,
    endpoint_rotate_secret,
    endpoint_secret_expiries,
    endpoint_update,
)
from portal.forms import DeliveryFilterForm, EndpointForm, RecoverForm
from portal.guard import COOKIE, protect, refuse, set_session_cookie
from portal.guard import portal_view as page
from portal.services import portal_link_open

audit = logging.getLogger("flexhooks.audit")
PAGE_SIZE = 50


def _endpoints(request):
    return Endpoint.objects.visible().filter(account=request.portal.account)


def _endpoint(request, endpoint_id: int) -> Endpoint:
    return get_object_or_404(_endpoints(request), pk=endpoint_id)


def _deliveries(request):
    return Delivery.objects.filter(account=request.portal.account)


def _done(request, text: str, level: str = "success"):
    """A confirmation for the next page, kept with the portal session."""
    session = request.portal
    session.notices = [*session.notices, [level, text]][-5:]
    session.save(update_fields=["notices"])


# --- entering -----------------------------------------------------------------------------


@require_GET
def enter(request, token: str):
    """Exchange a one-time link for a portal session (a cookie), then go to the portal."""
    opened = portal_link_open(raw_token=token)
    if opened is None:
        return refuse(
            request,
            404,
            "This link has expired",
            "Portal links work once and for a few minutes. Ask for a new one: open the"
            " webhooks page again from your billing platform.",
        )
    _session, raw = opened
    response = redirect("portal:endpoints")
    set_session_cookie(response, raw, settings.FLEXHOOKS_PORTAL_SESSION_SECONDS)
    return protect(response)


@page(changes=True, read_only_too=True)
def leave(request):
    request.portal.delete()
    response = refuse(request, 200, "Signed out", "Your portal session has ended.")
    response.delete_cookie(COOKIE, path="/portal/")
    return response


# --- endpoints ----------------------------------------------------------------------------


@page
def endpoints(request):
    rows = selectors.endpoints_with_health(
        _endpoints(request).prefetch_related("event_types").order_by("-pk")
    )
    for row in rows:
        row.success = selectors.success_rate(row.recent_succeeded, row.recent_failed)
    return render(request, "portal/endpoints.html", {"endpoints": rows, "nav": "endpoints"})


@page
def endpoint_new(request):
    if request.portal.read_only:
        return refuse(request, 403, "Read only", "This portal session cannot change anything.")
    return render(
        request, "portal/endpoint_form.html", {"form": EndpointForm(), "nav": "endpoints"}
    )


@page(changes=True)
def endpoint_create_view(request):
    form = EndpointForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            endpoint, _ = endpoint_create(account=request.portal.account, **data)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            _done(request, "Endpoint added. Reveal its signing secret to verify what we send.")
            return redirect("portal:endpoint", endpoint.pk)
    return render(
        request, "portal/endpoint_form.html", {"form": form, "nav": "endpoints"}, status=400
    )


@page
def endpoint(request, endpoint_id: int):
    endpoint = _endpoint(request, endpoint_id)
    return _endpoint_page(request, endpoint, EndpointForm(initial=_initial(endpoint)))


def _initial(endpoint: Endpoint) -> dict:
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": [event_type.name for event_type in endpoint.event_types.all()],
        "headers": json.dumps(endpoint.headers) if endpoint.headers else "",
    }


def _endpoint_page(request, endpoint, form, *, status: int = 200, secret: str | None = None):
    windows = selectors.endpoint_health(endpoint)
    context = {
        "nav": "endpoints",
        "endpoint": endpoint,
        "form": form,
        "health": health_charts(windows),
        "status_colours": STATUS_COLOURS,
        "last_error": selectors.endpoint_last_error(endpoint),
        "recent": endpoint.deliveries.select_related("event__event_type").order_by("-pk")[:10],
        "event_types": EventType.objects.filter(archived=False).order_by("name"),
        "recover": RecoverForm(
            initial={
                "since": (timezone.now() - timezone.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
            }
        ),
        "secret": secret,
        "expiries": endpoint_secret_expiries(endpoint=endpoint),
    }
    return render(request, "portal/endpoint.html", context, status=status)


@page(changes=True)
def endpoint_update_view(request, endpoint_id: int):
    endpoint = _endpoint(request, endpoint_id)
    form = EndpointForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            endpoint_update(endpoint=endpoint, **data)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            _done(request, "Endpoint saved.")
            return redirect("portal:endpoint", endpoint.pk)
    endpoint.refresh_from_db()
    return _endpoint_page(request, endpoint, form, status=400)


@page(changes=True)
def endpoint_enable_view(request, endpoint_id: int):
    endpoint_enable(endpoint=_endpoint(request, endpoint_id))
    _done(request, "Endpoint enabled.")
    return redirect("portal:endpoint", endpoint_id)


@page(changes=True)
def endpoint_disable_view(request, endpoint_id: int):
    endpoint_disable(endpoint=_endpoint(request, endpoint_id), reason="disabled in the portal")
    _done(request, "Endpoint disabled: it gets no new deliveries until you enable it.")
    return redirect("portal:endpoint", endpoint_id)


@page(changes=True)
def endpoint_delete_view(request, endpoint_id: int):
    endpoint_delete(endpoint=_endpoint(request, endpoint_id))
    _done(request, "Endpoint deleted. Its delivery history stays in the history.")
    return redirect("portal:endpoints")


@page(changes=True)
def endpoint_secret_view(request, endpoint_id: int):
    endpoint = _endpoint(request, endpoint_id)
    audit.info(
        "secret revealed endpoint=%s account=%s by portal session=%s",
        endpoint.pk,
        endpoint.account_id,
        request.portal.pk,
    )
    secret = endpoint_current_secret(endpoint=endpoint)
    return _endpoint_page(
        request, endpoint, EndpointForm(initial=_initial(endpoint)), secret=secret
    )


@page(changes=True)
def endpoint_rotate_view(request, endpoint_id: int):
    endpoint = _endpoint(request, endpoint_id)
    secret = endpoint_rotate_secret(endpoint=endpoint)
    _done(request, "New secret signing now; the previous one keeps signing for 24 hours.")
    return _endpoint_page(
        request, endpoint, EndpointForm(initial=_initial(endpoint)), secret=secret
    )


@page(changes=True)
def endpoint_test_view(request, endpoint_id: int):
    endpoint = _endpoint(request, endpoint_id)
    try:
        result = endpoint_send_test(
            endpoint=endpoint, event_type=request.POST.get("event_type", "")
        )
    except ValidationError as exc:
        _done(request, " ".join(exc.messages), "error")
        return redirect("portal:endpoint", endpoint_id)
    delivery = result.event.deliveries.get()
    _done(request, f"Test event {result.event.pk} sent.")
    return redirect("portal:delivery", delivery.pk)


@page(changes=True)
def endpoint_recover_view(request, endpoint_id: int):
    endpoint = _endpoint(request, endpoint_id)
    form = RecoverForm(request.POST)
    if not form.is_valid():
        _done(request, "Give the date and time to recover from.", "error")
        return redirect("portal:endpoint", endpoint_id)
    result = endpoint_recover(endpoint=endpoint, since=form.cleaned_data["since"])
    _done(request, result.message)
    return redirect("portal:endpoint", endpoint_id)


@page
def endpoint_verify(request, endpoint_id: int):
    endpoint = _endpoint(request, endpoint_id)
    return render(request, "portal/verify.html", {"endpoint": endpoint, "nav": "endpoints"})


# --- the catalogue ------------------------------------------------------------------------


@page
def catalogue(request):
    types = []
    now = timezone.now()
    for event_type in EventType.objects.filter(archived=False).order_by("group", "name"):
        envelope = render_envelope(
            event_id="evt_01JEXAMPLE0000000000000000",
            event_type=event_type,
            created_at=now,
            data=event_type.example,
        )
        types.append(
            {
                "type": event_type,
                "schema": json.dumps(event_type.schema, indent=2) if event_type.schema else "",
                "envelope": pretty_json(envelope),
            }
        )
    return render(request, "portal/catalogue.html", {"types": types, "nav": "catalogue"})


# --- deliveries ---------------------------------------------------------------------------


@page
def deliveries(request):
    endpoints_of_account = list(_endpoints(request).order_by("url"))
    form = DeliveryFilterForm(request.GET or None, endpoints=endpoints_of_account)
    rows = _deliveries(request).select_related("endpoint", "event__event_type").order_by("-pk")
    status = 200
    if form.is_bound and not form.is_valid():
        rows, status = rows.none(), 400  # a filter that does not apply shows nothing
    elif form.is_bound:
        data = form.cleaned_data
        lookups = {
            "status": data["status"] or None,
            "endpoint_id": data["endpoint"],
            "event__event_type__name": data["event_type"] or None,
            "created_at__gte": data["since"],
            "created_at__lt": data["until"],
            "event_id": data["q"].strip() or None,
        }
        rows = rows.filter(**{k: v for k, v in lookups.items() if v is not None})
    before = request.GET.get("before", "")
    if before.isascii() and before.isdigit() and len(before) <= 18:
        rows = rows.filter(pk__lt=int(before))
    page_rows = list(rows[: PAGE_SIZE + 1])
    more = len(page_rows) > PAGE_SIZE
    page_rows = page_rows[:PAGE_SIZE]
    query = request.GET.copy()
    query.pop("before", None)
    next_url = None
    if more:
        query["before"] = page_rows[-1].pk
        next_url = f"?{query.urlencode()}"
    return render(
        request,
        "portal/deliveries.html",
        {
            "form": form,
            "deliveries": page_rows,
            "next_url": next_url,
            "first_url": reverse("portal:deliveries") + (f"?{query.urlencode()}" if query else ""),
            "paged": bool(before),
            "nav": "deliveries",
        },
        status=status,
    )


@page
def delivery(request, delivery_id: int):
    delivery = get_object_or_404(
        _deliveries(request).select_related("endpoint", "event__event_type"), pk=delivery_id
    )
    attempts = list(delivery.attempts.order_by("number"))
    envelope = pretty_json(delivery.event.body)
    return render(
        request,
        "portal/delivery.html",
        {
            "delivery": delivery,
            "attempts": attempts,
            "envelope": envelope,
            "last_headers": attempts[-1].request_headers if attempts else None,
            "nav": "deliveries",
        },
    )


@page(changes=True)
def delivery_retry_view(request, delivery_id: int):
    delivery = get_object_or_404(_deliveries(request), pk=delivery_id)
    result = deliveries_retry(delivery_ids=[delivery.pk])
    _done(request, result.message, "success" if result.queued else "warning")
    target = request.POST.get("next", "")
    if target.startswith("/portal/") and not target.startswith("//"):
        return redirect(target)
    return redirect("portal:delivery", delivery.pk)
