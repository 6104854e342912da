"""Test Configuration against real SMTP servers over loopback: every stage and failure hint."""

from __future__ import annotations

import email

import pytest

from app.core.sending.personal import SmtpSettings
from app.core.sending.smtp import run_smtp_test
from tests.conftest import GOOD_PASSWORD, GOOD_USER, free_port
from tests.e2e.peers import smtp_sink

RECIPIENT = "bob@example.com"


def settings(port: int, **changes) -> SmtpSettings:
    values = dict(
        server="localhost",
        port=port,
        tls_mode="starttls",
        skip_certificate_verification=False,
        username=GOOD_USER,
        password=GOOD_PASSWORD,
        from_address="alice@example.com",
    )
    values.update(changes)
    return SmtpSettings(**values)


def stage_names(transcript) -> list[str]:
    return [stage.stage for stage in transcript.stages]


async def test_starttls_and_auth_send_a_test_mail(smtp_server, trust_test_ca):
    server = smtp_server()
    seen = []
    transcript = await run_smtp_test(
        settings(server.port), recipient=RECIPIENT, on_stage=seen.append
    )
    assert transcript.ok, transcript.summary
    assert stage_names(transcript) == [
        "resolve",
        "connect",
        "banner",
        "EHLO",
        "STARTTLS",
        "EHLO again",
        "AUTH",
        "MAIL FROM",
        "RCPT TO",
        "DATA",
        "QUIT",
    ]
    assert seen == list(transcript.stages), "the observer sees every stage as it finishes"
    starttls = transcript.stages[4]
    assert any(detail.startswith("protocol TLSv1.") for detail in starttls.details)
    assert any("certificate subject" in detail for detail in starttls.details)
    assert any(detail.startswith("expires: ") for detail in starttls.details)
    assert any(detail.startswith("verification: OK") for detail in starttls.details)
    assert transcript.stages[6].reply.startswith("235")
    [received] = server.handler.received
    assert received.mail_from == "alice@example.com" and received.rcpt_tos == [RECIPIENT]
    message = email.message_from_bytes(received.data)
    assert message["Subject"] == "mailsiren test message"
    assert message["Auto-Submitted"] == "auto-generated"


async def test_probe_stops_after_rcpt_and_sends_nothing(smtp_server, trust_test_ca):
    server = smtp_server()
    transcript = await run_smtp_test(settings(server.port), recipient=RECIPIENT, mode="probe")
    assert transcript.ok
    assert "DATA" not in stage_names(transcript)
    assert stage_names(transcript)[-2:] == ["RCPT TO", "QUIT"]
    assert server.handler.received == []
    assert "nothing was sent" in transcript.summary


async def test_wrong_password_fails_at_auth_with_the_535_reply(smtp_server, trust_test_ca):
    server = smtp_server()
    transcript = await run_smtp_test(settings(server.port, password="wrong"), recipient=RECIPIENT)
    failure = transcript.failure
    assert failure is not None and failure.stage == "AUTH"
    assert failure.reply.startswith("535")
    assert "user name or password" in failure.hint
    assert "wrong" not in " ".join(s.reply + " ".join(s.details) for s in transcript.stages)
    assert server.handler.received == []


async def test_starttls_not_offered_fails_before_auth_and_sends_nothing(smtp_server):
    server = smtp_server(starttls=False, auth=True, auth_require_tls=False)
    transcript = await run_smtp_test(settings(server.port), recipient=RECIPIENT)
    assert transcript.failure is not None
    assert transcript.failure.stage == "STARTTLS"
    assert "AUTH" not in stage_names(transcript), "no credentials may cross in plaintext"
    assert "Nothing was sent unencrypted" in transcript.failure.hint
    assert server.handler.received == []


async def test_auth_offered_only_after_starttls_is_explained(smtp_server, trust_test_ca):
    server = smtp_server(starttls=True, auth=True, auth_require_tls=True)
    transcript = await run_smtp_test(settings(server.port, tls_mode="none"), recipient=RECIPIENT)
    assert transcript.failure is not None and transcript.failure.stage == "AUTH"
    assert "only after STARTTLS" in transcript.failure.hint


async def test_server_that_refuses_auth(smtp_server):
    server = smtp_server(starttls=False, auth=False)
    transcript = await run_smtp_test(settings(server.port, tls_mode="none"), recipient=RECIPIENT)
    assert transcript.failure is not None and transcript.failure.stage == "AUTH"
    assert transcript.failure.reply == "AUTH not offered"


async def test_implicit_tls(smtp_server, trust_test_ca):
    server = smtp_server(implicit_tls=True, auth=True, auth_require_tls=False)
    transcript = await run_smtp_test(settings(server.port, tls_mode="tls"), recipient=RECIPIENT)
    assert transcript.ok, transcript.summary
    assert stage_names(transcript)[2] == "TLS + banner"
    assert "STARTTLS" not in stage_names(transcript)
    assert any(d.startswith("verification: OK") for d in transcript.stages[2].details)


async def test_implicit_tls_against_a_plaintext_port_names_the_wrong_mode(smtp_server):
    server = smtp_server(starttls=True)
    transcript = await run_smtp_test(settings(server.port, tls_mode="tls"), recipient=RECIPIENT)
    assert transcript.failure is not None
    assert transcript.failure.stage == "TLS + banner"
    assert "speaks plaintext SMTP" in transcript.failure.hint


async def test_starttls_against_implicit_tls_port_times_out_at_banner(smtp_server):
    server = smtp_server(implicit_tls=True)
    transcript = await run_smtp_test(settings(server.port), recipient=RECIPIENT, stage_timeout=0.5)
    assert transcript.failure is not None and transcript.failure.stage == "banner"
    assert transcript.failure.reply == "timed out after 0.5 s"


async def test_certificate_name_mismatch(smtp_server, trust_test_ca):
    server = smtp_server(certificate_names=("mail.example.net",))
    transcript = await run_smtp_test(settings(server.port), recipient=RECIPIENT)
    assert transcript.failure is not None and transcript.failure.stage == "STARTTLS"
    assert "name mismatch" in transcript.failure.hint.lower()
    assert "AUTH" not in stage_names(transcript)


async def test_untrusted_certificate_fails_unless_validation_is_disabled(smtp_server):
    server = smtp_server()  # its CA is not trusted: SSL_CERT_FILE is left alone here
    refused = await run_smtp_test(settings(server.port), recipient=RECIPIENT)
    assert refused.failure is not None and refused.failure.stage == "STARTTLS"
    assert "not signed by an authority" in refused.failure.hint
    accepted = await run_smtp_test(
        settings(server.port, skip_certificate_verification=True), recipient=RECIPIENT
    )
    assert accepted.ok, accepted.summary
    assert any("SKIPPED" in detail for detail in accepted.stages[4].details)


async def test_nothing_listening():
    transcript = await run_smtp_test(settings(free_port()), recipient=RECIPIENT)
    assert transcript.failure is not None and transcript.failure.stage == "connect"
    assert "Nothing listens on that port" in transcript.failure.hint


async def test_unresolvable_server_name():
    transcript = await run_smtp_test(
        settings(25, server="no-such-host.invalid"), recipient=RECIPIENT
    )
    assert transcript.failure is not None and transcript.failure.stage == "resolve"


async def test_relay_denied_is_explained(smtp_server, trust_test_ca):
    server = smtp_server(refuse_recipients_with="554 5.7.1 <bob@example.com>: Relay access denied")
    transcript = await run_smtp_test(settings(server.port), recipient=RECIPIENT)
    assert transcript.failure is not None and transcript.failure.stage == "RCPT TO"
    assert transcript.failure.reply.startswith("554 5.7.1")
    assert "Relay denied" in transcript.failure.hint


# Postfix's smtp-sink: an outside peer that no one here wrote.


async def test_smtp_sink_plaintext_send():
    with smtp_sink() as port:
        transcript = await run_smtp_test(
            settings(port, server="127.0.0.1", tls_mode="none", username=None, password=None),
            recipient=RECIPIENT,
        )
    assert transcript.ok, transcript.summary
    assert transcript.stages[2].reply.startswith("220")
    assert [s.stage for s in transcript.stages][-2:] == ["DATA", "QUIT"]


async def test_smtp_sink_without_starttls_refuses_to_go_on():
    with smtp_sink() as port:
        transcript = await run_smtp_test(settings(port, server="127.0.0.1"), recipient=RECIPIENT)
    assert transcript.failure is not None and transcript.failure.stage == "STARTTLS"


@pytest.mark.parametrize(
    ("fault", "stage", "code"),
    [("-f", "RCPT TO", "5"), ("-r", "RCPT TO", "4"), ("-f", "MAIL FROM", "5")],
)
async def test_smtp_sink_fault_modes(fault, stage, code):
    command = "rcpt" if stage == "RCPT TO" else "mail"
    with smtp_sink(fault, command) as port:
        transcript = await run_smtp_test(
            settings(port, server="127.0.0.1", tls_mode="none", username=None, password=None),
            recipient=RECIPIENT,
        )
    assert transcript.failure is not None and transcript.failure.stage == stage
    assert transcript.failure.reply.startswith(code)


async def test_smtp_sink_disconnect_at_data():
    with smtp_sink("-q", "data") as port:
        transcript = await run_smtp_test(
            settings(port, server="127.0.0.1", tls_mode="none", username=None, password=None),
            recipient=RECIPIENT,
        )
    assert transcript.failure is not None and transcript.failure.stage == "DATA"
    assert "closed the connection" in transcript.failure.reply
