"""Server-side prepared statements for the few statements on the delivery hot path.

Planning the hot path's statements costs PostgreSQL more than running them (about 0.3 ms
of planning against 0.1-0.2 ms of execution each, measured with EXPLAIN ANALYZE). psycopg2
never prepares on the server, so a `Statement` issues `PREPARE` once per database
connection and `EXECUTE` afterwards. Parameter types are inferred by PostgreSQL from
where each parameter is used.

A prepared statement lives in its server session: behind a pooler in transaction mode
(PgBouncer's `pool_mode = transaction`) the next transaction may run on another session,
so FLEXHOOKS_DB_PREPARED_STATEMENTS=0 turns this off and every statement is sent as is.
"""

import hashlib
import re
import weakref

from django.conf import settings

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")

# Names of the statements prepared on each open psycopg2 connection.
_prepared: "weakref.WeakKeyDictionary[object, set[str]]" = weakref.WeakKeyDictionary()


class Statement:
    """One SQL statement with %(name)s placeholders, prepared per connection on first use."""

    def __init__(self, sql: str):
        self.sql = sql
        names = list(dict.fromkeys(_PLACEHOLDER.findall(sql)))
        position = {name: n for n, name in enumerate(names, start=1)}
        self.name = "fh_" + hashlib.sha1(sql.encode()).hexdigest()[:16]  # noqa: S324 - a name, not a secret
        self._prepare = f"PREPARE {self.name} AS " + _PLACEHOLDER.sub(
            lambda match: f"${position[match[1]]}", sql.replace("%%", "%")
        )
        arguments = ", ".join(f"%({name})s" for name in names)
        self._execute = f"EXECUTE {self.name}({arguments})" if names else f"EXECUTE {self.name}"

    def execute(self, cursor, params: dict, *, prelude: str = "") -> None:
        """Run the statement on a Django cursor of a PostgreSQL connection.

        `prelude` (SQL without parameters, such as a SET LOCAL) is sent in the same round
        trip, ahead of the statement; outside a transaction the two run as one implicit
        transaction, so a SET LOCAL applies to this statement alone."""
        if not settings.FLEXHOOKS_DB_PREPARED_STATEMENTS:
            cursor.execute(f"{prelude}; {self.sql}" if prelude else self.sql, params)
            return
        raw = cursor.db.connection
        names = _prepared.setdefault(raw, set())
        if self.name not in names:
            # A pooler in session mode may hand us a server session that has it already.
            cursor.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", [self.name])
            if cursor.fetchone() is None:
                cursor.execute(self._prepare)
            names.add(self.name)
        cursor.execute(f"{prelude}; {self._execute}" if prelude else self._execute, params)


_statements: dict[str, Statement] = {}


def statement(sql: str) -> Statement:
    """The Statement for this SQL text (built once per process)."""
    found = _statements.get(sql)
    if found is None:
        found = _statements[sql] = Statement(sql)
    return found
