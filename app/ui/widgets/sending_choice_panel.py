"""Read-only: which configuration sends this user's mail, why, and the shared one's rules."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from app.core.sending.choice import PERSONAL, SHARED, SendingChoice
from app.core.sending.shared import shared_warnings

VERDICTS = {
    PERSONAL: ("● your personal settings (above)", "bold green"),
    SHARED: ("● the shared configuration", "bold green"),
}
MAX_PROBLEMS = 4


class SendingChoicePanel(Static):
    """Shows a SendingChoice: nothing here can be edited; the file is the administrator's."""

    DEFAULT_CSS = """
    SendingChoicePanel {
        height: auto; padding: 0 1;
        border: round $primary-muted; border-title-color: $text-muted;
    }
    """

    shown: Group | None = None  # what the panel shows now, for whoever reads it back

    def on_mount(self) -> None:
        self.border_title = "Which configuration sends your mail"
        if not self.content:
            self.update(Text("Reading the shared configuration…", style="dim"))

    def show(self, choice: SendingChoice, groups: tuple[str, ...]) -> None:
        self.shown = Group(*self._render_choice(choice, groups))
        self.update(self.shown)

    def _render_choice(self, choice: SendingChoice, groups: tuple[str, ...]) -> list:
        verdict, style = VERDICTS.get(choice.kind, ("✘ nothing: sending is refused", "bold red"))
        parts: list = [
            Text.assemble("Sends with: ", (verdict, style)),
            Text(choice.reason, style="dim" if choice.usable else ""),
            Text.assemble(
                "\n",
                ("Shared configuration ", "bold"),
                (f"(read-only, {choice.shared.path})", "dim"),
            ),
        ]
        state = choice.shared
        rows = Table.grid(padding=(0, 2))
        rows.add_column(style="bold", no_wrap=True)
        rows.add_column()
        if state.broken:
            count = len(state.problems)
            parts.append(
                Text(f"✘ {count} error{'s' * (count != 1)} an administrator must fix:", "red")
            )
            for problem in state.problems[:MAX_PROBLEMS]:
                rows.add_row("•", Text(problem))
            if count > MAX_PROBLEMS:
                rows.add_row("", f"… and {count - MAX_PROBLEMS} more (mailsiren smtp explain)")
            return [*parts, rows]
        config = state.config
        if config is None:
            return [*parts, Text("None is set up on this machine.", style="dim")]
        tls = "STARTTLS" if config.use_tls else "no TLS"
        rows.add_row("Server", Text(f"{config.server}:{config.port}, {tls}"))
        rows.add_row("Force-From", Text(config.force_from or "(none: your sender is kept)"))
        patterns = [f"`{pattern.text}`" for pattern in config.allowed_to]
        rows.add_row("Allowed-To", Text("\n".join(patterns) or "(any recipient)"))
        names = [
            group.name + (" ✔ yours" if group.name in groups else "")
            for group in config.allowed_groups
        ]
        rows.add_row("Groups", Text(", ".join(names) or "(every user)"))
        warnings = [Text(f"⚠ {warning}", style="yellow") for warning in shared_warnings(config)]
        return [*parts, rows, *warnings]
