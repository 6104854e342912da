"""The command palette's provider of the current screen's actions: every binding of the
screen beneath the palette (its widgets' too), found by its description or id, run there."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from app.ui.screen_bindings import ScreenBinding, screen_groups


class ScreenCommands(Provider):
    """ "accept" on the incident log finds Accept, "test" on the SMTP screen finds Test
    Configuration; an action `check_action` greys out is offered marked, and only says why."""

    def _offered(self) -> list[tuple[ScreenBinding, str]]:
        keymap: dict[str, str] = getattr(self.app, "user_keymap", {})
        groups = screen_groups(self.screen, keymap)
        here = groups[0]
        where = here.title.removeprefix("This screen: ")
        return [(offered, where) for offered in here.bindings if offered.binding.show]

    def _command(self, offered: ScreenBinding) -> Callable[[], object]:
        if offered.enabled:
            return partial(offered.node.run_action, offered.binding.action)
        return partial(
            self.app.notify,
            f"{offered.description} cannot be done here now (no permission, or nothing "
            "selected it applies to).",
            severity="warning",
            markup=False,
        )

    def _help(self, offered: ScreenBinding, where: str) -> str:
        state = "" if offered.enabled else "not now · "
        return f"{state}{where} · {offered.key_display()} · {offered.id}"

    async def discover(self) -> Hits:
        for offered, where in self._offered():
            yield DiscoveryHit(
                offered.description,
                self._command(offered),
                help=self._help(offered, where),
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for offered, where in self._offered():
            # The action's own name first: a longer tooltip that mentions the word (a state
            # filter's "accepted") must not rank above the action it names ("Accept").
            names = [(offered.description, 1.0), (offered.binding.tooltip, 0.6), (offered.id, 0.8)]
            score, name = max(
                (matcher.match(name) * weight, name) for name, weight in names if name
            )
            if score <= 0:
                continue
            if not offered.enabled:
                score /= 2  # below what can be done
            yield Hit(
                score,
                matcher.highlight(name),
                self._command(offered),
                text=name,
                help=self._help(offered, where),
            )
