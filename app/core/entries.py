"""The first check of a configuration entry: a TOML table whose keys are all known."""

from __future__ import annotations

from collections.abc import Sequence


def known_table(data: object, where: str, known: Sequence[str], error: type[Exception]) -> dict:
    """`data` as a table, or `error` naming `where` and the first key that is not `known`."""
    if not isinstance(data, dict):
        raise error(f"{where}: must be a table")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise error(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(known)}")
    return data
