"""Counts in words for people: "1 mail", "2 mails", "12,345 mails" (the UI and the CLI)."""

from __future__ import annotations


def plural(count: int, word: str, words: str | None = None) -> str:
    """The count with thousands separators and the word in the number it needs."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"
