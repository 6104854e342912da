"""Add or edit an escalation policy: its name, repeat, and one step per line. The form
saves itself: a refused save leaves it open, as typed, the error beside its field."""

from __future__ import annotations

from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Static, TextArea

from app.core.incidents.escalation import EscalationError, PolicySpec, parse_policy, save_policy
from app.errors import MailsirenError
from app.ui.modals.footed import FootedModal
from app.ui.modals.integration_form import FORM_CSS, SaveRefused
from app.ui.screens.worker_failures import WorkerFailures
from app.ui.widgets.form_row import form_row

STEPS_HELP = (
    "One step per line: the minutes to wait, then the targets (addresses, mailsiren user "
    "names, or schedule:NAME for whoever is on call then), comma-separated. Step 1 waits from the incident's opening; each next step "
    "from the one before, while the incident stays pending. Accept or resolve stops it."
)


STEPS_EXAMPLE = "0 schedule:primary\n15 ops-lead@example.com, bob"  # a placeholder only


def steps_text(spec: PolicySpec | None) -> str:
    if spec is None:
        return ""
    return "".join(f"{step.delay_minutes} {', '.join(step.targets)}\n" for step in spec.steps)


def parse_steps(text: str) -> list[dict]:
    """The text area's lines as [[escalation_policy.step]] tables; a wrong line is named."""
    if not text.strip():
        raise EscalationError("steps: write at least one line, e.g. `0 oncall@example.com`")
    steps = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        delay, _, targets = line.strip().partition(" ")
        if not delay.isdigit():
            raise EscalationError(
                f"line {number}: start with the minutes to wait, e.g. `5 ops@example.com`"
            )
        steps.append(
            {
                "delay_minutes": int(delay),
                "targets": [t.strip() for t in targets.split(",") if t.strip()],
            }
        )
    return steps


@dataclass
class PolicyKept(Message):
    spec: PolicySpec


def field_of(error: str) -> str:
    """Which field a refusal is about: "name", "repeat", "steps", or "" (the whole form)."""
    if "line " in error or "step" in error or "target" in error:
        return "steps"
    if "name " in error or "named " in error:
        return "name"
    return "repeat" if "repeat " in error else ""


class PolicyFormModal(WorkerFailures, FootedModal[PolicySpec | None]):
    DEFAULT_CSS = (
        FORM_CSS.format(name="PolicyFormModal")
        + """
    PolicyFormModal TextArea { height: 6; margin-top: 1; }
    """
    )
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="policy-form.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="policy-form.cancel"),
    ]

    def __init__(self, spec: PolicySpec | None) -> None:
        super().__init__()
        self._spec = spec

    def compose(self) -> ComposeResult:
        spec = self._spec
        with Vertical() as frame:
            frame.border_title = f"Edit policy {spec.name}" if spec else "New escalation policy"
            yield form_row(
                "Name", Input(spec.name if spec else "", placeholder="ops", id="name", compact=True)
            )
            yield Static("", id="name-error", classes="field-error", markup=False)
            yield form_row(
                "Repeat",
                Input(str(spec.repeat) if spec else "",
                      placeholder="0: times to go through the steps again",
                      id="repeat", compact=True, restrict=r"[0-9]*"),
            )  # fmt: skip
            yield Static("", id="repeat-error", classes="field-error", markup=False)
            yield Static(STEPS_HELP, classes="dim")
            yield TextArea(
                steps_text(spec), id="steps", show_line_numbers=True, placeholder=STEPS_EXAMPLE
            )
            yield Static("", id="steps-error", classes="field-error", markup=False)
            yield Static("", id="error", classes="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()
        if self._spec is not None:  # a new policy is not wrong before anything is typed
            self.check()

    def on_input_changed(self) -> None:
        self.check()

    def on_text_area_changed(self) -> None:
        self.check()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_save() if event.button.id == "save" else self.action_cancel()

    def draft(self) -> PolicySpec:
        repeat = self.query_one("#repeat", Input).value or "0"
        data = {
            "name": self.query_one("#name", Input).value,
            "repeat": int(repeat),
            "step": parse_steps(self.query_one("#steps", TextArea).text),
        }
        if self._spec and self._spec.owner:
            data["owner"] = self._spec.owner
        return parse_policy(data, "policy")

    def check(self) -> PolicySpec | None:
        try:
            spec = self.draft()
        except EscalationError as problem:
            self.show_error(str(problem))
            return None
        self.show_error("")
        error = self.query_one("#error", Static)
        error.add_class("-ok")
        error.update(f"✓ {spec.describe()}")
        return spec

    def show_error(self, text: str) -> None:
        """The problem beside its field (the form's own line when it is about no field)."""
        field = field_of(text) if text else ""
        for name in ("name", "repeat", "steps"):
            beside = self.query_one(f"#{name}-error", Static)
            beside.update(f"✗ {text}" if field == name else "")
            beside.set_class(field == name, "-shown")
        error = self.query_one("#error", Static)
        error.remove_class("-ok")
        error.update(f"✗ {text}" if text and not field else "")

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        spec = self.check()
        if spec is not None:
            self.keep(spec)

    @work(thread=True, exclusive=True, group="policy-form-save", exit_on_error=False)
    def keep(self, spec: PolicySpec) -> None:
        """Save as the user; core checks the permission, the name and the user targets."""
        workspace = self.app.workspace
        original = self._spec.name if self._spec else None
        try:
            save_policy(
                workspace.database, workspace.user, spec, original=original, new=original is None
            )
        except MailsirenError as error:
            self.post_message(SaveRefused(str(error)))
            return
        self.post_message(PolicyKept(spec))

    def on_policy_kept(self, message: PolicyKept) -> None:
        self.dismiss(message.spec)

    def on_save_refused(self, message: SaveRefused) -> None:
        self.show_error(message.text)
        field = field_of(message.text)
        if field:
            self.query_one(f"#{field}").focus()
