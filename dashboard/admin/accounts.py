from django.contrib import admin, messages
from django.template.response import TemplateResponse

from accounts.models import Account, ApiKey
from accounts.services import api_key_create, api_key_revoke
from dashboard.tools import ReadOnlyInline


class ApiKeyInline(ReadOnlyInline):
    model = ApiKey
    fields = ["prefix", "name", "created_at", "last_used_at", "revoked_at"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [ApiKeyInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "account", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["account"]
    search_fields = ["prefix", "name", "account__name"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    autocomplete_fields = ["account"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        return ["account", "name"] if obj is None else [*self.readonly_fields, "account", "name"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is None else [*self.readonly_fields, "account"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, raw_key = api_key_create(account=obj.account, name=obj.name)
        obj.pk = api_key.pk
        obj._raw_key = raw_key

    def response_add(self, request, obj, post_url_continue=None):
        # The raw key exists only in this response: render it instead of redirecting, so it
        # never travels through a message cookie or the session.
        context = {
            **self.admin_site.each_context(request),
            "title": "API key created",
            "api_key": obj,
            "raw_key": obj._raw_key,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/accounts/apikey/created.html", context)

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(api_key=api_key)
        self.message_user(request, "Revoked the selected keys.", messages.SUCCESS)
