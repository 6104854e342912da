"""One error family: every error told to a person is a MailsirenError with its own short title."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import app
from app.errors import MailsirenError


def every_subclass() -> list[type[MailsirenError]]:
    for module in pkgutil.walk_packages(app.__path__, "app."):
        if not module.name.startswith(("app.migrations", "app.__main__")):
            importlib.import_module(module.name)
    found, waiting = [], [MailsirenError]
    while waiting:
        for child in waiting.pop().__subclasses__():
            if child.__module__.startswith("app."):
                found.append(child)
                waiting.append(child)
    return found


def test_every_error_a_person_meets_has_its_own_short_title():
    untitled = []
    for error in every_subclass():
        title = vars(error).get("title")
        if title is None:
            untitled.append(error.__name__)
            continue
        assert title.strip() and len(title) <= 40 and "\n" not in title, error
    assert untitled == [], "each needs a `title` of its own"


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("app.core.sending.choice", "RecipientRefused"),
        ("app.core.sending.personal", "SmtpFormInvalid"),
        ("app.core.sending.configtest", "SmtpTestRefused"),
        ("app.core.sending.shared", "SharedConfigError"),
        ("app.core.intake.rules", "RuleError"),
        ("app.core.addresses", "AddressError"),
    ],
)
def test_the_errors_once_outside_the_family_are_in_it(module: str, name: str):
    assert issubclass(getattr(importlib.import_module(module), name), MailsirenError)


def test_an_address_and_a_rule_error_are_still_value_errors():
    from app.core.addresses import AddressError
    from app.core.intake.rules import RuleError

    assert issubclass(AddressError, ValueError) and issubclass(RuleError, ValueError)
