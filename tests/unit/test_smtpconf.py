"""Which configuration sends: personal wins, group rules, Force-From, full-match Allowed-To."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.sending.choice import NONE, PERSONAL, SHARED, RecipientRefused, choose_configuration
from app.core.sending.configtest import SmtpTestRefused, prepare_smtp_test
from app.core.sending.personal import SmtpForm, save_preferences
from app.core.sending.shared import SharedConfigState, load_shared_config
from app.core.users import add_group, update_user

SHARED_BLOCK = """[Shared-Mail-Config]
Server = smtp.example.com
Port = 25
Username = userman
Password = sneakypassword
Force-From = forced@example.com
Allowed-To = `[a-f0-9]+@example\\.com`
Allowed-To = `[a-f0-9]+@example\\.io`
"""


def shared_state(tmp_path: Path, extra: str = "") -> SharedConfigState:
    path = tmp_path / "mailsiren.conf"
    path.write_text(SHARED_BLOCK + extra)
    return load_shared_config(path)


def test_without_allowed_group_everyone_may_use_the_shared_configuration(database, user, tmp_path):
    choice = choose_configuration(database, user, shared_state(tmp_path))
    assert choice.kind == SHARED and choice.admitted_by is None
    assert choice.settings.server == "smtp.example.com" and choice.settings.tls_mode == "none"
    assert "every user" in choice.reason


def test_allowed_group_admits_members_only_and_names_the_group(database, user, tmp_path):
    state = shared_state(tmp_path, "Allowed-Group = ops\nAllowed-Group = dba\n")
    refused = choose_configuration(database, user, state)
    assert refused.kind == NONE and refused.settings is None
    assert "ops, dba" in refused.reason
    assert "set your own SMTP settings" in refused.reason and "administrator" in refused.reason
    add_group(database, user, "dba")
    member = update_user(database, user, user.name, groups=["dba"])
    admitted = choose_configuration(database, member, state)
    assert admitted.kind == SHARED and admitted.admitted_by.name == "dba"
    assert str(admitted.admitted_by.origin).endswith("mailsiren.conf:10")


def test_personal_settings_always_win_and_say_there_is_no_fallback(database, user, tmp_path):
    save_preferences(database, user, SmtpForm(server="mail.personal.test", port="587"))
    choice = choose_configuration(database, user, shared_state(tmp_path))
    assert choice.kind == PERSONAL and choice.settings.server == "mail.personal.test"
    assert "never falls back" in choice.reason and choice.shared_would_admit
    choice.check_recipients(["anyone@anywhere.example"])  # no Allowed-To on personal settings


def test_a_broken_shared_file_refuses_and_names_it(database, user, tmp_path):
    state = shared_state(tmp_path, "Port = none\n")
    choice = choose_configuration(database, user, state)
    assert choice.kind == NONE and str(state.path) in choice.reason
    assert "mailsiren.conf:9: Port" in state.problems[0]


def test_no_configuration_at_all_tells_both_ways_out(database, user, tmp_path):
    choice = choose_configuration(database, user, load_shared_config(tmp_path / "none.conf"))
    assert choice.kind == NONE
    assert "set your own SMTP settings" in choice.reason and "administrator" in choice.reason


def test_force_from_replaces_whatever_sender_was_asked(database, user, tmp_path):
    choice = choose_configuration(database, user, shared_state(tmp_path))
    assert choice.sender("alice@example.com") == "forced@example.com"
    assert choice.settings.from_address == "forced@example.com"


@pytest.mark.parametrize(
    ("address", "admitted"),
    [
        ("ab12@example.com", True),
        ("AB12@Example.COM", True),  # the whole address is lower-cased first
        ("ff@example.io", True),
        ("x1@example.com.attacker.io", False),  # a search would find a1@example.com in it
        ("evil+1@example.com", False),  # a search would find 1@example.com in it
        ("1@example.com\n", False),
        ("ab@example.community", False),
        ("ab@exampleXcom", False),
    ],
)
def test_allowed_to_is_a_full_match_of_the_lower_cased_address(
    database, user, tmp_path, address, admitted
):
    choice = choose_configuration(database, user, shared_state(tmp_path))
    assert (choice.admitting_pattern(address) is not None) is admitted
    if admitted:
        choice.check_recipients([address])
    else:
        with pytest.raises(RecipientRefused) as caught:
            choice.check_recipients(["ab@example.com", address])
        assert caught.value.address == address and address in str(caught.value)


def test_a_pathological_pattern_runs_in_linear_time(database, user, tmp_path):
    state = shared_state(tmp_path, "Allowed-To = `(a+)+b`\n")
    choice = choose_configuration(database, user, state)
    assert choice.admitting_pattern("a" * 100_000 + "@x.test") is None


def test_the_test_request_refuses_a_recipient_before_connecting(database, user, tmp_path):
    with pytest.raises(SmtpTestRefused, match="x1@example.com.attacker.io is not an allowed"):
        prepare_smtp_test(
            database,
            user,
            shared_state(tmp_path),
            recipient="x1@example.com.attacker.io",
            probe=True,
        )
    request = prepare_smtp_test(
        database, user, shared_state(tmp_path), recipient="ab12@example.com", probe=True
    )
    assert request.settings.from_address == "forced@example.com"
    assert "shared configuration" in request.heading


def test_force_from_rewrites_the_from_header_and_gives_the_envelope_sender(
    database, user, tmp_path
):
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "Alice <alice@example.com>"
    message["To"] = "ab12@example.com"
    choice = choose_configuration(database, user, shared_state(tmp_path))
    assert choice.stamp_sender(message) == "forced@example.com"
    assert message.get_all("From") == ["forced@example.com"]

    save_preferences(database, user, SmtpForm(server="mail.personal.test", port="587"))
    personal = choose_configuration(database, user, shared_state(tmp_path))
    message.replace_header("From", "alice@example.com")
    assert personal.stamp_sender(message) == "alice@example.com"  # kept: no Force-From
