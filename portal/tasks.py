from celery import shared_task

from portal.services import portal_sessions_purge


@shared_task
def purge_sessions() -> None:
    """Delete ended portal sessions and old links (beat, hourly)."""
    portal_sessions_purge()
