"""Database errors that a filter's values or size caused, as the client's error (400) rather than the server's.

The filters are checked before any SQL is written (kartenn.filter_check), so these are the last guard: a value
PostgreSQL cannot take (a text for a number, a NUL byte), or more than SQLite's parser holds (a site that raised
the limits on terms and depth past what it can parse).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.exc import DBAPIError

from kartenn.errors import InvalidInput

POSTGRES_REFUSALS = (psycopg.errors.DataError, psycopg.errors.ProgramLimitExceeded,
                     psycopg.errors.StatementTooComplex)
SQLITE_REFUSALS = ("parser stack overflow", "Expression tree is too large", "LIKE or GLOB pattern too complex",
                   "too many SQL variables")


@contextmanager
def refused_filters() -> Iterator[None]:
    try:
        yield
    except (psycopg.Error, sqlite3.Error, DBAPIError) as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        if isinstance(cause, POSTGRES_REFUSALS):
            first = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]
            raise InvalidInput(f"the database refused a value of the filter: {first}", locator="filter") from None
        if isinstance(cause, sqlite3.OperationalError) and any(r in str(cause) for r in SQLITE_REFUSALS):
            raise InvalidInput("the filter is too complex for the database; simplify it", locator="filter") from None
        raise
