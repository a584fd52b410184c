import logging

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from dashboard.admin.deliveries import status_badge
from dashboard.tools import (
    AutocompleteFilter,
    TitledChangeList,
    autocomplete_media,
    object_action_urls,
    redirect_back,
)
from deliveries import selectors
from deliveries.charts import STATUS_COLOURS, ago, health_charts, outcome
from deliveries.services import (
    endpoint_delete,
    endpoint_disable,
    endpoint_recover,
    endpoint_send_test,
)
from endpoints.models import Endpoint, EventType
from endpoints.services import (
    endpoint_create,
    endpoint_current_secret,
    endpoint_enable,
    endpoint_rotate_secret,
    endpoint_secret_expiries,
)

# Who saw which endpoint's secret, when (never the secret itself).
audit = logging.getLogger("flexhooks.audit")


@admin.register(EventType)
class EventTypeAdmin(TitledChangeList, admin.ModelAdmin):
    list_display = ["name", "group", "object_type", "description", "archived"]
    list_filter = ["group", "archived"]
    search_fields = ["name", "description", "object_type"]
    list_editable = ["archived"]
    readonly_fields = ["created_at", "updated_at"]
    actions = ["archive", "unarchive"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # Events keep pointing at their type: archive instead.
        return False

    @admin.action(description="Archive selected event types")
    def archive(self, request, queryset):
        self.message_user(request, f"Archived {queryset.update(archived=True)} event types.")

    @admin.action(description="Unarchive selected event types")
    def unarchive(self, request, queryset):
        self.message_user(request, f"Unarchived {queryset.update(archived=False)} event types.")


class EndpointAccountFilter(AutocompleteFilter):
    title = "account"
    parameter_name = "account__id__exact"
    field_model, field = Endpoint, "account"


class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2048, assume_scheme="https")

    class Meta:
        model = Endpoint
        fields = ["account", "url", "description", "event_types", "headers"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "event_types" in self.fields:
            self.fields["event_types"].queryset = EventType.objects.filter(archived=False)


@admin.register(Endpoint)
class EndpointAdmin(TitledChangeList, admin.ModelAdmin):
    form = EndpointForm
    list_display = [
        "endpoint_url",
        "account",
        "enabled_state",
        "subscriptions",
        "recent_success_rate",
        "recent_p95",
        "last_delivery",
    ]
    list_filter = ["enabled", EndpointAccountFilter]
    list_select_related = ["account"]
    search_fields = ["url", "description", "=account__name"]
    autocomplete_fields = ["account"]
    filter_horizontal = ["event_types"]
    readonly_fields = ["enabled", "disabled_reason", "disabled_at", "created_at", "updated_at"]
    change_form_template = "admin/endpoints/endpoint/change_form.html"

    @property
    def media(self):
        return super().media + autocomplete_media(Endpoint._meta.get_field("account"))

    def get_readonly_fields(self, request, obj=None):
        # An endpoint stays in the account it was created in.
        fields = super().get_readonly_fields(request, obj)
        return [*fields, "account"] if obj is not None else fields

    @admin.display(description="endpoint", ordering="url")
    def endpoint_url(self, obj):
        # The row's link (list_display_links): host and path, the whole URL on hover.
        return format_html(
            '<span class="fh-url" title="{}">{}</span>', obj.url, obj.url.split("://", 1)[-1]
        )

    def get_queryset(self, request):
        queryset = super().get_queryset(request).visible().prefetch_related("event_types")
        return selectors.endpoints_with_health(queryset)

    def delete_model(self, request, obj):
        endpoint_delete(endpoint=obj)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            endpoint_delete(endpoint=endpoint)

    @admin.display(description="enabled", ordering="enabled")
    def enabled_state(self, obj):
        if obj.enabled:
            return mark_safe('<span class="fh-badge" style="background:#2f855a">enabled</span>')
        return format_html(
            '<span class="fh-badge" style="background:#c53030">disabled</span> '
            '<span class="fh-muted">{}</span>',
            obj.disabled_reason,
        )

    @admin.display(description="subscribed to")
    def subscriptions(self, obj):
        names = [et.name for et in obj.event_types.all()]
        if not names:
            return "all event types"
        return ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")

    @admin.display(description="success 24 h")
    def recent_success_rate(self, obj):
        """The rate, and of how many deliveries."""
        rate = selectors.success_rate(obj.recent_succeeded, obj.recent_failed)
        if rate is None:
            return format_html('<span class="fh-muted">— of {}</span>', obj.recent_total or 0)
        return format_html(
            '{} <span class="fh-muted">of {}</span>', f"{rate:.0%}", obj.recent_total or 0
        )

    @admin.display(description="p95 24 h")
    def recent_p95(self, obj):
        return "—" if obj.recent_p95_ms is None else f"{obj.recent_p95_ms:.0f} ms"

    @admin.display(description="last delivery")
    def last_delivery(self, obj):
        if obj.last_status is None:
            return "—"
        return format_html("{} {}", status_badge(obj.last_status), ago(obj.last_at))

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        endpoint, _ = endpoint_create(
            account=obj.account,
            url=obj.url,
            description=obj.description,
            event_types=[et.name for et in form.cleaned_data["event_types"]],
            headers=obj.headers,
        )
        obj.pk = endpoint.pk

    def get_urls(self):
        actions = {
            "rotate-secret": "rotate_secret_view",
            "send-test": "send_test_view",
            "enable": "enable_view",
            "disable": "disable_view",
            "recover": "recover_view",
        }
        return [
            path(
                "<path:object_id>/secret/",
                self.admin_site.admin_view(self.secret_view),
                name="endpoints_endpoint_secret",
            ),
            *object_action_urls(self, actions),
            *super().get_urls(),
        ]

    def secret_view(self, request, object_id):
        endpoint = self.get_object(request, object_id)
        if endpoint is None or not self.has_change_permission(request, endpoint):
            return redirect_back(request, Endpoint(pk=object_id))
        audit.info(
            "secret revealed endpoint=%s account=%s by user=%s (%s)",
            endpoint.pk,
            endpoint.account_id,
            request.user.pk,
            request.user.get_username(),
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Signing secret",
            "opts": self.model._meta,
            "original": endpoint,
            "secret": endpoint_current_secret(endpoint=endpoint),
            "expiries": endpoint_secret_expiries(endpoint=endpoint),
        }
        return TemplateResponse(request, "admin/endpoints/endpoint/secret.html", context)

    def rotate_secret_view(self, request, endpoint):
        try:
            grace_hours = float(request.POST.get("grace_hours") or 24)
        except ValueError:
            grace_hours = -1
        if not 0 <= grace_hours <= 24 * 30:
            self.message_user(request, "The grace period must be 0 to 720 hours.", messages.ERROR)
            return redirect_back(request, endpoint)
        endpoint_rotate_secret(endpoint=endpoint, grace_seconds=int(grace_hours * 3600))
        until = timezone.now() + timezone.timedelta(hours=grace_hours)
        self.message_user(
            request,
            "New secret signing now; the previous one keeps signing until "
            f"{until:%Y-%m-%d %H:%M} UTC.",
            messages.SUCCESS,
        )
        return redirect_back(request, endpoint)

    def send_test_view(self, request, endpoint):
        try:
            result = endpoint_send_test(
                endpoint=endpoint, event_type=request.POST.get("event_type", "")
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return redirect_back(request, endpoint)
        delivery = result.event.deliveries.get()
        url = reverse("admin:deliveries_delivery_change", args=[delivery.pk])
        self.message_user(
            request,
            format_html('Test event sent: <a href="{}">{}</a>.', url, result.event.pk),
            messages.SUCCESS,
        )
        return redirect_back(request, endpoint)

    def enable_view(self, request, endpoint):
        disabled_at = endpoint.disabled_at
        endpoint_enable(endpoint=endpoint)
        failed = (
            disabled_at
            and endpoint.deliveries.filter(
                status__in=["failed", "cancelled"], updated_at__gte=disabled_at
            ).count()
        )
        if failed:
            # Offer to send what failed meanwhile: the recover form, filled in.
            since = disabled_at.strftime("%Y-%m-%d %H:%M:%S")
            url = reverse("admin:endpoints_endpoint_change", args=[endpoint.pk])
            self.message_user(
                request,
                format_html(
                    "Endpoint enabled. {} deliveries failed or were not sent while it was "
                    "disabled: "
                    '<a href="{}?recover_since={}#recover">recover them</a>.',
                    failed,
                    url,
                    since,
                ),
                messages.SUCCESS,
            )
            return HttpResponseRedirect(f"{url}?recover_since={since}#recover")
        self.message_user(request, "Endpoint enabled.", messages.SUCCESS)
        return redirect_back(request, endpoint)

    def disable_view(self, request, endpoint):
        reason = request.POST.get("reason", "").strip() or f"disabled by {request.user}"
        endpoint_disable(endpoint=endpoint, reason=reason)
        self.message_user(request, "Endpoint disabled.", messages.SUCCESS)
        return redirect_back(request, endpoint)

    def recover_view(self, request, endpoint):
        field = forms.DateTimeField()
        try:
            since = field.clean(request.POST.get("since", ""))
        except ValidationError:
            self.message_user(
                request, "Give a valid date and time to recover from.", messages.ERROR
            )
            return redirect_back(request, endpoint)
        result = endpoint_recover(endpoint=endpoint, since=since)
        self.message_user(request, result.message, messages.SUCCESS)
        return redirect_back(request, endpoint)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        endpoint = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if endpoint is not None:
            since = endpoint.disabled_at or (timezone.now() - timezone.timedelta(days=1))
            windows = selectors.endpoint_health(endpoint)
            last_error = selectors.endpoint_last_error(endpoint)
            extra_context.update(
                health=health_charts(windows),
                last_error=last_error,
                last_error_outcome=last_error
                and outcome(
                    last_error.last_status_code, last_error.last_error_class, last_error.last_error
                ),
                status_colours=STATUS_COLOURS,
                event_type_names=EventType.objects.filter(archived=False).values_list(
                    "name", flat=True
                ),
                recent=endpoint.deliveries.select_related("event__event_type").order_by(
                    "-created_at"
                )[:20],
                expiries=endpoint_secret_expiries(endpoint=endpoint),
                recover_since=request.GET.get("recover_since")
                or since.strftime("%Y-%m-%d %H:%M:%S"),
            )
        return super().change_view(request, object_id, form_url, extra_context)
