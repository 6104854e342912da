"""The bindings a screen offers, grouped (this screen, areas, everywhere), with the user's
keymap applied and `check_action` asked: what the help screen lists and the palette runs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from textual.actions import parse
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen

from app.ui.binding_ids import own_bindings

PALETTE = Binding(
    "ctrl+p", "app.command_palette", "Command palette: find any command", priority=True
)
TEXTUAL_QUIT = Binding("ctrl+q", "app.quit", "Quit", priority=True)


def screen_title(screen: Screen) -> str:
    """What help calls a screen: its title, else its area's, else its class in words
    ("SilenceFormModal" → "Silence form"), never a Python name."""
    title = screen.title or getattr(screen, "AREA_TITLE", "")
    if not title:
        name = re.sub(r"(Modal|Screen)$", "", type(screen).__name__)
        title = re.sub(r"(?<!^)(?=[A-Z])", " ", name).capitalize()
    return title.removeprefix("mailsiren · ")


@dataclass(frozen=True)
class ScreenBinding:
    """One binding as offered on a screen: where it acts, its keys now, whether it may run."""

    node: DOMNode
    binding: Binding
    keys: tuple[str, ...]
    enabled: bool  # False: check_action greys it out (or hides it) here and now

    @property
    def id(self) -> str:
        return self.binding.id or ""

    @property
    def description(self) -> str:
        return self.binding.description

    def key_display(self) -> str:
        app = self.node.app
        return " ".join(app.get_key_display(Binding(key, "")) for key in self.keys)

    async def run(self) -> None:
        await self.node.run_action(self.binding.action)


@dataclass(frozen=True)
class BindingGroup:
    title: str
    bindings: list[ScreenBinding]


def action_state(node: DOMNode, action: str) -> bool | None:
    """What `check_action` of the node the action runs on says (True, None greyed, False)."""
    namespace, name, parameters = parse(action)
    target = {"app": node.app, "screen": node.screen}.get(namespace, node)
    return target.check_action(name, parameters)


def keys_of(binding: Binding, keymap: dict[str, str]) -> tuple[str, ...]:
    keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
    return tuple(key.strip() for key in keys.split(",") if key.strip())


def node_bindings(node: DOMNode, keymap: dict[str, str]) -> list[ScreenBinding]:
    """The node's bindings with ids, from its classes (a subclass's own first), once per id."""
    found: list[ScreenBinding] = []
    seen: set[str] = set()
    for cls in type(node).__mro__:
        if not (isinstance(cls, type) and issubclass(cls, DOMNode)):
            continue
        for binding in own_bindings(cls):
            if binding.id and binding.id not in seen:
                seen.add(binding.id)
                enabled = bool(action_state(node, binding.action))
                found.append(ScreenBinding(node, binding, keys_of(binding, keymap), enabled))
    return found


def screen_groups(screen: Screen, keymap: dict[str, str]) -> list[BindingGroup]:
    """This screen's bindings (the screen's, then its widgets', the focused one's first), the
    areas' keys, and the keys that work everywhere."""
    focused = screen.focused
    chain = [] if focused is None else [node for node in focused.ancestors_with_self]
    widgets = [node for node in chain if node is not screen and node is not screen.app]
    widgets += [node for node in screen.query("*") if node not in widgets]
    here: list[ScreenBinding] = []
    seen: set[str] = set()
    for node in [screen, *widgets]:
        for offered in node_bindings(node, keymap):
            if offered.id not in seen:
                seen.add(offered.id)
                here.append(offered)
    app = screen.app
    everywhere = node_bindings(app, keymap)
    areas = [offered for offered in everywhere if offered.id.startswith("mode.")]
    others = [offered for offered in everywhere if not offered.id.startswith("mode.")]
    others += [ScreenBinding(app, PALETTE, ("ctrl+p",), True)]
    others += [ScreenBinding(app, TEXTUAL_QUIT, ("ctrl+q",), True)]
    if screen.is_modal:  # a dialog: only the app's priority keys reach past it
        areas = []
        others = [offered for offered in others if offered.binding.priority]
    return [
        BindingGroup(f"This screen: {screen_title(screen)}", here),
        BindingGroup("Areas", areas),
        BindingGroup("Everywhere", others),
    ]
