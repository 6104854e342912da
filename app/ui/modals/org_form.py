"""The organization's settings: internal domains, notify_on, storm control, the reply address,
retention."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Static

from app.core.names import NOTIFY_EVENTS
from app.core.notifications.org import NOTIFY_EVENT_HELP, OrgSettingsError, OrgView, parse_org
from app.ui.modals.footed import FootedModal
from app.ui.modals.integration_form import FORM_CSS
from app.ui.widgets.form_row import form_row


class OrgFormModal(FootedModal[OrgView | None]):
    DEFAULT_CSS = (
        FORM_CSS.format(name="OrgFormModal")
        + """
    OrgFormModal .heading { margin-top: 1; text-style: bold; }
    OrgFormModal #storm Input { width: 7; }
    OrgFormModal #storm Static { width: auto; }
    OrgFormModal #retention Input { width: 7; }
    OrgFormModal #retention Static { width: auto; }
    """
    )
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="org-form.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="org-form.cancel"),
    ]

    def __init__(self, org: OrgView) -> None:
        super().__init__()
        self._org = org

    def compose(self) -> ComposeResult:
        org = self._org
        with Vertical() as frame:
            frame.border_title = "Organization notifications"
            yield form_row(
                "Internal",
                Input(", ".join(org.internal_domains), placeholder="example.com, example.org",
                      id="domains", compact=True),
            )  # fmt: skip
            yield Static(
                "Addresses outside these domains (and their subdomains) ask for confirmation "
                "when added: notifications may contain vulnerability details.",
                classes="dim",
            )
            yield Static("Events that send email", classes="heading")
            for kind in NOTIFY_EVENTS:
                yield Checkbox(
                    f"{kind}: {NOTIFY_EVENT_HELP[kind]}", kind in org.notify_on, name=kind,
                    classes="event", compact=True,
                )  # fmt: skip
            yield Static("Storm control", classes="heading")
            with Horizontal(classes="row", id="storm"):
                yield Input(str(org.storm_limit), id="limit", compact=True, restrict=r"[0-9]*")
                yield Static(" mails per address at most, per ", classes="dim")
                yield Input(
                    str(org.storm_window_minutes), id="window", compact=True, restrict=r"[0-9]*"
                )
                yield Static(" minutes; the rest go out as one summary.", classes="dim")
            yield Static("Answering by email", classes="heading")
            yield form_row(
                "Reply to",
                Input(org.reply_address or "", placeholder="mailsiren@alerts.example.com",
                      id="reply-address", compact=True),
            )  # fmt: skip
            yield Static(
                "Empty: replies to notifications are ignored. Set: each notification's "
                "Reply-To is this address +TOKEN, and a reply of ack, resolve, reopen or a "
                "note from its recipient acts on the incident.",
                classes="dim",
            )
            yield Static("Retention", classes="heading")
            with Horizontal(classes="row", id="retention"):
                yield Static("Prune mails of resolved incidents after ", classes="dim")
                yield Input(str(org.retention_days), id="retention-days", compact=True,
                            restrict=r"[0-9]*", tooltip="0 keeps mails forever")  # fmt: skip
                yield Static(" days (0: keep forever)", classes="dim")
                yield Static("", id="retention-error", classes="error", markup=False)
            yield Static(
                "A pruned mail keeps its subject, outcome and timeline; its raw source and "
                "text are emptied (serve prunes once a day; `mailsiren db prune` now).",
                classes="dim",
            )
            yield Static("", id="error", classes="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#domains", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_save() if event.button.id == "save" else self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        domains = self.query_one("#domains", Input).value
        data = {
            "internal_domains": [d.strip() for d in domains.split(",") if d.strip()],
            "notify_on": [box.name for box in self.query(".event").results(Checkbox) if box.value],
            "storm_limit": int(self.query_one("#limit", Input).value or 0),
            "storm_window_minutes": int(self.query_one("#window", Input).value or 0),
            "reply_address": self.query_one("#reply-address", Input).value.strip(),
            "retention_days": int(self.query_one("#retention-days", Input).value or 0),
        }
        retention_error = self.query_one("#retention-error", Static)
        retention_error.update("")
        self.query_one("#error", Static).update("")
        try:
            org = parse_org(data, "settings")
        except OrgSettingsError as error:
            # An error about the retention is shown beside its field; the others below.
            if "retention_days" in str(error):
                retention_error.update(f"  ✗ {error}")
            else:
                self.query_one("#error", Static).update(f"✗ {error}")
            return
        if "incident_escalated" not in org.notify_on:
            self.notify(
                "incident_escalated is off: escalation steps are still recorded, but page nobody.",
                severity="warning",
            )
        self.dismiss(org)
