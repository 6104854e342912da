"""The Integrations area by keyboard: add with the external-address question, edit a policy,
org settings, the delivery log with a failure's advice, and permissions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from textual.widgets import Input, Static, TextArea

from app.core.incidents.escalation import list_policies, parse_policy, save_policy
from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import save_source
from app.core.notifications.deliveries import list_deliveries
from app.core.notifications.integrations import IntegrationSpec, list_integrations, save_integration
from app.core.notifications.org import OrgView, load_org, save_org
from app.core.store.models import Delivery, DeliveryAttempt
from app.core.users import add_user
from app.ui.app import MailsirenApp
from app.ui.modals.confirm import ConfirmModal
from app.ui.modals.integration_form import IntegrationFormModal
from app.ui.modals.org_form import OrgFormModal
from app.ui.modals.policy_form import PolicyFormModal
from app.ui.screens import deliveries as deliveries_screen
from app.ui.screens import integrations as integrations_screen
from app.ui.screens.deliveries import DeliveriesScreen
from app.ui.widgets.deliveries_table import DeliveriesTable
from app.ui.widgets.integrations_table import IntegrationsTable
from tests.clock import Clock, time_zone
from tests.fixtures.notifications import with_notifications
from tests.snapshots.test_snapshots import FROZEN
from tests.ui.ages import next_redraw, redraws
from tests.ui.pilot import settle, type_into

UNKNOWN = "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"


def notices(app) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


def with_a_failed_delivery(workspace) -> None:
    database, user = workspace.database, workspace.user
    save_org(database, user, OrgView(internal_domains=("example.com",)))
    save_integration(database, user, IntegrationSpec("nobody@example.com", "alert"))
    save_source(database, user, {"name": "src", "address": "src@alerts.example.com"})
    mail = b"From: m@example.com\r\nSubject: PROBLEM web01\r\n\r\nHost web01 is DOWN\r\n"
    ingest_mail(database, mail, ["src@alerts.example.com"], via="ingest")
    with database.write() as session:  # what the dispatcher records after a 550
        delivery = session.get(Delivery, 1)
        delivery.status, delivery.attempts, delivery.last_reply = "failed", 1, UNKNOWN
        delivery.hint = "Unknown mailbox: verify the email address (a typo?)"
        session.add(delivery)
        session.add(
            DeliveryAttempt(
                delivery_id=1, at=datetime(2026, 11, 21, 3, tzinfo=UTC), outcome="permanent",
                stage="RCPT TO", reply=UNKNOWN,
            )
        )  # fmt: skip


async def test_an_external_address_is_added_only_after_the_seeds_caution(workspace):
    save_org(workspace.database, workspace.user, OrgView(internal_domains=("example.com",)))
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        assert isinstance(app.screen, IntegrationFormModal)
        await type_into(pilot, "#address", "pager@gmail.com")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        question = str(app.screen.query_one(Static).render())
        assert "outside the internal domains (example.com)" in question
        assert "vulnerability details" in question
        await pilot.press("n")  # no: back to the form, as typed
        await settle(app, pilot)
        assert list_integrations(workspace.database, workspace.user) == []
        assert isinstance(app.screen, IntegrationFormModal)
        assert app.screen.query_one("#address", Input).value == "pager@gmail.com"
        assert app.screen.query_one("#address", Input).has_focus
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        [saved] = list_integrations(workspace.database, workspace.user)
        assert (saved.address, saved.level, saved.owner) == ("pager@gmail.com", "all", "alice")
        assert app.screen.query_one(IntegrationsTable).row_count == 1
        await pilot.press("t")
        await settle(app, pilot)
        assert not list_integrations(workspace.database, workspace.user)[0].enabled


async def test_a_daily_digest_integration_is_added_from_the_form(workspace):
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await type_into(pilot, "#address", "team@example.com")
        app.screen.query_one("#frequency").value = "daily"
        await type_into(pilot, "#digest-at", "8:3")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, IntegrationFormModal)  # 8:3 is no time of day
        assert "write it like 08:00" in str(app.screen.query_one("#error").render())
        app.screen.query_one("#digest-at", Input).value = "08:30"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        if isinstance(app.screen, ConfirmModal):  # outside the internal domains: yes
            await pilot.press("y")
            await settle(app, pilot)
        [saved] = list_integrations(workspace.database, workspace.user)
        assert (saved.frequency, saved.digest_at) == ("daily", "08:30")


async def test_a_wrong_address_is_named_in_the_form(workspace):
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await type_into(pilot, "#address", "ops")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, IntegrationFormModal)
        beside = app.screen.query_one("#address-error", Static)  # beside the field
        assert "lacks the @domain part" in str(beside.render()) and beside.display


async def test_no_to_the_duplicate_question_goes_back_to_the_form(workspace):
    save_org(workspace.database, workspace.user, OrgView(internal_domains=("example.com",)))
    save_integration(workspace.database, workspace.user, IntegrationSpec("ops@example.com"))
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await type_into(pilot, "#address", "ops@example.com")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        assert "already configured" in str(app.screen.query_one(Static).render())
        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(app.screen, IntegrationFormModal)
        assert app.screen.query_one("#address", Input).value == "ops@example.com"
        assert len(list_integrations(workspace.database, workspace.user)) == 1
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, IntegrationFormModal)


async def test_a_refused_integration_save_keeps_the_form_open_with_the_reason(workspace):
    add_user(workspace.database, workspace.user, "editor", permissions=["edit_connections"])
    from app.core.users import ensure_user, update_user

    admin, workspace.user = workspace.user, ensure_user(workspace.database, "editor")
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await type_into(pilot, "#address", "ops@example.com")
        update_user(workspace.database, admin, "editor", permissions=["view_connections"])
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, IntegrationFormModal)
        assert "edit_connections" in str(app.screen.query_one("#error", Static).render())
        assert app.screen.query_one("#address", Input).value == "ops@example.com"


async def test_a_new_policy_shows_examples_as_placeholders_not_as_text(workspace):
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("tab", "n")
        assert isinstance(app.screen, PolicyFormModal)
        steps = app.screen.query_one("#steps", TextArea)
        assert steps.text == "" and "0 schedule:primary" in str(steps.placeholder)
        assert app.screen.query_one("#repeat", Input).value == ""
        assert str(app.screen.query_one("#error", Static).render()) == ""


def with_ops_policy(workspace) -> None:
    """The policy ops: one step to a@example.com."""
    save_policy(workspace.database, workspace.user, parse_policy(
        {"name": "ops", "step": [{"targets": ["a@example.com"]}]}, "p"
    ))  # fmt: skip


async def test_a_refused_policy_save_keeps_the_form_open_with_the_error_beside_the_field(
    workspace,
):
    with_ops_policy(workspace)
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("tab", "n")
        await type_into(pilot, "#name", "ops")
        steps = app.screen.query_one("#steps", TextArea)
        steps.text = "0 b@example.com\n"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, PolicyFormModal)  # a new policy never replaces another
        assert "already exists" in str(app.screen.query_one("#name-error", Static).render())
        assert app.screen.query_one("#name", Input).has_focus
        assert steps.text == "0 b@example.com\n"
        [policy] = list_policies(workspace.database)
        assert policy.spec.steps[0].targets == ("a@example.com",)
        app.screen.query_one("#name", Input).value = "night"
        steps.text = "0 b@example.com\n5 nosuchuser\n"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, PolicyFormModal)
        beside = str(app.screen.query_one("#steps-error", Static).render())
        assert "step 2: 'nosuchuser' is neither an address nor a mailsiren user" in beside
        assert str(app.screen.query_one("#name-error", Static).render()) == ""
        steps.text = "0 b@example.com\n5 alice\n"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert not isinstance(app.screen, PolicyFormModal)
        assert sorted(p.spec.name for p in list_policies(workspace.database)) == ["night", "ops"]


async def test_a_policy_is_edited_line_by_line_with_live_validation(workspace):
    with_ops_policy(workspace)
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("tab", "e")
        assert isinstance(app.screen, PolicyFormModal)
        steps = app.screen.query_one("#steps", TextArea)
        steps.text = "0 a@example.com\nsoon b@example.com\n"
        await pilot.pause()
        assert "line 2: start with the minutes to wait" in str(
            app.screen.query_one("#steps-error", Static).render()
        )
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, PolicyFormModal)  # not saved
        steps.text = "0 a@example.com\n10 b@example.com, alice\n"
        app.screen.query_one("#repeat", Input).value = "2"
        await pilot.pause()
        assert "✓ after 0 min a@example.com; then after 10 min b@example.com, alice" in str(
            app.screen.query_one("#error", Static).render()
        )
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        [policy] = list_policies(workspace.database)
        assert [s.targets for s in policy.spec.steps] == [
            ("a@example.com",),
            ("b@example.com", "alice"),
        ]
        assert policy.spec.repeat == 2


async def test_org_settings_are_saved_from_their_form(workspace):
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("o")
        assert isinstance(app.screen, OrgFormModal)
        await type_into(pilot, "#domains", "corp.example, example.org")
        app.screen.query_one("#limit", Input).value = "5"
        await type_into(pilot, "#reply-address", "siren+x@alerts.example.com")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "has a + in its local part" in str(app.screen.query_one("#error").render())
        app.screen.query_one("#reply-address", Input).value = "siren@alerts.example.com"
        app.screen.query_one("#retention-days", Input).value = "99999"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        beside = str(app.screen.query_one("#retention-error").render())
        assert "retention_days must be a whole number of days from 0" in beside
        assert str(app.screen.query_one("#error").render()) == ""
        app.screen.query_one("#retention-days", Input).value = "30"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        org = load_org(workspace.database)
        assert org.retention_days == 30
        assert org.internal_domains == ("corp.example", "example.org") and org.storm_limit == 5
        assert org.reply_address == "siren@alerts.example.com"
        assert "corp.example, example.org" in str(app.screen.query_one("#org", Static).render())


async def test_the_delivery_log_shows_a_failure_and_what_to_do(workspace):
    with_a_failed_delivery(workspace)
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        assert "✗ failing" in str(app.screen.query_one(IntegrationsTable).get_row_at(0)[2])
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, DeliveriesScreen)
        assert app.screen.query_one(DeliveriesTable).row_count == 1
        detail = str(app.screen.query_one("#delivery-text", Static).render())
        assert "What to do: Unknown mailbox" in detail and "permanent  RCPT TO" in detail
        await pilot.press("f", "f")  # failed, then retrying: none
        await settle(app, pilot)
        assert app.screen.query_one(DeliveriesTable).row_count == 0
        header = str(app.screen.query_one("#deliveries-header", Static).render())
        assert "No notification is retrying — esc clears the filter" in header
        assert "(1 notification in all: 1 failed)" in header and "none yet" not in header
        await pilot.press("escape")  # clears the filter
        await settle(app, pilot)
        assert isinstance(app.screen, DeliveriesScreen)
        assert app.screen.query_one(DeliveriesTable).row_count == 1
        await pilot.press("escape")
        assert not isinstance(app.screen, DeliveriesScreen)


async def test_a_view_only_user_is_told_which_permission_is_missing(workspace):
    with_a_failed_delivery(workspace)
    add_user(workspace.database, workspace.user, "viewer")
    from app.core.users import ensure_user

    workspace.user = ensure_user(workspace.database, "viewer")
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        assert app.screen.query_one(IntegrationsTable).row_count == 1
        await pilot.press("x")
        await pilot.press("o")
        assert not isinstance(app.screen, (ConfirmModal, OrgFormModal))
        assert any("delete_connections" in text for text in notices(app))
        assert any("mailsiren users grant viewer admin" in text for text in notices(app))
        await pilot.press("d")
        await settle(app, pilot)
        assert len(list_deliveries(workspace.database, workspace.user)) == 1
        assert app.screen.query_one(DeliveriesTable).row_count == 1


async def test_delivery_ages_move_with_the_clock_without_a_new_read(workspace, monkeypatch):
    clock = Clock(FROZEN)
    monkeypatch.setattr("app.ui.display.now", clock)
    with_notifications(workspace, FROZEN)
    reads = []
    for module, name in ((integrations_screen, "list_integrations"),
                         (deliveries_screen, "list_deliveries")):  # fmt: skip
        real = getattr(module, name)
        monkeypatch.setattr(
            module, name, lambda *a, real=real, name=name, **k: reads.append(name) or real(*a, **k)
        )
    with redraws(monkeypatch) as redrawn:
        app = MailsirenApp(workspace, initial_mode="integrations")
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(app, pilot)
            table = app.screen.query_one(IntegrationsTable)
            success = table.get_column_index("success")
            assert str(table.get_cell_at((0, success))) == "24m ago"
            read_so_far = len(reads)
            clock.advance(minutes=10)
            await next_redraw(pilot, redrawn, table)
            assert str(table.get_cell_at((0, success))) == "34m ago"
            assert len(reads) == read_so_far
            await pilot.press("d")
            await settle(app, pilot)
            deliveries = app.screen.query_one(DeliveriesTable)
            await pilot.press("j")
            first = deliveries.coordinate_to_cell_key((0, 0)).row_key  # by key, not place
            assert str(deliveries.get_cell(first, "when")) == "14m ago"
            read_so_far = len(reads)
            clock.advance(minutes=1)
            await next_redraw(pilot, redrawn, deliveries)
            assert str(deliveries.get_cell(first, "when")) == "15m ago", reads[read_so_far:]
            assert len(reads) == read_so_far and deliveries.cursor_row == 1


@pytest.fixture
def paris():
    with time_zone("Europe/Paris"):
        yield


@pytest.mark.parametrize(("setting", "zone", "tried"), [
    ("local", "times in CET (UTC+01:00)", "2026-11-21 04:00:00"),
    ("utc", "times in UTC", "2026-11-21 03:00:00"),
])  # fmt: skip
async def test_the_delivery_log_shows_times_in_the_uis_zone_named_once(
    workspace, paris, setting, zone, tried
):
    with_a_failed_delivery(workspace)  # tried at 03:00 UTC
    workspace.settings = replace(workspace.settings, time=setting)
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        assert zone in str(app.screen.query_one("#integrations-hint", Static).render())
        await pilot.press("d")
        await settle(app, pilot)
        header = str(app.screen.query_one("#deliveries-header", Static).render())
        assert header.count(zone) == 1 and "1 notification: 1 failed" in header
        detail = str(app.screen.query_one("#delivery-text", Static).render())
        assert f"  {tried}  permanent" in detail


@pytest.mark.parametrize("setting", ["local", "utc"])
async def test_throttled_until_is_shown_in_the_uis_zone(workspace, paris, setting):
    with_a_failed_delivery(workspace)
    held = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    with workspace.database.write() as session:
        delivery = session.get(Delivery, 1)
        delivery.status, delivery.held_until = "queued", held
        session.add(delivery)
    workspace.settings = replace(workspace.settings, time=setting)
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(IntegrationsTable)
        expected = held if setting == "utc" else held.astimezone()  # Paris
        assert str(table.get_row_at(0)[2]) == f"⏸ throttled to {expected:%H:%M}"
