"""Email integrations, escalation policies, on-call schedules and the organization's settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static

from app.core.incidents.escalation import (
    EscalationError,
    PolicySpec,
    PolicyView,
    delete_policy,
    list_policies,
)
from app.core.incidents.schedules import ScheduleError, add_override, list_schedules
from app.core.notifications.integrations import (
    IntegrationError,
    IntegrationSpec,
    IntegrationView,
    list_integrations,
    remove_integration,
    save_integration,
)
from app.core.notifications.org import OrgSettingsError, OrgView, load_org, save_org
from app.core.store.db import Database
from app.core.users import PermissionDenied, UserView, user_names
from app.ui import display
from app.ui.display import zone_label
from app.ui.modals.confirm import ConfirmModal
from app.ui.modals.integration_form import IntegrationFormModal
from app.ui.modals.org_form import OrgFormModal
from app.ui.modals.override_form import OverrideFormModal, OverrideRequest
from app.ui.modals.policy_form import PolicyFormModal
from app.ui.permissions import refused
from app.ui.screens.area import AreaScreen
from app.ui.screens.deliveries import DeliveriesScreen
from app.ui.screens.live import LiveScreen
from app.ui.widgets.empty_state import EmptyState
from app.ui.widgets.integrations_table import IntegrationsTable
from app.ui.widgets.policies_table import PoliciesTable
from app.ui.widgets.schedules_table import ScheduleNow, SchedulesTable

REFUSALS = (IntegrationError, EscalationError, OrgSettingsError, ScheduleError, PermissionDenied)


@dataclass
class IntegrationsLoaded(Message):
    org: OrgView
    integrations: list[IntegrationView]
    policies: list[PolicyView]
    schedules: list[ScheduleNow]
    users: list[str]  # whom an override may put on call


@dataclass
class IntegrationsRefused(Message):
    reason: str


@dataclass
class NotificationsChanged(Message):
    text: str
    failed: bool = False


def saved_text(view: IntegrationView) -> str:
    state = "enabled" if view.enabled else "disabled"
    return f"Saved {view.label()}: {state}, sent by {view.owner}."


def org_summary(org: OrgView) -> str:
    domains = ", ".join(org.internal_domains) or "none set (every address asks for confirmation)"
    events = ", ".join(kind.removeprefix("incident_") for kind in org.notify_on) or "none"
    return (
        f"Internal domains: {domains}   ·   Email on: {events}   ·   Storm limit: "
        f"{org.storm_limit} per address per {org.storm_window_minutes} min   (o to change)"
    )


def hint_text(*, schedules: bool) -> str:
    tables = "integrations ↔ policies ↔ schedules" if schedules else "integrations ↔ policies"
    return f"tab: {tables}. Mail goes out with each owner's SMTP configuration (4); {zone_label()}."


class IntegrationsScreen(LiveScreen, AreaScreen):
    AREA_TITLE = "Integrations"
    DEFAULT_CSS = """
    IntegrationsScreen #org { height: auto; padding: 0 1; background: $boost; }
    IntegrationsScreen IntegrationsTable { height: 1fr; border: round $primary-muted; }
    IntegrationsScreen PoliciesTable { height: 1fr; max-height: 12; border: round $primary-muted; }
    IntegrationsScreen SchedulesTable {
        height: auto; max-height: 8; border: round $primary-muted; display: none;
    }
    IntegrationsScreen.-schedules SchedulesTable { display: block; }
    IntegrationsScreen IntegrationsTable:focus, IntegrationsScreen PoliciesTable:focus,
    IntegrationsScreen SchedulesTable:focus {
        border: round $primary;
    }
    IntegrationsScreen #integrations-hint { height: auto; padding: 0 1; color: $text-muted; }
    IntegrationsScreen EmptyState { display: none; }
    IntegrationsScreen.-refused EmptyState { display: block; }
    IntegrationsScreen.-refused IntegrationsTable, IntegrationsScreen.-refused PoliciesTable,
    IntegrationsScreen.-refused SchedulesTable, IntegrationsScreen.-refused #org {
        display: none;
    }
    """
    BINDINGS = [
        Binding("n", "add", "New", id="integrations.add"),
        Binding("e", "edit", "Edit", id="integrations.edit"),
        Binding("t", "toggle", "Enable/disable", id="integrations.toggle"),
        Binding("delete,x", "delete", "Delete", id="integrations.delete"),
        Binding("o", "org_settings", "Org settings", id="integrations.org"),
        Binding("d", "deliveries", "Delivery log", id="integrations.deliveries"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="org", markup=False)
        yield IntegrationsTable(id="integrations")
        yield PoliciesTable(id="policies")
        yield SchedulesTable(id="schedules")  # shown once a schedule exists (config import)
        yield EmptyState("Integrations are not yours to see", "")
        yield Static(hint_text(schedules=False), id="integrations-hint")

    def on_mount(self) -> None:
        super().on_mount()
        self.org = OrgView()
        self.integrations: list[IntegrationView] = []
        self.policies: list[PolicyView] = []
        self.schedules: list[ScheduleNow] = []
        self.users: list[str] = []
        self.query_one(IntegrationsTable).focus()

    # Reading

    @work(thread=True, exclusive=True, group="integrations-read", exit_on_error=False)
    def load(self) -> None:
        workspace = self.app.workspace
        try:
            loaded = IntegrationsLoaded(
                load_org(workspace.database),
                list_integrations(workspace.database, workspace.user),
                list_policies(workspace.database, workspace.user),
                [
                    ScheduleNow.at(spec, display.now())
                    for spec in list_schedules(workspace.database, workspace.user)
                ],
                user_names(workspace.database),
            )
        except PermissionDenied as error:
            self.post_message(IntegrationsRefused(str(error)))
            return
        self.post_message(loaded)

    def on_integrations_loaded(self, message: IntegrationsLoaded) -> None:
        self.org = message.org
        self.integrations, self.policies = message.integrations, message.policies
        self.query_one("#org", Static).update(org_summary(message.org))
        table = self.query_one(IntegrationsTable)
        table.border_subtitle = "" if message.integrations else "none yet: n adds one"
        table.show(message.integrations)
        policies = self.query_one(PoliciesTable)
        policies.border_subtitle = "" if message.policies else "none yet: tab here, then n"
        policies.show(message.policies)
        self.schedules, self.users = message.schedules, message.users
        self.set_class(bool(message.schedules), "-schedules")
        hint = hint_text(schedules=bool(message.schedules))
        self.query_one("#integrations-hint", Static).update(hint)
        self.query_one(SchedulesTable).show(message.schedules)

    def on_integrations_refused(self, message: IntegrationsRefused) -> None:
        self.add_class("-refused")
        self.query_one(EmptyState).remove()
        self.mount(EmptyState("Integrations are not yours to see", message.reason))

    # Which entry the keys act on

    def on_policies(self) -> bool:
        return self.query_one(PoliciesTable).has_focus

    def selected_integration(self) -> IntegrationView | None:
        key = self.query_one(IntegrationsTable).selected_key
        return next((view for view in self.integrations if str(view.id) == key), None)

    def on_schedules(self) -> bool:
        return self.query_one(SchedulesTable).has_focus

    def selected_schedule(self) -> ScheduleNow | None:
        key = self.query_one(SchedulesTable).selected_key
        return next((view for view in self.schedules if view.spec.name == key), None)

    def selected_policy(self) -> PolicyView | None:
        key = self.query_one(PoliciesTable).selected_key
        return next((view for view in self.policies if view.spec.name == key), None)

    # Actions

    def action_add(self) -> None:
        if self.on_schedules():
            self.action_override()
            return
        if refused(self, "edit_connections", "add integrations or policies"):
            return
        if self.on_policies():
            self.app.push_screen(PolicyFormModal(None), self.policy_saved)
        else:
            self.app.push_screen(IntegrationFormModal(None), self.integration_saved)

    def action_override(self) -> None:
        """`n` (or enter) on a schedule: someone on call instead, for a while."""
        view = self.selected_schedule()
        if view is None or refused(self, "edit_connections", "override a schedule"):
            return
        self.app.push_screen(
            OverrideFormModal(view.spec.name, self.users, view.now.user, view.next.user),
            lambda request: request and self.keep_override(request),
        )

    def keep_override(self, request: OverrideRequest) -> None:
        self.change(
            lambda db, user: add_override(
                db, user, request.schedule, request.user, request.starts_at, request.ends_at,
                clock=display.now,
            ),
            f"{request.user} is on call in {request.schedule} until "
            f"{display.when(request.ends_at)[:16]} {display.zone_name()}.",
        )  # fmt: skip

    def action_edit(self) -> None:
        if self.on_schedules():
            self.action_override()
            return
        if refused(self, "edit_connections", "change integrations or policies"):
            return
        if self.on_policies():
            policy = self.selected_policy()
            if policy is not None:
                self.app.push_screen(PolicyFormModal(policy.spec), self.policy_saved)
            return
        view = self.selected_integration()
        if view is not None:
            self.app.push_screen(
                IntegrationFormModal(view.spec, editing=view.id), self.integration_saved
            )

    def integration_saved(self, view: IntegrationView | None) -> None:
        """The form saved it (or was cancelled): say so, and read the list again."""
        if view is not None:
            self.post_message(NotificationsChanged(saved_text(view)))

    def policy_saved(self, spec: PolicySpec | None) -> None:
        if spec is not None:
            self.post_message(
                NotificationsChanged(f"Saved the policy {spec.name}: {spec.describe()}.")
            )

    def action_toggle(self) -> None:
        view = self.selected_integration()
        if view is None or self.on_policies() or self.on_schedules():
            return
        if not refused(self, "edit_connections", "enable or disable integrations"):
            self.keep_integration(replace(view.spec, enabled=not view.enabled), view.id)

    def action_delete(self) -> None:
        if self.on_schedules():
            return  # a schedule is removed from its file (config import --prune)
        if refused(self, "delete_connections", "delete integrations or policies"):
            return
        if self.on_policies():
            policy = self.selected_policy()
            if policy is not None:
                self.app.push_screen(
                    ConfirmModal(
                        f"Delete the escalation policy {policy.spec.name}?", yes_label="Delete"
                    ),
                    lambda yes: yes and self.drop_policy(policy.spec.name),
                )
            return
        view = self.selected_integration()
        if view is not None:
            self.app.push_screen(
                ConfirmModal(
                    f"Delete the integration {view.label()}? It will receive no more "
                    "notifications; its past deliveries stay in the delivery log.",
                    yes_label="Delete",
                ),
                lambda yes: yes and self.drop_integration(view.id),
            )

    @on(DataTable.RowSelected)
    def row_chosen(self) -> None:
        self.action_edit()

    def action_org_settings(self) -> None:
        if not refused(self, "admin", "change the organization's notification settings"):
            self.app.push_screen(OrgFormModal(self.org), lambda org: org and self.keep_org(org))

    def action_deliveries(self) -> None:
        self.app.push_screen(DeliveriesScreen())

    # Changes, in workers; core checks the permission again

    @work(thread=True, group="integrations-change", exit_on_error=False)
    def keep_integration(self, spec: IntegrationSpec, editing: int) -> None:
        """Enable or disable: the address was confirmed when it was saved."""
        workspace = self.app.workspace
        try:
            view = save_integration(
                workspace.database, workspace.user, spec, editing=editing, confirmed=True
            )
        except REFUSALS as error:
            self.post_message(NotificationsChanged(str(error), failed=True))
            return
        self.post_message(NotificationsChanged(saved_text(view)))

    def drop_integration(self, integration_id: int) -> None:
        self.change(
            lambda db, user: remove_integration(db, user, integration_id),
            f"Deleted integration #{integration_id}.",
        )

    def drop_policy(self, name: str) -> None:
        self.change(lambda db, user: delete_policy(db, user, name), f"Deleted the policy {name}.")

    def keep_org(self, org: OrgView) -> None:
        self.change(
            lambda db, user: save_org(db, user, org),
            "Saved the organization's notification settings.",
        )

    @work(thread=True, group="integrations-change", exit_on_error=False)
    def change(self, do: Callable[[Database, UserView], object], done: str) -> None:
        """Run one core change as the user; say what happened, or why nothing did."""
        workspace = self.app.workspace
        try:
            do(workspace.database, workspace.user)
        except REFUSALS as error:
            self.post_message(NotificationsChanged(str(error), failed=True))
            return
        self.post_message(NotificationsChanged(done))

    def on_notifications_changed(self, message: NotificationsChanged) -> None:
        self.notify(
            message.text,
            title="Not changed" if message.failed else "",
            severity="error" if message.failed else "information",
            markup=False,
        )
        self.load()
