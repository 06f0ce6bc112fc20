"""Writing many rows at once without model instances or the ORM's per-row Python.

Django's `bulk_update` builds a CASE expression per row and field, which costs more
Python than the write itself when a chunk changes hundreds of sessions. Here an
update is one fixed `UPDATE … WHERE pk = %s`, and `executemany` sends the rows
(psycopg 3 pipelines them in one round trip). Inserts go through `executemany`, or
`COPY` on PostgreSQL, several times faster than any INSERT. Values are prepared by
each field, as the ORM would.
"""

import functools
import time
from contextlib import contextmanager
from operator import attrgetter

import psycopg
from django.db import connection
from django.db.models.base import ModelState
from psycopg.types.json import Jsonb


def rows_update(*, model, objects: list, fields: list[str] | tuple[str, ...]) -> None:
    if not objects:
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    prepare = _preparing(columns)
    rows = [
        [
            value if field is None else field.get_db_prep_save(value, connection)
            for field, value in zip(prepare, (getattr(obj, column.attname) for column in columns), strict=True)
        ]
        + [obj.pk]
        for obj in objects
    ]
    _execute_rows(sql, rows)


def rows_insert(*, model, rows: list[dict]) -> None:
    """Insert rows given as {attname: value}, all with the same keys, without model instances.

    Building a model instance costs tens of microseconds for a wide table; the
    collect writer inserts thousands of rows a second. Only values that need it
    (times, JSON) go through their field's preparation.
    """
    if not rows:
        return
    sql, prepare = _insert_statement(model, tuple(rows[0]), connection.vendor)
    values = [
        [
            value if field is None else field.get_db_prep_save(value, connection)
            for field, value in zip(prepare, row.values(), strict=True)
        ]
        for row in rows
    ]
    _execute_rows(sql, values)


@functools.lru_cache(maxsize=64)
def _insert_statement(model, names: tuple[str, ...], vendor: str) -> tuple[str, list]:
    """The INSERT of these columns and the fields to prepare, worked out once: every queued request makes one."""
    meta, quote = model._meta, connection.ops.quote_name
    fields = [meta.get_field(name) for name in names]
    # PostgreSQL takes bytes in binary (`%b`), rather than escaped to hex text it parses back.
    binary = vendor == "postgresql"
    placeholders = ["%b" if binary and field.get_internal_type() == "BinaryField" else "%s" for field in fields]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(placeholders)})"
    )
    return sql, _preparing(fields)


def _execute_rows(sql: str, rows: list[list]) -> None:
    if connection.vendor == "postgresql":
        with _pg_cursor(sql, len(rows)) as cursor:
            if len(rows) == 1:
                cursor.execute(sql, rows[0])
            else:
                cursor.executemany(sql, rows)
        return
    with connection.cursor() as cursor:
        if len(rows) == 1:
            # executemany opens a pipeline: for a single row that costs more than it saves.
            cursor.execute(sql, rows[0])
        else:
            cursor.executemany(sql, rows)


def pg_rows(sql: str, params: list | dict, *, planned_each_time: bool = False) -> list[tuple]:
    """The rows of a PostgreSQL statement (none for one without a result), its parameters bound server-side.

    `planned_each_time`: never prepared, for a query whose best plan depends on its
    values (arrays of keys, time ranges): a prepared one may settle on a generic plan
    that scans the environment's every row.
    """
    with _pg_cursor(sql, 1) as cursor:
        cursor.execute(sql, params, prepare=False if planned_each_time else None)
        return cursor.fetchall() if cursor.description else []


@contextmanager
def _pg_cursor(sql: str, count: int):
    """A plain psycopg cursor on Django's connection, its errors Django's, its statement logged.

    Django's cursors bind parameters client-side, quoting every value in Python (a
    queued batch's whole JSON, a chunk's thousands of message IDs); a plain psycopg
    cursor sends them as they are, pipelines many rows, and prepares a statement it
    sees often.
    """
    with _logged(sql, count), connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def instances_select(model, *, where: str, params: list, then: str = "") -> list:
    """Model instances of `SELECT <every column> FROM <table> WHERE <where> <then>`, on PostgreSQL via pg_rows."""
    meta, quote = model._meta, connection.ops.quote_name
    fields = meta.concrete_fields
    columns = ", ".join(quote(field.column) for field in fields)
    rows = pg_rows(f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {where} {then}", params, planned_each_time=True)
    names = [field.attname for field in fields]
    return [model.from_db(connection.alias, names, row) for row in rows]


@contextmanager
def _logged(sql: str, count: int):
    """Record a statement sent past Django's cursors, as Django records its own (DEBUG, tests)."""
    connection.ensure_connection()
    started = time.monotonic()
    yield
    if connection.queries_logged:
        connection.queries_log.append({"sql": f"{sql} -- {count} rows", "time": f"{time.monotonic() - started:.3f}"})


def rows_copy(*, model, rows: list[dict]) -> None:
    """Insert rows given as {attname: value} with PostgreSQL's `COPY`, several times faster.

    COPY knows no ON CONFLICT: a row that breaks a unique constraint fails the
    whole statement with IntegrityError, and the caller decides what to do.
    """
    if rows:
        _copy(model, list(rows[0]), [row.values() for row in rows])


def _copy(model, attnames: list[str], rows) -> None:
    """COPY rows of values in the order of `attnames` (any iterables)."""
    meta = model._meta
    fields = [meta.get_field(name) for name in attnames]
    json_positions = [i for i, field in enumerate(fields) if field.get_internal_type() == "JSONField"]
    quote = connection.ops.quote_name
    sql = f"COPY {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) FROM STDIN"
    with (
        _logged(sql, len(rows)),
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(sql) as copy,
    ):
        for row in rows:
            if json_positions:
                row = list(row)
                for i in json_positions:
                    row[i] = Jsonb(row[i])
            copy.write_row(row)


def _preparing(fields) -> list:
    """The fields whose values need their field's preparation (times, JSON); None for the rest.

    Strings, numbers and booleans go to the driver as they are, sparing a method call
    per value that only hands them back.
    """
    return [field if field.get_internal_type() in ("DateTimeField", "JSONField") else None for field in fields]


def objects_create(*, model, objects: list, with_keys: bool = True) -> None:
    """Insert new model instances and, unless `with_keys` is False, give them their primary keys.

    On PostgreSQL the keys are drawn from the table's sequence in one statement and
    the rows go by `COPY`: a writer chunk creates thousands of sessions, which
    `bulk_create` compiles through the ORM value by value. Elsewhere, `bulk_create`.
    Field defaults were applied when the instances were made; nothing calls `save()`.
    Without keys the instances are not usable as saved ones afterwards.
    """
    if not objects:
        return
    if connection.vendor != "postgresql" or len(objects) == 1:
        model.objects.bulk_create(objects)
        return
    meta = model._meta
    fields = meta.concrete_fields
    if with_keys:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(objects)],
            )
            for obj, (pk,) in zip(objects, cursor.fetchall(), strict=True):
                obj.pk = pk
    else:
        fields = [field for field in fields if field is not meta.pk]
    # psycopg adapts times, numbers and strings itself; _copy wraps the JSON.
    attnames = [field.attname for field in fields]
    values_of = attrgetter(*attnames)  # a tuple of an instance's values, in one call
    rows = [values_of(obj) for obj in objects] if len(attnames) > 1 else [(values_of(obj),) for obj in objects]
    _copy(model, attnames, rows)
    if not with_keys:
        return
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias


_BLANKS: dict = {}  # model: (its fields' fixed defaults by attname, attnames whose default is computed)


def instance_new(model, *, cached: dict | None = None, **values):
    """A new, unsaved instance: the fields' defaults, then `values`, without `Model.__init__`.

    `__init__` walks every field, each through its descriptor, about 20 µs for a wide
    model; the collect writer makes a session for every new visit. Fixed defaults are
    worked out once per model. A field whose default is computed (a time, a dict) must
    be among `values`, so no two instances share one. `cached`: related objects by field
    name (`{"visitor": visitor}`), so reading them needs no query.
    """
    if model not in _BLANKS:
        fields = model._meta.concrete_fields
        computed = {field.attname for field in fields if field.has_default() and callable(field.default)}
        _BLANKS[model] = (
            {field.attname: field.get_default() for field in fields if field.attname not in computed},
            computed,
        )
    defaults, computed = _BLANKS[model]
    if missing := computed - values.keys():
        raise ValueError(f"{model.__name__}: give {', '.join(sorted(missing))}, whose default is computed")
    instance = model.__new__(model)
    instance.__dict__.update(defaults)
    instance.__dict__.update(values)
    instance._state = ModelState()
    if cached:
        instance._state.fields_cache.update(cached)
    return instance
