"""Reusable widgets, one per file, each with its DEFAULT_CSS."""
