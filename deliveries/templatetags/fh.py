"""Template filters of the dashboard."""

from django import template

from deliveries.charts import ago, outcome

register = template.Library()


@register.filter
def fh_ago(moment) -> str:
    """`3 minutes ago`, `just now` under a minute (never "0 minutes ago")."""
    return ago(moment)


@register.filter
def fh_outcome(delivery) -> str:
    """A delivery's last outcome in a word: `HTTP 500`, `timeout`, `dns`, …"""
    return outcome(delivery.last_status_code, delivery.last_error_class, delivery.last_error)
