"""Template filters of the dashboard."""

from django import template

from deliveries.charts import ago

register = template.Library()


@register.filter
def fh_ago(moment) -> str:
    """`3 minutes ago`, `just now` under a minute (never "0 minutes ago")."""
    return ago(moment)
