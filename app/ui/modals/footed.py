"""FootedModal: a dialog whose footer shows its own keys, not those of the screen beneath."""

from __future__ import annotations

from typing import TypeVar

from textual import events, on
from textual.screen import ModalScreen

from app.ui.widgets.keys_footer import KeysFooter

Result = TypeVar("Result")


class FootedModal(ModalScreen[Result]):
    """A ModalScreen with a KeysFooter of its own, docked at the bottom: without it the
    footer of the screen beneath stays in view, offering keys (`a Accept`) that the dialog
    would take as text."""

    @on(events.Mount)
    def mount_keys_footer(self) -> None:
        self.mount(KeysFooter())
