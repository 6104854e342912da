"""Validation and storage of personal SMTP settings."""

from __future__ import annotations

import pytest

from app.core.sending.personal import (
    SmtpForm,
    SmtpFormInvalid,
    clear_preferences,
    load_preferences,
    load_settings_for_sending,
    save_preferences,
    validate_form,
)
from app.core.users import PermissionDenied, ensure_user, require


def form(**changes) -> SmtpForm:
    values = dict(
        server="smtp.example.com",
        port="587",
        username="me@example.com",
        password="pw",
        tls_mode="starttls",
        from_address="me@example.com",
    )
    values.update(changes)
    return SmtpForm(**values)


def test_every_wrong_field_is_named():
    with pytest.raises(SmtpFormInvalid) as refused:
        validate_form(form(server="bad host", port="70000", from_address="nobody", tls_mode="ssl"))
    assert set(refused.value.errors) == {"server", "port", "from_address", "tls_mode"}
    assert "IP address" in refused.value.errors["server"]


@pytest.mark.parametrize("field", ["server", "username", "password", "from_address"])
def test_line_breaks_never_reach_a_header_or_a_command(field):
    with pytest.raises(SmtpFormInvalid) as refused:
        validate_form(form(**{field: "me@example.com\r\nBcc: victim@example.org"}))
    assert field in refused.value.errors


def test_an_empty_password_keeps_the_saved_one(database, user):
    save_preferences(database, user, form(password="first"))
    view = save_preferences(database, user, form(password="", server="smtp2.example.com"))
    assert view.has_password and view.server == "smtp2.example.com"
    assert load_settings_for_sending(database, user).password == "first"


def test_no_username_means_no_password(database, user):
    save_preferences(database, user, form(password="first"))
    save_preferences(database, user, form(username="", password=""))
    assert load_settings_for_sending(database, user).password is None


def test_warnings_for_plaintext_credentials_and_skipped_validation(database, user):
    plain = save_preferences(database, user, form(tls_mode="none", port="25"))
    assert any("unencrypted" in warning for warning in plain.warnings)
    skipped = save_preferences(database, user, form(skip_certificate_verification=True))
    assert any("Certificate validation is off" in warning for warning in skipped.warnings)
    assert save_preferences(database, user, form()).warnings == ()


def test_from_defaults_to_the_users_email(database, user):
    save_preferences(database, user, form(from_address=""))
    assert load_preferences(database, user).effective_from is None
    with database.write() as session:
        from app.core.store.models import User

        session.get(User, user.id).email = "alice@example.com"
    user = ensure_user(database, user.name)
    assert load_settings_for_sending(database, user).from_address == "alice@example.com"


def test_clear(database, user):
    save_preferences(database, user, form())
    assert clear_preferences(database, user) is True
    assert load_preferences(database, user) is None
    assert clear_preferences(database, user) is False


def test_first_user_is_admin_later_users_are_not(database):
    first = ensure_user(database, "alice")
    second = ensure_user(database, "bob")
    assert first.is_admin and first.can("triage")
    assert not second.is_admin and not second.can("triage")
    with pytest.raises(PermissionDenied, match="'triage'"):
        require(second, "triage")
    assert ensure_user(database, "alice").id == first.id
