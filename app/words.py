"""Counts in words for people: "1 mail", "2 mails", "12,345 mails", "3.4 MB" (the UI and the
CLI)."""

from __future__ import annotations


def plural(count: int, word: str, words: str | None = None) -> str:
    """The count with thousands separators and the word in the number it needs."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def byte_size(count: int) -> str:
    """Bytes for people: "812 bytes", "20.1 kB", "3.4 MB", "1.2 GB" (powers of 1,000)."""
    if count < 1000:
        return plural(count, "byte")
    for unit in ("kB", "MB", "GB", "TB"):
        count /= 1000
        if count < 1000 or unit == "TB":
            return f"{count:,.1f} {unit}"
    raise AssertionError("unreachable")
