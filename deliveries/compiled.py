"""ORM statements compiled once per process, then run with new values.

Building and compiling a queryset costs Django 0.1 to 1 ms of CPU, more than PostgreSQL
spends running the statement; the delivery hot path runs one to three statements per
attempt. So each hot statement is written as an ordinary queryset — the one definition
of its rule, the same on every backend — with `Param` placeholders where values change,
compiled by Django's own compiler on first use, and then executed with named values.
Constants are inlined, so PostgreSQL's generic plans still use the partial indexes; with
Django's server-side binding, psycopg prepares each statement after a few runs.
Measured and decided in docs/decisions/0001-compiled-statements.md.
"""

import re
from dataclasses import dataclass

from django.db import connections
from django.db.models import (
    BooleanField,
    CharField,
    DateTimeField,
    Expression,
    Field,
    IntegerField,
    Model,
    QuerySet,
    TextField,
)
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery, UpdateQuery


class Param(Expression):
    """A named value, bound when the compiled statement runs; `field` adapts it."""

    def __init__(self, name: str, field: Field):
        super().__init__(output_field=field)
        self.name = name

    def as_sql(self, compiler, connection):
        return "%s", [self]

    def __repr__(self) -> str:
        return f"Param({self.name!r})"


# Values psycopg adapts itself on PostgreSQL: Django's preparation would only cost time.
_NATIVE_ON_POSTGRESQL = (IntegerField, CharField, TextField, DateTimeField, BooleanField)


@dataclass(frozen=True)
class Statement:
    """SQL with %(name)s placeholders, and the field that adapts each named value."""

    sql: str
    fields: dict[str, Field]

    def values(self, values: dict, connection) -> dict:
        if connection.vendor == "postgresql":
            return {
                name: values[name]
                if isinstance(field, _NATIVE_ON_POSTGRESQL)
                else field.get_db_prep_value(values[name], connection, prepared=False)
                for name, field in self.fields.items()
            }
        return {
            name: field.get_db_prep_value(values[name], connection, prepared=False)
            for name, field in self.fields.items()
        }

    def run(self, cursor, values: dict) -> None:
        cursor.execute(self.sql, self.values(values, cursor.db))

    def __add__(self, other: "Statement") -> "Statement":
        return Statement(self.sql + other.sql, {**self.fields, **other.fields})


def text(sql: str) -> Statement:
    """Glue between compiled pieces (composition only: no values, no rules)."""
    return Statement(sql, {})


_PLACEHOLDER = re.compile(r"%%|%s")


def _finish(sql: str, params, using: str) -> Statement:
    """Named placeholders for the Params, SQL literals for the constants."""
    connection = connections[using]
    fields: dict[str, Field] = {}
    values = iter(params)

    def replace(match) -> str:
        if match[0] == "%%":
            return "%%"
        value = next(values)
        if isinstance(value, Param):
            fields[value.name] = value.output_field
            return f"%({value.name})s"
        connection.ensure_connection()  # PostgreSQL quotes with the live connection
        literal = str(connection.schema_editor().quote_value(value))
        if connection.vendor != "postgresql":  # PostgreSQL's quote_value doubles % itself
            literal = literal.replace("%", "%%")
        return literal

    return Statement(_PLACEHOLDER.sub(replace, sql), fields)


def select(queryset: QuerySet) -> Statement:
    sql, params = queryset.query.get_compiler(queryset.db).as_sql()
    return _finish(sql, params, queryset.db)


def update(queryset: QuerySet, values: dict, *, returning: tuple[str, ...] = ()) -> Statement:
    """queryset.update(**values), optionally returning columns of the changed rows."""
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(queryset.db).as_sql()
    return _finish(sql + _returning(queryset.model, returning, queryset.db), params, queryset.db)


def insert(
    model: type[Model],
    values: dict,
    *,
    ignore_conflicts: bool = False,
    returning: tuple[str, ...] = (),
    using: str = "default",
) -> Statement:
    """One row of model with these field values (Params or constants)."""
    fields = [model._meta.get_field(name) for name in values]
    query = InsertQuery(model, on_conflict=OnConflict.IGNORE if ignore_conflicts else None)
    query.insert_values(fields, [model(**values)])
    ((sql, params),) = query.get_compiler(using).as_sql()
    return _finish(sql + _returning(model, returning, using), params, using)


def insert_select(
    model: type[Model],
    columns: tuple[str, ...],
    queryset: QuerySet,
    *,
    only_if: str = "",
    returning=(),
) -> Statement:
    """INSERT INTO model (columns) the queryset's rows: its values_list gives the columns in
    this order; the others take their database defaults (db_default). `only_if` is an SQL
    condition on the insert as a whole (composition glue, e.g. on a CTE)."""
    quote = connections[queryset.db].ops.quote_name
    names = ", ".join(quote(model._meta.get_field(name).column) for name in columns)
    head = text(f"INSERT INTO {quote(model._meta.db_table)} ({names}) SELECT * FROM (")
    condition = f" WHERE {only_if}" if only_if else ""
    tail = text(f") rows{condition}{_returning(model, returning, queryset.db)}")
    return head + select(queryset) + tail


def _returning(model: type[Model], names: tuple[str, ...], using: str) -> str:
    if not names:
        return ""
    quote = connections[using].ops.quote_name
    return " RETURNING " + ", ".join(quote(model._meta.get_field(n).column) for n in names)
