"""Wake-up messages: Celery task messages carrying delivery ids, published to the broker.

PostgreSQL holds the truth; a message only wakes a worker, so a publish that fails loses
nothing (the sweeper publishes again whatever is due and was not consumed).

On Redis the messages of one batch go out in a single LPUSH, written as kombu's Redis
transport writes them: Celery's message protocol v2 (headers from Celery's own
`create_task_message`) in kombu's JSON envelope with a base64 body — the documented wire
format that Celery producers in other languages write too. kombu's publish path costs
about 250 µs of CPU per message here (it builds a Redis client object per message, checks
declarations, wraps the call in retry machinery); this one about 25 µs per message plus
about 100 µs for the batch's round trip (127 µs for a lone message). A test holds the two
formats equal field by field, and real workers consume these messages in the end-to-end
tests. Any other broker, or Redis transport options that change where kombu puts a
message (key prefixes, priorities, TLS), go through kombu as before.
"""

import base64
import logging
import os
import uuid
from urllib.parse import urlsplit

import redis
from celery import Celery
from kombu.utils.json import dumps

logger = logging.getLogger(__name__)

# Redis transport options that do not change the key or the envelope of a message.
_HARMLESS_OPTIONS = frozenset({"visibility_timeout"})


def publish(task, arguments: list[tuple]) -> None:
    """One message of `task` per argument tuple, in order. Never raises: a message lost
    here is published again by the sweeper."""
    if not arguments:
        return
    try:
        queue = task.app.amqp.router.route({}, task.name)["queue"]
        if _lpush_possible(task.app, queue):
            _publish_lpush(task, queue.name, arguments)
        else:
            _publish_kombu(task, queue, arguments)
    except Exception:  # the database already holds the truth; the sweeper re-sends
        logger.exception(
            "could not publish %d %s messages; the sweeper will", len(arguments), task.name
        )


def _lpush_possible(app: Celery, queue) -> bool:
    conf = app.conf
    return (
        urlsplit(conf.broker_url).scheme == "redis"
        and not conf.broker_use_ssl
        and set(conf.broker_transport_options or {}) <= _HARMLESS_OPTIONS
        and queue.exchange.type == "direct"
        and not queue.expires
        and not queue.queue_arguments
        and not queue.max_priority
    )


def _task_message(task, args: tuple):
    """Celery's message for one call (what apply_async would make); our arguments are
    ids, so a plain repr rather than Celery's size-capped saferepr."""
    return task.app.amqp.create_task_message(
        str(uuid.uuid4()), task.name, args, {}, argsrepr=repr(args)[:1024], kwargsrepr="{}"
    )


def _message(task, args: tuple, routing_key: str) -> bytes:
    """One message, as kombu's Redis transport would write it (anonymous direct exchange,
    persistent, priority 0)."""
    message = _task_message(task, args)
    body = base64.b64encode(dumps(message.body).encode()).decode()
    envelope = {
        "body": body,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": message.headers,
        "properties": {
            **message.properties,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": routing_key},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return dumps(envelope).encode()


def _publish_lpush(task, queue_name: str, arguments: list[tuple]) -> None:
    messages = [_message(task, args, queue_name) for args in arguments]
    # LPUSH takes them in order; workers pop from the other end: first in, first out.
    _client(task.app).lpush(queue_name, *messages)


def _publish_kombu(task, queue, arguments: list[tuple]) -> None:
    # Routed once per batch instead of once per message, as apply_async would.
    send = task.app.amqp.send_task_message
    with task.app.producer_or_acquire() as producer:
        for args in arguments:
            send(producer, task.name, _task_message(task, args), queue=queue)


_clients: dict[tuple, redis.Redis] = {}


def _client(app: Celery) -> redis.Redis:
    """One client (a thread-safe connection pool) per process and broker. Connecting and
    each command are bounded by broker_connection_timeout: a hung Redis costs an emit a
    few seconds and a logged failure, never a request that hangs."""
    url, timeout = app.conf.broker_url, app.conf.broker_connection_timeout
    key = (os.getpid(), url, timeout)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
    return client
