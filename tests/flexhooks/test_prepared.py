"""Hot-path statements are prepared once per PostgreSQL connection, or not at all."""

import pytest
from django.db import connection

from deliveries.services import delivery_send, event_emit
from flexhooks.prepared import Statement, _prepared, statement
from tests.factories import make_endpoint

# Transactional: the tests close the connection, which a test's own transaction forbids.
pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def _run(sql: str, params: dict):
    with connection.cursor() as cursor:
        statement(sql).execute(cursor, params)
        return cursor.fetchall()


def test_placeholders_become_positions_in_order_of_first_use():
    sql = "SELECT %(b)s::int + %(a)s::int + %(b)s::int WHERE 'x' LIKE 'x%%'"
    made = Statement(sql)
    assert made._prepare.endswith("AS SELECT $1::int + $2::int + $1::int WHERE 'x' LIKE 'x%'")
    assert made._execute == f"EXECUTE {made.name}(%(b)s, %(a)s)"


def test_prepared_once_per_connection_and_again_on_a_new_one():
    sql = "SELECT %(n)s::int * 2"
    assert _run(sql, {"n": 2}) == [(4,)]
    assert _run(sql, {"n": 5}) == [(10,)]
    assert statement(sql).name in _prepared_names()
    connection.close()  # the next statement runs on a new server session
    assert _run(sql, {"n": 7}) == [(14,)]
    assert statement(sql).name in _prepared_names()


def test_a_session_that_has_it_already_is_used_as_it_is():
    sql = "SELECT %(n)s::int + 1"
    assert _run(sql, {"n": 1}) == [(2,)]
    _prepared.clear()  # as if a pooler gave this server session to a new client connection
    assert _run(sql, {"n": 2}) == [(3,)]


def test_nothing_is_prepared_when_turned_off(settings, account, receiver):
    settings.FLEXHOOKS_DB_PREPARED_STATEMENTS = False
    connection.close()
    make_endpoint(account, receiver.url + "/off")
    result = event_emit(account=account, event_type="invoice.created", data={})
    delivery_send(delivery_id=result.event.deliveries.get().pk)
    assert len(receiver.received()) == 1
    assert not {name for name in _prepared_names() if name.startswith("fh_")}


@pytest.mark.parametrize("prepared", [True, False])
def test_a_prelude_applies_to_its_statement_alone(settings, prepared):
    settings.FLEXHOOKS_DB_PREPARED_STATEMENTS = prepared
    sql = "SELECT current_setting('synchronous_commit')"
    with connection.cursor() as cursor:
        statement(sql).execute(cursor, {}, prelude="SET LOCAL synchronous_commit = off")
        assert cursor.fetchall() == [("off",)]
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchall() == [("on",)]
