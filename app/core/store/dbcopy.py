"""Copy a whole database to another (SQLite to PostgreSQL), then prove that nothing was lost.

Rows are copied as stored: encrypted columns stay ciphertext (the same key file reads them
on the other side), ids are kept, so every reference between rows still holds. The copy is
one transaction on the target: it lands whole or not at all. Afterwards every table is read
back from both sides and compared by row count and a SHA-256 over its rows in id order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, MetaData, Table, Text, func, insert, select, text
from sqlmodel import SQLModel

import app.core.store.models  # noqa: F401 - registers the tables on SQLModel.metadata
from app.core.store.db import Database, DatabaseError, as_utc, printable_url
from app.core.store.secrets import EncryptedText

BATCH = 200  # rows per INSERT at most
BATCH_BYTES = 32 * 1024 * 1024  # and at most this much raw mail in memory at once


@dataclass(frozen=True)
class TableCopied:
    name: str
    rows: int
    source_digest: str
    target_rows: int
    target_digest: str

    @property
    def same(self) -> bool:
        return self.rows == self.target_rows and self.source_digest == self.target_digest


@dataclass(frozen=True)
class CopyReport:
    tables: tuple[TableCopied, ...]

    @property
    def same(self) -> bool:
        return all(table.same for table in self.tables)


def stored_tables() -> list[Table]:
    """Every table in foreign-key order, with encrypted columns read and written as stored."""
    plain = MetaData()
    tables = []
    for table in SQLModel.metadata.sorted_tables:
        copied = table.to_metadata(plain)
        for column in copied.columns:
            if isinstance(column.type, EncryptedText):
                column.type = Text()
        tables.append(copied)
    return tables


def copy_database(source: Database, target: Database) -> CopyReport:
    """Copy every row of `source` into the empty, migrated `target`; compare both sides."""
    tables = stored_tables()
    with source.read() as reading, target.write() as writing:
        # One read transaction: a consistent snapshot of the source, whatever runs meanwhile.
        reader, writer = reading.connection(), writing.connection()
        _require_empty(writer, tables, target.url)
        copied = [(table, *_copy_table(reader, writer, table)) for table in tables]
        if not target.is_sqlite:
            _advance_sequences(writer, tables)
    with target.read() as session:
        checked = session.connection()
        return CopyReport(
            tuple(
                TableCopied(table.name, rows, digest, *_digest(_rows(checked, table)))
                for table, rows, digest in copied
            )
        )


def _require_empty(connection: Connection, tables: list[Table], url: str) -> None:
    for table in tables:
        count = connection.execute(select(func.count()).select_from(table)).scalar()
        if count:
            raise DatabaseError(
                f"The target database {printable_url(url)} already holds data ({count} rows in "
                f"{table.name}). Copy into a new, empty database: createdb mailsiren_new"
            )


def _copy_table(reader: Connection, writer: Connection, table: Table) -> tuple[int, str]:
    """Copy in batches; returns the source's row count and digest, computed on the way."""
    return _digest(_inserted(writer, table, _rows(reader, table)))


def _inserted(writer: Connection, table: Table, rows: Iterable[dict]) -> Iterator[dict]:
    """Insert the rows in batches (by count and by bytes), passing each one on."""
    batch, size = [], 0
    for row in rows:
        batch.append(row)
        size += sum(len(value) for value in row.values() if isinstance(value, bytes))
        if len(batch) == BATCH or size >= BATCH_BYTES:
            writer.execute(insert(table), batch)
            batch, size = [], 0
        yield row
    if batch:
        writer.execute(insert(table), batch)


def _rows(connection: Connection, table: Table) -> Iterable[dict]:
    query = select(table).order_by(*table.primary_key.columns)
    for row in connection.execution_options(yield_per=50).execute(query):
        yield dict(row._mapping)


def _digest(rows: Iterable[dict]) -> tuple[int, str]:
    digest, count = hashlib.sha256(), 0
    for row in rows:
        digest.update(_canonical(row))
        count += 1
    return count, digest.hexdigest()


def _canonical(row: dict) -> bytes:
    """The same bytes for the same row on either backend (times in UTC, bytes in hex)."""

    def plain(value):
        if isinstance(value, datetime):
            return as_utc(value).isoformat()
        if isinstance(value, bytes | memoryview):
            return bytes(value).hex()
        return value

    return json.dumps({k: plain(v) for k, v in row.items()}, sort_keys=True).encode() + b"\n"


def _advance_sequences(connection: Connection, tables: list[Table]) -> None:
    """PostgreSQL: ids were given explicitly, so each id sequence starts after the last."""
    for table in tables:
        if "id" not in table.columns:
            continue
        connection.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(:table, 'id'), "
                f"coalesce(max(id), 1), max(id) IS NOT NULL) FROM {table.name}"
            ),
            {"table": table.name},
        )
