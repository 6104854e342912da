"""Give an incident an owner: a list of mailsiren users to pick from, or nobody."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from app.ui.modals.footed import FootedModal

NOBODY = ""  # what the picker returns for "nobody" (None is a cancel)


class AssignPickerModal(FootedModal[str | None]):
    DEFAULT_CSS = """
    AssignPickerModal { align: center middle; }
    AssignPickerModal > Vertical {
        width: 50; max-width: 100%; height: auto; max-height: 90%; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    AssignPickerModal OptionList { height: auto; max-height: 14; }
    AssignPickerModal .hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="assign.cancel")]

    def __init__(self, incident_id: int, names: list[str], current: str | None) -> None:
        super().__init__()
        self.incident_id = incident_id
        self.names = names
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = f"Owner of #{self.incident_id}"
            yield Input(placeholder="type to narrow the list", id="assign-filter", compact=True)
            yield OptionList(id="assign-users")
            yield Static("enter: give it to the one selected · escape: cancel", classes="hint")

    def on_mount(self) -> None:
        self.show_names("")
        self.query_one("#assign-filter", Input).focus()

    def show_names(self, typed: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        wanted = typed.strip().lower()
        for name in self.names:
            if wanted in name.lower():
                mark = "  (owner now)" if name == self.current else ""
                options.add_option(Option(f"{name}{mark}", id=f"user:{name}"))
        if not wanted and self.current:
            options.add_option(Option("nobody (take the owner away)", id="nobody"))
        options.highlighted = 0 if options.option_count else None

    def on_input_changed(self, event: Input.Changed) -> None:
        self.show_names(event.value)

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self.choose(options.get_option_at_index(options.highlighted).id)

    def on_key(self, event) -> None:
        """Up and down move in the list while the filter has the focus."""
        if event.key in ("up", "down") and self.query_one("#assign-filter", Input).has_focus:
            options = self.query_one(OptionList)
            options.action_cursor_up() if event.key == "up" else options.action_cursor_down()
            event.stop()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.choose(event.option.id)

    def choose(self, option_id: str | None) -> None:
        if option_id == "nobody":
            self.dismiss(NOBODY)
        elif option_id and option_id.startswith("user:"):
            self.dismiss(option_id.removeprefix("user:"))

    def action_cancel(self) -> None:
        self.dismiss(None)
