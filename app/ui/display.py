"""How incidents look: state and severity as symbol, word and colour; safe, short text."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rich.text import Text

# A symbol and a word for each, so that they read the same in 16 colours or none.
STATE_LOOK = {
    "pending": ("▲", "pending", "bold red"),
    "accepted": ("◆", "accepted", "yellow"),
    "resolved": ("✓", "resolved", "green"),
}
SEVERITY_LOOK = {
    "alert": ("‼", "alert", "bold red"),
    "warning": ("!", "warning", "yellow"),
    "info": ("i", "info", "cyan"),
}
# What a mail did, in the mail log and the source editor's preview (the word is always shown).
OUTCOME_STYLE = {
    "created": "bold red",
    "appended": "yellow",
    "resolved": "bold green",
    "orphan_resolve": "cyan",
    "no_key": "bold magenta",
    "loop": "magenta",
    "filtered": "dim",
    "duplicate": "dim",
}
# C0/C1 controls (an ESC in a subject must not reach the terminal) and bidi overrides
# (a right-to-left override must not reorder the rest of the row).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str | None) -> str:
    return _UNSAFE.sub("\ufffd", text or "")


def state_text(state: str, *, symbol_only: bool = False) -> Text:
    symbol, word, style = STATE_LOOK.get(state, ("?", state, ""))
    return Text(symbol if symbol_only else f"{symbol} {word}", style=style)


def severity_text(severity: str, *, symbol_only: bool = False) -> Text:
    symbol, word, style = SEVERITY_LOOK.get(severity, ("?", severity, ""))
    return Text(symbol if symbol_only else f"{symbol} {word}", style=style)


def short(text: str | None, width: int) -> Text:
    """One line of at most `width` cells, cut with an ellipsis; never read as markup."""
    line = Text(printable(text), no_wrap=True, overflow="ellipsis")
    line.truncate(width, overflow="ellipsis")
    return line


def parse_time(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


# One rule for every screen: local time unless config.toml says time = "utc"; each screen
# names the zone once (zone_label). The CLI's JSON stays UTC whatever this says.
_show_utc = False


def show_times_in_utc(utc: bool) -> None:
    """Set once by the App from config.toml's `time`."""
    global _show_utc
    _show_utc = utc


def shown(moment: datetime) -> datetime:
    """An aware datetime in the zone the UI shows (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC if _show_utc else None)


def when(iso: str | datetime | None) -> str:
    """2026-11-21 07:20:00, in the UI's zone (see zone_label), for people."""
    if not iso:
        return ""
    moment = iso if isinstance(iso, datetime) else parse_time(iso)
    return shown(moment).strftime("%Y-%m-%d %H:%M:%S")


def zone_label() -> str:
    """The zone the screen's times are in, said once per screen: "times in CET (UTC+01:00)"."""
    local = shown(now())
    offset = local.strftime("%z")
    if _show_utc or (offset == "+0000" and local.tzname() == "UTC"):
        return "times in UTC"
    return f"times in {local.tzname()} (UTC{offset[:3]}:{offset[3:]})"


def zone_name() -> str:
    """The short name of the UI's zone, after a time: "UTC", "CET"."""
    return shown(now()).tzname() or "UTC"


def now() -> datetime:
    """The UI's clock. Snapshot tests and the screenshots freeze it by replacing this
    function, so callers outside this module call `display.now()`, never an imported copy."""
    return datetime.now(UTC)


def age(iso: str | None) -> str:
    """3s, 5m, 2h, 4d: how long ago."""
    if not iso:
        return ""
    seconds = max(0, int((now() - parse_time(iso)).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def time_left(moment: datetime) -> str:
    """ "45m", "2h05m", "3d 4h": how long from now until `moment` (at least a minute)."""
    minutes = max(1, round((moment - now()).total_seconds() / 60))
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 48 * 60:
        return f"{minutes // 60}h{minutes % 60:02d}m"
    return f"{minutes // 1440}d {minutes % 1440 // 60}h"


def ago(moment: datetime | None, never: str = "never") -> str:
    """ "5m ago" for an aware datetime, or `never`."""
    return f"{age(moment.isoformat())} ago" if moment else never
