"""The footer: the current screen's keys that fit the width, then the palette and help keys;
when keys were left out it ends with `? more` (`f1 more` while a text field takes `?`)."""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

HELP_IDS = ("help", "help.f1")
PALETTE_ACTIONS = ("command_palette", "app.command_palette")


def key_width(key_display: str, description: str) -> int:
    """Cells a FooterKey takes: ` key ` then `description `."""
    return cell_len(key_display) + 2 + cell_len(description) + 1


class KeysFooter(Footer):
    """A Footer that never cuts a key in half: it shows the keys that fit, in order."""

    def __init__(self) -> None:
        super().__init__(show_command_palette=False)
        self._width = 0
        self.left_out: list[Binding] = []  # what the last compose could not show

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        width = self.size.width or self.screen.size.width or self.app.size.width
        self._width = width
        shown: list[tuple[Binding, bool, str]] = []
        help_binding: tuple[Binding, bool] | None = None
        palette: tuple[Binding, bool] | None = None
        seen_actions: set[str] = set()
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if binding.id in HELP_IDS:
                # `?` when it reaches the app, else the other key (f1) of the help binding
                if help_binding is None or key == "question_mark":
                    help_binding = (binding, active.enabled)
                continue
            if binding.action in PALETTE_ACTIONS:
                palette = (binding, active.enabled)
                continue
            if not binding.show or binding.action in seen_actions:
                continue
            seen_actions.add(binding.action)
            shown.append((binding, active.enabled, active.tooltip))
        tail: list[tuple[Binding, bool, str]] = []
        if palette is not None:
            tail.append((palette[0], palette[1], "palette"))
        room = width - sum(
            key_width(self.app.get_key_display(binding), label) for binding, _, label in tail
        )
        if help_binding is not None:
            room -= key_width(self.app.get_key_display(help_binding[0]), "more")
        fitting: list[tuple[Binding, bool, str]] = []
        self.left_out = []
        for binding, enabled, tooltip in shown:
            needed = key_width(self.app.get_key_display(binding), binding.description)
            if not self.left_out and needed <= room:
                fitting.append((binding, enabled, tooltip))
                room -= needed
            else:
                self.left_out.append(binding)
        for binding, enabled, tooltip in fitting:
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
            ).data_bind(compact=Footer.compact)
        for binding, enabled, label in tail:
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                label,
                binding.action,
                disabled=not enabled,
                tooltip=binding.tooltip or "Open the command palette",
            ).data_bind(compact=Footer.compact)
        if help_binding is not None:
            binding, enabled = help_binding
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                "more" if self.left_out else binding.description,
                binding.action,
                disabled=not enabled,
                tooltip="Every key of this screen",
                classes="-help",
            ).data_bind(compact=Footer.compact)

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width and self._bindings_ready:
            self.call_after_refresh(self.recompose)
