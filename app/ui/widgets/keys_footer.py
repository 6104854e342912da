"""The footer: the current screen's keys that fit the width, then the palette and help keys;
when keys were left out it ends with `? more` (`f1 more` while a text field takes `?`)."""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.keys import REPLACED_KEYS, key_to_character
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

HELP_IDS = ("help", "help.f1")
PALETTE_ACTIONS = ("command_palette", "app.command_palette")


def typed_character(key: str) -> str | None:
    """The character a key types, if any. Textual's own `key_to_character` misses the keys
    it renames (slash, backslash, at, minus, plus, underscore), so their bindings stayed in
    the footer while a text field would take them."""
    return key_to_character(REPLACED_KEYS.get(key, key))


def key_width(key_display: str, description: str) -> int:
    """Cells a FooterKey takes: ` key ` then `description `."""
    return cell_len(key_display) + 2 + cell_len(description) + 1


class KeysFooter(Footer):
    """A Footer that never cuts a key in half: it shows the keys that fit, in order."""

    def __init__(self) -> None:
        super().__init__(show_command_palette=False)
        self._width = 0
        self.left_out: list[Binding] = []  # what the last compose could not show
        self._composed: tuple = ()  # the plan the keys on screen were composed from

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        self._composed = self._plan()
        for binding, key_display, label, enabled, tooltip, classes in self._composed:
            yield FooterKey(
                binding.key,
                key_display,
                label,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
                classes=classes,
            ).data_bind(compact=Footer.compact)

    def _plan(self) -> tuple[tuple[Binding, str, str, bool, str, str], ...]:
        """The keys to show at this width: (binding, key shown, label, enabled, tooltip,
        classes) each; the screen's that fit in order, the palette, then help or `more`."""
        width = self.size.width or self.screen.size.width or self.app.size.width
        self._width = width
        shown: list[tuple[Binding, bool, str]] = []
        help_binding: tuple[Binding, bool] | None = None
        palette: tuple[Binding, bool] | None = None
        seen_actions: set[str] = set()
        focused = self.screen.focused
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if focused is not None and focused.check_consume_key(key, typed_character(key)):
                continue  # a text field takes it as text: `/` types a slash in the filter
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
        display = self.app.get_key_display
        room = width
        tail = []
        if palette is not None:
            binding, enabled = palette
            tooltip = binding.tooltip or "Open the command palette"
            tail.append((binding, display(binding), "palette", enabled, tooltip, ""))
            room -= key_width(display(binding), "palette")
        if help_binding is not None:
            room -= key_width(display(help_binding[0]), "more")
        plan = []
        self.left_out = []
        for binding, enabled, tooltip in shown:
            needed = key_width(display(binding), binding.description)
            if not self.left_out and needed <= room:
                plan.append((binding, display(binding), binding.description, enabled, tooltip, ""))
                room -= needed
            else:
                self.left_out.append(binding)
        plan.extend(tail)
        if help_binding is not None:
            binding, enabled = help_binding
            label = "more" if self.left_out else binding.description
            plan.append(
                (binding, display(binding), label, enabled, "Every key of this screen", "-help")
            )
        return tuple(plan)

    def bindings_changed(self, screen: Screen) -> None:
        """Recompose only when what the footer shows changes: a screen's bindings are
        "updated" at every focus change, and a recompose mounts every key again (seven per
        incident detail opened, a tenth of its time)."""
        self._bindings_ready = True
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if self.is_attached and self._plan() != self._composed:
            await self.recompose()

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width and self._bindings_ready:
            self.call_after_refresh(self.recompose)
