"""What the dashboard's and the portal's pages show of deliveries: charts as coordinates
for server-rendered SVG (no JavaScript), status colours, ages in words."""

from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

STATUS_COLOURS = {
    "pending": "#b7791f",
    "sending": "#2b6cb0",
    "succeeded": "#2f855a",
    "failed": "#c53030",
    "cancelled": "#718096",
}


def hourly_chart(
    hours: list[dict], *, width: int = 720, height: int = 180, label_every: int = 3
) -> dict:
    """Stacked bars per hour by status, as coordinates for a server-rendered SVG."""
    order = ["succeeded", "failed", "cancelled", "pending", "sending"]
    peak = max((sum(h.get(s, 0) for s in order) for h in hours), default=0) or 1
    slot = width / max(len(hours), 1)
    bars = []
    for index, hour in enumerate(hours):
        y = height
        for status in order:
            h = hour.get(status, 0) / peak * (height - 10)
            if h:
                y -= h
                bars.append(
                    {
                        "x": round(index * slot + min(1, slot / 4), 2),
                        "y": round(y, 1),
                        "w": round(max(slot - min(2, slot / 2), 0.5), 2),
                        "h": round(h, 1),
                        "colour": STATUS_COLOURS[status],
                        "title": f"{hour['hour']:%Y-%m-%d %H:00} {status}: {hour[status]}",
                    }
                )
    daily = label_every >= 24
    labels = [
        {
            "x": round(i * slot + (0 if daily else slot / 2), 1),
            "text": f"{h['hour']:%a %d}" if daily else f"{h['hour']:%H}h",
        }
        for i, h in enumerate(hours)
        if i % label_every == 0
    ]
    return {"width": width, "height": height, "bars": bars, "labels": labels, "peak": peak}


def ago(moment) -> str:
    if moment is None:
        return "—"
    seconds = (timezone.now() - moment).total_seconds()
    text = "just now" if seconds < 60 else f"{timesince(moment, depth=1)} ago"
    return format_html('<span title="{}">{}</span>', f"{moment:%Y-%m-%d %H:%M:%S %Z}", text)


def outcome(status_code, error_class, error) -> str:
    """The last attempt's outcome in a word: `HTTP 500`, `timeout`, `dns`, …"""
    if error_class and error_class != "http":
        return format_html('<span class="fh-outcome" title="{}">{}</span>', error, error_class)
    if status_code:
        return format_html('<span class="fh-outcome" title="{}">HTTP {}</span>', error, status_code)
    return "—"


def health_charts(windows) -> list[dict]:
    """Each health window (selectors.endpoint_health) with its chart: hourly labels every
    3 hours for a day, daily labels for a week."""
    return [
        {
            "window": window,
            "chart": hourly_chart(window.buckets, label_every=3 if window.hours <= 24 else 24),
        }
        for window in windows
    ]
