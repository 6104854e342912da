"""Digest periods and the digest mail (SPEC §15): hourly ends at the next full hour; daily at
the next `digest_at` on the local clock, across a daylight-saving change too."""

from __future__ import annotations

from datetime import UTC, datetime

from app.core.notifications.digests import digest_body, digest_subject, period_end
from app.core.notifications.notice import IncidentNotice
from tests.clock import time_zone


def test_an_hourly_period_ends_at_the_next_full_hour():
    assert period_end("hourly", None, datetime(2026, 11, 21, 3, 59, 59, tzinfo=UTC)) == (
        datetime(2026, 11, 21, 4, 0, tzinfo=UTC)
    )
    assert period_end("hourly", None, datetime(2026, 11, 21, 4, 0, tzinfo=UTC)) == (
        datetime(2026, 11, 21, 5, 0, tzinfo=UTC)
    )


def test_a_daily_period_ends_at_digest_at_local_time_across_a_clock_change():
    with time_zone("Europe/Paris"):
        before = datetime(2026, 11, 21, 6, 59, tzinfo=UTC)  # 07:59 in Paris (UTC+1)
        assert period_end("daily", "08:00", before) == datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
        at = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)  # 08:00 itself: tomorrow's
        assert period_end("daily", "08:00", at) == datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
        # 28 March 2026 08:00 CET, then the clocks go forward: 29 March 08:00 is CEST
        spring = datetime(2026, 3, 28, 8, 0, tzinfo=UTC)
        assert period_end("daily", "08:00", spring) == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)


def test_the_digest_lists_each_event_and_the_state_now():
    opened = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    notices = [
        IncidentNotice(7, "web01 disk", "nagios", "alert", "resolved", opened, None,
                       "incident_opened", "", ()),
        IncidentNotice(7, "web01 disk", "nagios", "alert", "resolved", opened, None,
                       "incident_resolved", "", ()),
    ]  # fmt: skip
    assert digest_subject("hourly", notices) == "[mailsiren] hourly digest: 2 events"
    body = digest_body("hourly", notices)
    assert "- #7 web01 disk: opened; now resolved (alert, source nagios)" in body
    assert "- #7 web01 disk: resolved; now resolved" in body
