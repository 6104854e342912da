"""Snapshot of the SMTP screen at 80×24 after Test Configuration: the transcript on screen."""

from __future__ import annotations

import pytest

import app.ui.screens.smtp as smtp_screen
from app.core.sending.smtp import StageResult, Transcript
from app.ui.app import MailsirenApp
from tests.snapshots.test_snapshots import settle, with_saved_settings

# A conversation as the real client reports it, with fixed times: real ones vary per run.
STAGES = (
    StageResult("resolve", True, "192.0.2.25", 1.0),
    StageResult("connect", True, "connected to 192.0.2.25:587", 12.0),
    StageResult("banner", True, "220 smtp.example.com ESMTP", 30.0),
    StageResult("EHLO", True, "250 smtp.example.com", 4.0, ("offers: SIZE PIPELINING STARTTLS",)),
    StageResult(
        "STARTTLS",
        True,
        "220 2.0.0 Ready to start TLS",
        41.0,
        (
            "protocol TLSv1.3, cipher TLS_AES_256_GCM_SHA384",
            "certificate subject: CN=smtp.example.com",
            "expires: 2027-03-01 00:00 UTC",
            "verification: OK, chain trusted and name matches smtp.example.com",
        ),
    ),
    StageResult("EHLO again", True, "250 smtp.example.com", 3.0, ("offers: SIZE AUTH LOGIN",)),
    StageResult("AUTH", True, "235 2.7.0 Authentication successful", 88.0),
    StageResult("MAIL FROM", True, "250 2.1.0 Ok", 5.0),
    StageResult("RCPT TO", True, "250 2.1.5 Ok", 6.0),
    StageResult("DATA", True, "250 2.0.0 Ok: queued as 4XyZ", 70.0),
    StageResult("QUIT", True, "221 2.0.0 Bye", 2.0),
)


@pytest.fixture
def fixed_conversation(monkeypatch):
    async def run_smtp_test(settings, *, recipient, mode="send", on_stage=None, **_options):
        for stage in STAGES:
            if on_stage is not None:
                on_stage(stage)
        return Transcript(STAGES, mode, recipient)

    monkeypatch.setattr(smtp_screen, "run_smtp_test", run_smtp_test)


async def press_test_configuration(pilot) -> None:
    await settle(pilot)
    await pilot.press("ctrl+t")
    await settle(pilot)


def test_smtp_test_transcript_at_80x24(snap_compare, workspace, fixed_conversation):
    with_saved_settings(workspace)
    app = MailsirenApp(workspace, initial_mode="smtp")
    assert snap_compare(app, terminal_size=(80, 24), run_before=press_test_configuration)
