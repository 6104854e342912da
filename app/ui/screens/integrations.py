"""Email integrations, escalation policies and the organization's notification settings."""

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
from app.core.users import PermissionDenied, UserView
from app.ui.display import zone_label
from app.ui.modals.confirm import ConfirmModal
from app.ui.modals.integration_form import IntegrationFormModal
from app.ui.modals.org_form import OrgFormModal
from app.ui.modals.policy_form import PolicyFormModal
from app.ui.permissions import refused
from app.ui.screens.area import AreaScreen
from app.ui.screens.deliveries import DeliveriesScreen
from app.ui.screens.live import LiveScreen
from app.ui.widgets.empty_state import EmptyState
from app.ui.widgets.integrations_table import IntegrationsTable
from app.ui.widgets.policies_table import PoliciesTable

REFUSALS = (IntegrationError, EscalationError, OrgSettingsError, PermissionDenied)


@dataclass
class IntegrationsLoaded(Message):
    org: OrgView
    integrations: list[IntegrationView]
    policies: list[PolicyView]


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


class IntegrationsScreen(LiveScreen, AreaScreen):
    AREA_TITLE = "Integrations"
    DEFAULT_CSS = """
    IntegrationsScreen #org { height: auto; padding: 0 1; background: $boost; }
    IntegrationsScreen IntegrationsTable { height: 1fr; border: round $primary-muted; }
    IntegrationsScreen PoliciesTable { height: 1fr; max-height: 12; border: round $primary-muted; }
    IntegrationsScreen IntegrationsTable:focus, IntegrationsScreen PoliciesTable:focus {
        border: round $primary;
    }
    IntegrationsScreen #integrations-hint { height: auto; padding: 0 1; color: $text-muted; }
    IntegrationsScreen EmptyState { display: none; }
    IntegrationsScreen.-refused EmptyState { display: block; }
    IntegrationsScreen.-refused IntegrationsTable, IntegrationsScreen.-refused PoliciesTable,
    IntegrationsScreen.-refused #org { display: none; }
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
        yield EmptyState("Integrations are not yours to see", "")
        yield Static(
            "tab: integrations ↔ policies. Mail goes out with each owner's SMTP configuration "
            f"(4); {zone_label()}.",
            id="integrations-hint",
        )

    def on_mount(self) -> None:
        super().on_mount()
        self.org = OrgView()
        self.integrations: list[IntegrationView] = []
        self.policies: list[PolicyView] = []
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

    def selected_policy(self) -> PolicyView | None:
        key = self.query_one(PoliciesTable).selected_key
        return next((view for view in self.policies if view.spec.name == key), None)

    # Actions

    def action_add(self) -> None:
        if refused(self, "edit_connections", "add integrations or policies"):
            return
        if self.on_policies():
            self.app.push_screen(PolicyFormModal(None), self.policy_saved)
        else:
            self.app.push_screen(IntegrationFormModal(None), self.integration_saved)

    def action_edit(self) -> None:
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
        if view is None or self.on_policies():
            return
        if not refused(self, "edit_connections", "enable or disable integrations"):
            self.keep_integration(replace(view.spec, enabled=not view.enabled), view.id)

    def action_delete(self) -> None:
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
