"""Answering a notification by email (SPEC §15): the token binds incident, event and
recipient; a reply acts only from that recipient (or a user with `triage`), and every other
reply is `reply_refused` with the reason and changes nothing. Both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.core.incidents.views import list_mails, show_incident
from app.core.intake.pipeline import all_enabled_addresses, ingest_mail
from app.core.intake.sources import save_source
from app.core.notifications.integrations import IntegrationSpec, save_integration
from app.core.notifications.org import OrgSettingsError, OrgView, parse_org, save_org
from app.core.notifications.replies import (
    MAC_LETTERS,
    reply_command,
    reply_to_address,
    reply_token,
)
from app.core.store.models import Delivery
from app.core.users import add_user
from tests.clock import T0, Clock
from tests.mails import SOURCE, alert_mail

REPLY_ADDRESS = "mailsiren@alerts.example.com"
ONCALL = "oncall@ops.example.com"


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def paged(database, user, clock) -> tuple[int, int]:
    """An incident whose opening was mailed to ONCALL: (incident id, event id)."""
    save_org(database, user, OrgView(reply_address=REPLY_ADDRESS))
    save_source(database, user, {"name": "nagios", "address": SOURCE})
    save_integration(database, user, IntegrationSpec(ONCALL, "all"), confirmed=True)
    result = ingest_mail(database, alert_mail("web01 DOWN"), [SOURCE], via="smtp", clock=clock)
    incident_id = result.outcomes[0].incident_id
    with database.read() as session:
        event_id = session.execute(
            select(Delivery.event_id).where(Delivery.incident_id == incident_id)
        ).scalar_one()
    return incident_id, event_id


def token_for(database, paged, address: str = ONCALL) -> str:
    return reply_token(database.keyring, *paged, address)


def reply(database, clock, token: str, body: str, *, sender: str = ONCALL, envelope=None,
          headers=None):  # fmt: skip
    clock.advance(minutes=1)
    raw = alert_mail("Re: [ALERT] #1 web01 DOWN", body, sender=sender, to=None, headers=headers)
    to = reply_to_address(REPLY_ADDRESS, token)
    result = ingest_mail(database, raw, [to], via="smtp", envelope_from=envelope, clock=clock)
    [outcome] = result.outcomes
    return outcome


def state(database, incident_id: int) -> tuple[str, str | None]:
    view = show_incident(database, incident_id).incident
    return view.state, view.accepted_by


def test_the_recipient_acks_by_replying_and_the_mail_log_says_so(database, clock, paged):
    outcome = reply(database, clock, token_for(database, paged), "ack\n\n> [ALERT] #1 …")
    assert (outcome.outcome, outcome.incident_id) == ("reply", paged[0])
    assert state(database, paged[0])[0] == "accepted"
    assert state(database, paged[0])[1].startswith("the recipient of notification ")
    [logged] = list_mails(database, outcome="reply")
    assert (logged.source, logged.incident_id) == (None, paged[0])
    [answer] = [e for e in show_incident(database, paged[0]).timeline if e.kind == "reply"]
    assert answer.mail_id == logged.id and "answering notification" in answer.detail


def test_a_user_replying_acts_as_themselves(database, user, clock, paged):
    add_user(database, user, "bob", email="Bob@Ops.example.com", permissions=["triage"])
    bobs = reply(
        database, clock, token_for(database, paged), "resolve", sender="bob@ops.example.com"
    )
    assert bobs.outcome == "reply"  # not the recipient, but a user who may triage
    view = show_incident(database, paged[0]).incident
    assert (view.state, view.resolved_by) == ("resolved", "bob")


@pytest.mark.parametrize(
    ("tamper", "said"),
    [
        (lambda t: t.replace(t.split(".")[0], "999", 1), "bad token"),  # another incident
        (lambda t: ".".join([*t.split(".")[:2], "a" * MAC_LETTERS]), "bad token"),
        (lambda t: t[:-1] + ("b" if t[-1] != "b" else "c"), "bad token"),
        (lambda t: t.split(".", 1)[0], "no token"),
    ],
)
def test_a_tampered_token_is_refused_and_nothing_changes(database, clock, paged, tamper, said):
    outcome = reply(database, clock, tamper(token_for(database, paged)), "resolve")
    assert outcome.outcome == "reply_refused" and said in outcome.reason
    assert state(database, paged[0]) == ("pending", None)


def test_a_token_made_for_another_recipient_does_not_verify(database, clock, paged):
    other = token_for(database, paged, "someone@else.example")
    assert reply(database, clock, other, "ack").outcome == "reply_refused"
    assert state(database, paged[0]) == ("pending", None)


@pytest.mark.parametrize(
    ("sender", "envelope", "said"),
    [
        ("mallory@evil.example", None, "wrong sender"),
        (ONCALL, "mallory@evil.example", "From header and envelope sender differ"),
    ],
)
def test_the_right_token_from_the_wrong_sender_is_refused(
    database, user, clock, paged, sender, envelope, said
):
    add_user(database, user, "victor", email="mallory@evil.example")  # no triage
    outcome = reply(database, clock, token_for(database, paged), "ack", sender=sender,
                    envelope=envelope)  # fmt: skip
    assert outcome.outcome == "reply_refused" and said in outcome.reason
    assert state(database, paged[0]) == ("pending", None)


def test_a_command_the_state_forbids_is_refused_with_the_state(database, clock, paged):
    token = token_for(database, paged)
    assert reply(database, clock, token, "ack").outcome == "reply"
    again = reply(database, clock, token, "ack")
    assert again.outcome == "reply_refused" and "is accepted" in again.reason


def test_other_text_is_a_note_and_an_auto_reply_is_a_loop(database, clock, paged):
    token = token_for(database, paged)
    noted = reply(database, clock, token, "Disk replaced, watching it.\n\nOn Sat … wrote:\n> x")
    assert noted.outcome == "reply"
    note = show_incident(database, paged[0]).latest_note
    assert note.detail == "Disk replaced, watching it."
    away = reply(database, clock, token, "I am out of the office",
                 headers={"Auto-Submitted": "auto-replied"})  # fmt: skip
    assert away.outcome == "loop"
    assert show_incident(database, paged[0]).latest_note == note


def test_the_listener_accepts_plus_addresses_only_when_a_reply_address_is_set(
    database, user, clock
):
    save_source(database, user, {"name": "nagios", "address": SOURCE})
    assert all_enabled_addresses(database) == {SOURCE}
    save_org(database, user, OrgView(reply_address=REPLY_ADDRESS))
    assert "mailsiren+*@alerts.example.com" in all_enabled_addresses(database)


def test_a_reply_to_the_bare_plus_address_is_stored_and_refused(database, user, clock):
    save_org(database, user, OrgView(reply_address=REPLY_ADDRESS))
    raw = alert_mail("hello", "ack", sender=ONCALL, to=None)
    result = ingest_mail(database, raw, ["mailsiren+hello@alerts.example.com"], via="smtp",
                         clock=clock)  # fmt: skip
    assert result.stored and result.outcomes[0].outcome == "reply_refused"


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("mailsiren+x@alerts.example.com", "has a + in its local part"),
        ("not an address", "reply_address"),
        ("a" * 21 + "@x.example", "at most 20"),
        (42, "must be an address"),
    ],
)
def test_a_wrong_reply_address_is_refused_naming_the_key(value, said):
    with pytest.raises(OrgSettingsError, match="reply_address") as refused:
        parse_org({"reply_address": value})
    assert said in str(refused.value)


OUTLOOK = """ack\r
\r
________________________________\r
From: mailsiren <siren@example.com>\r
Sent: Saturday, November 21, 2026 3:00 AM\r
To: On call <oncall@ops.example.com>\r
Subject: [ALERT] #1 web01 DOWN\r
\r
Incident #1 is pending: web01 DOWN\r
"""
GMAIL = """Resolve

On Sat, Nov 21, 2026 at 3:00 AM mailsiren <siren@example.com> wrote:

> Incident #1 is pending: web01 DOWN
> How to triage it:
"""
APPLE_MAIL = """reopen

Sent from my iPhone

> On 21 Nov 2026, at 03:00, mailsiren <siren@example.com> wrote:
>
> Incident #1 is resolved
"""
MUTT = """On Sat, Nov 21, 2026 at 03:00:00AM +0000, mailsiren wrote:
> Incident #1 is pending: web01 DOWN
> ack

note rotated the logs on web01
the disk is at 60% now
"""
HTML_ONLY_AS_TEXT = """ACK.

From: mailsiren
Incident #1 is pending
"""  # what the parser keeps of an HTML-only reply (<div>ACK.</div><blockquote>…)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (OUTLOOK, ("accept", "")),
        (GMAIL, ("resolve", "")),
        (APPLE_MAIL, ("reopen", "")),
        (HTML_ONLY_AS_TEXT, ("accept", "")),
        ("note disk swapped\nby the DC team\n> quoted", ("note", "disk swapped\nby the DC team")),
        ("ack please, I am on it", ("note", "ack please, I am on it")),
        ("> only quoted text", ("note", "")),
    ],
)
def test_the_command_is_the_first_line_the_person_wrote(body, expected):
    assert reply_command(body) == expected


def test_muttʼs_bottom_post_reads_the_note_below_the_quote():
    """mutt quotes first and writes below; its quote header comes first, so what the person
    wrote is after the quoted lines."""
    assert reply_command(MUTT) == ("note", "rotated the logs on web01\nthe disk is at 60% now")


def test_key_rotation_keeps_tokens_of_earlier_notifications(database, clock, paged):
    """`key rotate` makes a new Fernet key; the HMAC key tokens derive from is kept, so a
    page sent before the rotation can still be answered."""
    before = token_for(database, paged)
    rotated = database.keyring.with_new_primary_key()
    assert reply_token(rotated, *paged, ONCALL) == before


def test_an_html_only_reply_is_read_from_its_text(database, clock, paged):
    """Outlook on the web and some phones send HTML alone: the parser's text of it is read."""
    token = token_for(database, paged)
    html = (
        f"From: {ONCALL}\r\nTo: {reply_to_address(REPLY_ADDRESS, token)}\r\n"
        "Subject: RE: [ALERT] #1 web01 DOWN\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        "<html><body><div>Resolve</div><div><br></div><hr>"
        "<div><b>From:</b> mailsiren &lt;siren@example.com&gt;</div>"
        "<blockquote>Incident #1 is pending: web01 DOWN</blockquote></body></html>\r\n"
    ).encode()
    result = ingest_mail(database, html, [reply_to_address(REPLY_ADDRESS, token)], via="smtp",
                         clock=clock)  # fmt: skip
    assert result.outcomes[0].outcome == "reply", result.outcomes[0].reason
    assert state(database, paged[0])[0] == "resolved"


def test_a_reply_delivered_twice_acts_once(database, clock, paged):
    """The sender retries when it never saw our 250: the same bytes are a duplicate."""
    token = token_for(database, paged)
    raw = alert_mail("Re: page", "note disk swapped", sender=ONCALL, to=None,
                     message_id="<twice@ops.example.com>")  # fmt: skip
    to = [reply_to_address(REPLY_ADDRESS, token)]
    first = ingest_mail(database, raw, to, via="smtp", clock=clock).outcomes[0]
    again = ingest_mail(database, raw, to, via="smtp", clock=clock).outcomes[0]
    assert (first.outcome, again.outcome) == ("reply", "duplicate")
    notes = [e for e in show_incident(database, paged[0]).timeline if e.kind == "note"]
    assert len(notes) == 1
