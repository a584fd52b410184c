"""Small pieces the admin modules share: POST-only object views, bounded counting."""

import functools

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST


class TitledChangeList:
    """A ModelAdmin mix-in: the list page is titled by its plural ("Deliveries"), not
    "Select delivery to change"."""

    def changelist_view(self, request, extra_context=None):
        title = str(self.model._meta.verbose_name_plural).capitalize()
        return super().changelist_view(request, {"title": title, **(extra_context or {})})


class ReadOnlyInline(admin.TabularInline):
    """A list of related rows, each linking to its own page; nothing editable here."""

    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows, so a page of a table of millions never runs a full COUNT(*).

    Past the cap the changelist shows CAP results and its last page links stop there;
    filters and search narrow the list below it.
    """

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP].count()


def object_action_urls(model_admin: admin.ModelAdmin, actions: dict[str, str]) -> list:
    """URLs `<pk>/<name>/` for POST-only actions on one object, named
    `<app>_<model>_<name>`; each handler is `handler(request, obj)` returning a response."""
    opts = model_admin.model._meta
    urls = []
    for name, method in actions.items():
        handler = getattr(model_admin, method)

        @functools.wraps(handler)
        def view(request, object_id, _handler=handler):
            obj = get_object_or_404(model_admin.get_queryset(request), pk=object_id)
            if not model_admin.has_change_permission(request, obj):
                raise PermissionDenied
            return _handler(request, obj)

        urls.append(
            path(
                f"<path:object_id>/{name}/",
                model_admin.admin_site.admin_view(require_POST(view)),
                name=f"{opts.app_label}_{opts.model_name}_{name}",
            )
        )
    return urls


def redirect_back(request, obj) -> HttpResponseRedirect:
    """Back to where the button was (a safe `next`), else to the object's page."""
    target = request.POST.get("next") or request.META.get("HTTP_REFERER", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        opts = obj._meta
        target = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return HttpResponseRedirect(target)


class AutocompleteFilter(admin.SimpleListFilter):
    """A list filter that is one search-as-you-type select (the admin's own autocomplete
    widget, asking the related model's admin), never a link per object: it scales to any
    number of endpoints or accounts. Subclasses name the foreign key (`field` of
    `field_model`) and the lookup that filters the list (`parameter_name`); the admin
    using it adds `autocomplete_media()` to its media."""

    template = "admin/dashboard/autocomplete_filter.html"
    field_model = None
    field = ""

    def lookups(self, request, model_admin):
        return ()

    def has_output(self) -> bool:
        return True

    def _widget(self, admin_site):
        from django.contrib.admin.widgets import AutocompleteSelect

        return AutocompleteSelect(self.field_model._meta.get_field(self.field), admin_site)

    def choices(self, changelist):
        from django import forms

        remote = self.field_model._meta.get_field(self.field).related_model
        value = self.value()
        selected = remote._default_manager.filter(pk=value) if str(value).isdigit() else None
        # The widget renders only the selected object; the rest come from the search.
        widget = forms.ModelChoiceField(
            queryset=selected if selected is not None else remote._default_manager.none(),
            widget=self._widget(changelist.model_admin.admin_site),
            required=False,
        ).widget
        # Keep every other parameter of the list (filters, search, ordering), not the page.
        others = [
            (key, item)
            for key, values in changelist.params.items()
            if key not in (self.parameter_name, "p")
            for item in (values if isinstance(values, list) else [values])
        ]
        yield {
            "widget": widget.render(self.parameter_name, value or ""),
            "others": others,
            "clear_url": changelist.get_query_string(remove=[self.parameter_name]),
            "selected": bool(value),
        }

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if not str(value).isdigit():
            return queryset.none()
        return queryset.filter(**{self.parameter_name: int(value)})


def autocomplete_media(field):
    """The admin autocomplete widget's scripts and styles (select2 and its setup)."""
    from django.contrib.admin.widgets import AutocompleteSelect

    return AutocompleteSelect(field, admin.site).media
