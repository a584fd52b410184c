from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timeuntil

from accounts.models import Account
from dashboard.tools import (
    AutocompleteFilter,
    CappedCountPaginator,
    ReadOnlyInline,
    TitledChangeList,
    autocomplete_media,
    object_action_urls,
    redirect_back,
)
from deliveries import selectors
from deliveries.charts import STATUS_COLOURS, ago, hourly_chart, outcome
from deliveries.models import Delivery, Event, Notice
from deliveries.payloads import pretty_json
from deliveries.services import deliveries_retry, event_retry_failed
from endpoints.models import Endpoint


def status_badge(status: str) -> str:
    return format_html(
        '<span class="fh-badge" style="background:{}">{}</span>',
        STATUS_COLOURS.get(status, "#4a5568"),
        status,
    )


class OutcomeFilter(admin.SimpleListFilter):
    title = "last outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [
            ("2xx", "2xx"),
            ("3xx", "3xx"),
            ("4xx", "4xx"),
            ("5xx", "5xx"),
            ("timeout", "timeout"),
            ("connection", "connection error"),
            ("blocked", "blocked address"),
        ]

    def queryset(self, request, queryset):
        condition = selectors.OUTCOME_FILTERS.get(self.value())
        return queryset.filter(condition) if condition is not None else queryset


class EndpointFilter(AutocompleteFilter):
    title = "endpoint"
    parameter_name = "endpoint__id__exact"
    field_model, field = Delivery, "endpoint"


class AccountFilter(AutocompleteFilter):
    title = "account"
    parameter_name = "account__id__exact"
    field_model, field = Delivery, "account"


class DeliveryEventTypeFilter(AutocompleteFilter):
    title = "event type"
    parameter_name = "event__event_type__id__exact"
    field_model, field = Event, "event_type"


class EventTypeFilter(DeliveryEventTypeFilter):
    parameter_name = "event_type__id__exact"


class EventAccountFilter(AccountFilter):
    field_model = Event


def endpoint_link(endpoint) -> str:
    """Host and path, cut to the column with the whole URL on hover."""
    url = reverse("admin:endpoints_endpoint_change", args=[endpoint.pk])
    shown = endpoint.url.split("://", 1)[-1]
    return format_html('<a class="fh-url" href="{}" title="{}">{}</a>', url, endpoint.url, shown)


class CreatedFilter(admin.SimpleListFilter):
    """A date range without date_hierarchy's DISTINCT over the whole table."""

    title = "created"
    parameter_name = "created"
    RANGES = {
        "1h": timedelta(hours=1),
        "24h": timedelta(days=1),
        "7d": timedelta(days=7),
        "30d": timedelta(days=30),
    }

    def lookups(self, request, model_admin):
        return [
            ("1h", "last hour"),
            ("24h", "last 24 hours"),
            ("7d", "last 7 days"),
            ("30d", "last 30 days"),
            ("older", "older than 30 days"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "older":
            return queryset.filter(created_at__lt=timezone.now() - self.RANGES["30d"])
        if self.value() in self.RANGES:
            return queryset.filter(created_at__gte=timezone.now() - self.RANGES[self.value()])
        return queryset


@admin.register(Delivery)
class DeliveryAdmin(TitledChangeList, admin.ModelAdmin):
    # In order of importance, to fit 1366 px (templates/admin/base_site.html styles it).
    list_display = [
        "status_badge",
        "event_type",
        "endpoint_url",
        "last_outcome",
        "attempts",
        "age",
        "next_attempt",
        "retry_button",
    ]
    list_display_links = ["event_type"]
    list_filter = [
        "status",
        OutcomeFilter,
        CreatedFilter,
        DeliveryEventTypeFilter,
        EndpointFilter,
        AccountFilter,
    ]
    list_select_related = ["event__event_type", "endpoint", "account"]
    search_fields = ["=event__id", "endpoint__url", "=account__name"]
    ordering = ["-id"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    actions = ["retry_selected"]
    change_form_template = "admin/deliveries/delivery/change_form.html"
    readonly_fields = [
        "event",
        "endpoint",
        "account",
        "status",
        "attempt_count",
        "retry_step",
        "next_trigger",
        "next_attempt_at",
        "dispatched_at",
        "lease_expires_at",
        "last_status_code",
        "last_error_class",
        "last_error",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "event",
                    "endpoint",
                    "account",
                    "status",
                    "attempt_count",
                    "last_status_code",
                    "last_error_class",
                    "last_error",
                    "created_at",
                ]
            },
        ),
        (
            "Scheduling",
            {
                "classes": ["collapse"],
                "fields": [
                    "next_attempt_at",
                    "retry_step",
                    "next_trigger",
                    "dispatched_at",
                    "lease_expires_at",
                    "updated_at",
                ],
            },
        ),
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_search_results(self, request, queryset, search_term):
        """Search by event id, endpoint URL or account name, each through an index: the
        small tables are searched first, then deliveries by their foreign keys (a plain
        OR over the joins would scan every delivery)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        endpoints = Endpoint.objects.filter(url__icontains=term).values("pk")
        accounts = Account.objects.filter(name=term).values("pk")
        condition = Q(endpoint_id__in=endpoints) | Q(account_id__in=accounts)
        if term.startswith("evt_"):
            condition = Q(event_id=term)
        return queryset.filter(condition), False

    @property
    def media(self):
        return super().media + autocomplete_media(Delivery._meta.get_field("endpoint"))

    @admin.display(description="age", ordering="-id")
    def age(self, obj):
        return ago(obj.created_at)

    @admin.display(description="event type")
    def event_type(self, obj):
        return obj.event.event_type.name

    @admin.display(description="endpoint")
    def endpoint_url(self, obj):
        return endpoint_link(obj.endpoint)

    @admin.display(description="attempts", ordering="attempt_count")
    def attempts(self, obj):
        return obj.attempt_count

    @admin.display(description="last outcome")
    def last_outcome(self, obj):
        return outcome(obj.last_status_code, obj.last_error_class, obj.last_error)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return status_badge(obj.status)

    @admin.display(description="next attempt")
    def next_attempt(self, obj):
        if obj.status != Delivery.Status.PENDING or obj.next_attempt_at is None:
            return "—"
        if obj.next_attempt_at <= timezone.now():
            return "due now"
        return f"in {timeuntil(obj.next_attempt_at, depth=1)}"

    @admin.display(description="")
    def retry_button(self, obj):
        if obj.status == Delivery.Status.SENDING:
            return ""
        url = reverse("admin:deliveries_delivery_retry", args=[obj.pk])
        # Submits the changelist's own form (and so its CSRF token) to the retry URL.
        return format_html(
            '<button type="submit" class="button fh-row-retry" formaction="{}" '
            'formmethod="post" name="_retry" value="{}">Retry</button>',
            url,
            obj.pk,
        )

    @admin.action(description="Retry selected deliveries")
    def retry_selected(self, request, queryset):
        result = deliveries_retry(delivery_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, result.message, messages.SUCCESS)

    def get_urls(self):
        return [
            path(
                "overview/",
                self.admin_site.admin_view(self.overview_view),
                name="deliveries_delivery_overview",
            ),
            *object_action_urls(self, {"retry": "retry_view"}),
            *super().get_urls(),
        ]

    def retry_view(self, request, delivery):
        result = deliveries_retry(delivery_ids=[delivery.pk])
        level = messages.SUCCESS if result.queued else messages.WARNING
        self.message_user(request, result.message, level)
        return redirect_back(request, delivery)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        delivery = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if delivery is not None:
            attempts = list(delivery.attempts.order_by("number"))
            extra_context.update(
                title="Delivery",
                subtitle=(
                    f"{delivery.event.event_type.name} · {delivery.event_id}"
                    f" → {delivery.endpoint.url}"
                ),
                last_outcome=outcome(
                    delivery.last_status_code, delivery.last_error_class, delivery.last_error
                ),
                attempts=attempts,
                last_request_headers=attempts[-1].request_headers if attempts else None,
                envelope=pretty_json(delivery.event.body),
                status_badge=status_badge(delivery.status),
                now=timezone.now(),
                show_save=False,
                show_save_and_continue=False,
                show_save_and_add_another=False,
                show_delete=False,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def overview_view(self, request):
        overview = selectors.delivery_overview()
        hours = selectors.hourly_outcomes()
        context = {
            **self.admin_site.each_context(request),
            "title": "Delivery overview",
            "opts": self.model._meta,
            "overview": overview,
            "failing": selectors.endpoints_failing_most(),
            "notices": Notice.objects.select_related("endpoint", "account")[:10],
            "retention_days": settings.FLEXHOOKS_RETENTION_DAYS,
            "chart": hourly_chart(hours),
            "status_colours": STATUS_COLOURS,
        }
        return TemplateResponse(request, "admin/deliveries/overview.html", context)


class DeliveryInline(ReadOnlyInline):
    model = Delivery
    fields = ["endpoint", "status", "attempt_count", "last_status_code", "next_attempt_at"]


@admin.register(Event)
class EventAdmin(TitledChangeList, admin.ModelAdmin):
    list_display = ["id", "event_type", "account", "created_at", "idempotency_key"]
    list_filter = [EventTypeFilter, EventAccountFilter]
    list_select_related = ["event_type", "account"]
    search_fields = ["=id", "=idempotency_key"]
    ordering = ["-id"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    readonly_fields = [
        "id",
        "account",
        "event_type",
        "created_at",
        "idempotency_key",
        "pretty_object",
    ]
    fields = readonly_fields
    inlines = [DeliveryInline]
    change_form_template = "admin/deliveries/event/change_form.html"

    @property
    def media(self):
        return super().media + autocomplete_media(Event._meta.get_field("event_type"))

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="object")
    def pretty_object(self, obj):
        return format_html(
            "<pre class='fh-json'>{}</pre>",
            pretty_json(obj.body, "data", "object"),
        )

    def get_urls(self):
        return [
            *object_action_urls(self, {"retry-failed": "retry_failed_view"}),
            *super().get_urls(),
        ]

    def retry_failed_view(self, request, event):
        result = event_retry_failed(event=event)
        self.message_user(request, result.message, messages.SUCCESS)
        return redirect_back(request, event)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        event = self.get_object(request, object_id)
        if event is not None:
            extra_context["failed_count"] = event.deliveries.filter(status="failed").count()
        return super().change_view(request, object_id, form_url, extra_context)
