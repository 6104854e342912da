"""`mailsiren smtp ...`: personal settings, the shared configuration's decision, the test."""

from __future__ import annotations

import argparse
import getpass
import sys

from app.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    CommandError,
    add_command,
    examples,
    opened_workspace,
)


def register(commands) -> None:
    smtp = add_command(
        commands, "smtp", "your SMTP settings, the shared configuration, and tests",
        "mailsiren smtp set --server smtp.example.com --port 587 --username me --password-stdin",
        "mailsiren smtp test --probe",
    )  # fmt: skip
    smtp_commands = smtp.add_subparsers(dest="smtp_command", metavar="ACTION", required=True)
    smtp_set = smtp_commands.add_parser(
        "set",
        help="save your SMTP settings",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples(
            "printf '%s' \"$PASS\" | mailsiren smtp set --server smtp.example.com --port 587 "
            "--username me@example.com --password-stdin",
            "mailsiren smtp set --server localhost --port 25 --tls none",
        ),
    )
    smtp_set.add_argument("--server", required=True, help="SMTP server host name or address")
    smtp_set.add_argument("--port", required=True, help="587 STARTTLS, 465 TLS, 25 plain")
    smtp_set.add_argument("--username", default="", help="user name to log in with")
    smtp_set.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (never from the command line)",
    )
    smtp_set.add_argument("--tls", choices=["starttls", "tls", "none"], default="starttls")
    smtp_set.add_argument(
        "--insecure-skip-verify",
        action="store_true",
        help="do not validate the server's TLS certificate (dangerous)",
    )
    smtp_set.add_argument("--from", dest="from_address", default="", help="sender address")
    smtp_set.set_defaults(handler=run_smtp_set)

    smtp_show = smtp_commands.add_parser(
        "show",
        help="show your SMTP settings (never the password)",
        epilog="example: mailsiren smtp show",
    )
    smtp_show.set_defaults(handler=run_smtp_show)
    smtp_clear = smtp_commands.add_parser(
        "clear", help="delete your SMTP settings", epilog="example: mailsiren smtp clear"
    )
    smtp_clear.set_defaults(handler=run_smtp_clear)
    smtp_test = smtp_commands.add_parser(
        "test",
        help="test the configuration that sends your mail, stage by stage",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples(
            "mailsiren smtp test                  send a test email to yourself",
            "mailsiren smtp test --probe          stop after RCPT TO; send nothing",
            "mailsiren smtp test --to ops@example.com",
        ),
    )
    smtp_test.add_argument("--to", dest="recipient", help="recipient (default: your address)")
    smtp_test.add_argument("--probe", action="store_true", help="stop after RCPT TO")
    smtp_test.add_argument(
        "--timeout", type=float, default=15.0, help="seconds each stage may take (default 15)"
    )
    smtp_test.set_defaults(handler=run_smtp_test)
    smtp_explain = smtp_commands.add_parser(
        "explain",
        help="which configuration sends your mail, and why",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Say which configuration sends your mail (personal or shared) and why; for the "
            "shared one, the file and line of each value, the group that admits you, the "
            "Force-From rewrite and, with --to, the Allowed-To pattern that admits ADDR. "
            "Exits 0 when mail (to ADDR) can be sent, 1 when it would be refused."
        ),
        epilog=examples("mailsiren smtp explain", "mailsiren smtp explain --to ops@example.com"),
    )
    smtp_explain.add_argument("--to", dest="recipient", metavar="ADDR", help="a recipient to check")
    smtp_explain.set_defaults(handler=run_smtp_explain)


def _read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("SMTP password: ")
    line = sys.stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")


def run_smtp_set(arguments: argparse.Namespace) -> int:
    from app.core.sending.personal import SmtpForm, SmtpFormInvalid, save_preferences

    password = _read_password() if arguments.password_stdin else ""
    if arguments.password_stdin and not password:
        raise CommandError("--password-stdin was given but standard input held no password.")
    form = SmtpForm(
        server=arguments.server,
        port=str(arguments.port),
        username=arguments.username,
        password=password,
        tls_mode=arguments.tls,
        skip_certificate_verification=arguments.insecure_skip_verify,
        from_address=arguments.from_address,
    )
    with opened_workspace() as workspace:
        try:
            view = save_preferences(workspace.database, workspace.user, form)
        except SmtpFormInvalid as error:
            flags = {"from_address": "--from", "tls_mode": "--tls"}
            lines = [
                f"  {flags.get(field, '--' + field)}: {text}"
                for field, text in error.errors.items()
            ]
            raise CommandError("the settings were not saved:\n" + "\n".join(lines)) from error
    print(f"Saved SMTP settings for {workspace.user.name}.")
    for warning in view.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


def run_smtp_show(_arguments: argparse.Namespace) -> int:
    from app.core.sending.personal import TLS_MODE_LABELS, load_preferences

    with opened_workspace() as workspace:
        view = load_preferences(workspace.database, workspace.user)
    if view is None:
        print(
            f"{workspace.user.name} has no personal SMTP settings. Set them with: "
            "mailsiren smtp set --server HOST --port N"
        )
        return EXIT_OK
    rows = [
        ("server", f"{view.server}:{view.port}"),
        ("TLS", TLS_MODE_LABELS.get(view.tls_mode, view.tls_mode)),
        ("certificate validation", "DISABLED" if view.skip_certificate_verification else "on"),
        ("username", view.username or "(none: no login)"),
        ("password", "(saved, never shown)" if view.has_password else "(none)"),
        ("from", view.effective_from or "(none: set --from or your email address)"),
        ("updated", f"{view.updated_at:%Y-%m-%d %H:%M:%S} UTC"),
    ]
    for label, value in rows:
        print(f"{label:>24}  {value}")
    for warning in view.warnings:
        print(f"warning: {warning}")
    return EXIT_OK


def run_smtp_clear(_arguments: argparse.Namespace) -> int:
    from app.core.sending.personal import clear_preferences

    with opened_workspace() as workspace:
        removed = clear_preferences(workspace.database, workspace.user)
    print("Your SMTP settings are deleted." if removed else "You had no SMTP settings.")
    return EXIT_OK


def run_smtp_test(arguments: argparse.Namespace) -> int:
    import asyncio

    from app.core.sending.configtest import prepare_smtp_test
    from app.core.sending.smtp import run_smtp_test as run_test

    with opened_workspace() as workspace:
        request = prepare_smtp_test(
            workspace.database,
            workspace.user,
            workspace.shared_config(),
            recipient=arguments.recipient,
            probe=arguments.probe,
        )
    print(request.heading)
    transcript = asyncio.run(
        run_test(
            request.settings,
            recipient=request.recipient,
            mode=request.mode,
            on_stage=lambda stage: print(format_stage(stage), flush=True),
            stage_timeout=arguments.timeout,
        )
    )
    print(("✔ " if transcript.ok else "✘ ") + transcript.summary)
    return EXIT_OK if transcript.ok else EXIT_FAILURE


def format_stage(stage) -> str:
    mark = "✔" if stage.ok else "✘"
    lines = [f"{mark} {stage.stage:<12} {stage.reply}  ({stage.elapsed_ms:.0f} ms)"]
    lines += [f"    {detail}" for detail in stage.details]
    if stage.hint:
        lines.append(f"    hint: {stage.hint}")
    return "\n".join(lines)


def run_smtp_explain(arguments: argparse.Namespace) -> int:
    from app.core.addresses import AddressError, parse_address
    from app.core.sending.choice import PERSONAL, SHARED, choose_configuration
    from app.core.sending.shared import describe_values, shared_warnings

    recipient = None
    if arguments.recipient:
        try:
            recipient = parse_address(arguments.recipient)
        except AddressError as error:
            raise CommandError(f"--to: {error}") from error
    with opened_workspace() as workspace:
        choice = choose_configuration(workspace.database, workspace.user, workspace.shared_config())
    user = workspace.user
    state = choice.shared
    labels = {PERSONAL: "your personal settings", SHARED: "the shared configuration"}
    print(f"Mail from {user.name} is sent with: {labels.get(choice.kind, 'nothing (refused)')}")
    print(f"Why: {choice.reason}")
    if choice.kind == PERSONAL and choice.settings is not None:
        settings = choice.settings
        print(
            f"Personal: {settings.server}:{settings.port} ({settings.tls_mode}), "
            f"from {settings.from_address or '(no sender address)'}; no recipient restrictions."
        )
    print()
    if state.broken:
        print(f"The shared configuration {state.path} has errors:")
        for problem in state.problems:
            print(f"  {problem}")
    elif state.config is None:
        print(f"No shared configuration ({state.path} holds no [Shared-Mail-Config]).")
    else:
        config = state.config
        extra = len(config.files) - 1
        overlays = f" and {extra} overlay file{'s' * (extra != 1)}" if extra else ""
        print(f"Shared configuration, from {config.files[0]}{overlays}:")
        for line in describe_values(config):
            where = str(line.origin) if line.origin else "(default)"
            print(f"  {line.key:<18}  {line.shown:<32}  {where}")
        for warning in shared_warnings(config):
            print(f"warning: {warning}")
        if choice.kind == SHARED:
            if choice.admitted_by is not None:
                group = choice.admitted_by
                print(f"Admitted by: your group {group.name} (Allowed-Group at {group.origin})")
            if config.force_from:
                print(
                    f"Force-From: every mail is sent as {config.force_from} (header From and "
                    "envelope MAIL FROM), whatever sender was asked for."
                )
    return _explain_recipient(choice, recipient)


def _explain_recipient(choice, recipient: str | None) -> int:
    from app.core.sending.choice import SHARED

    if not choice.usable:
        return EXIT_FAILURE
    if recipient is None:
        return EXIT_OK
    config = choice.shared.config
    if choice.kind != SHARED or config is None or not config.allowed_to:
        print(f"Recipient {recipient}: allowed (no Allowed-To restriction applies).")
        return EXIT_OK
    pattern = choice.admitting_pattern(recipient)
    if pattern is None:
        print(
            f"Recipient {recipient}: REFUSED: {recipient.lower()} fully matches no Allowed-To "
            "pattern; mail to it would be refused before connecting."
        )
        return EXIT_FAILURE
    print(f"Recipient {recipient}: allowed by Allowed-To `{pattern.text}` ({pattern.origin}).")
    return EXIT_OK
