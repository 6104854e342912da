"""Regenerate the SVG screenshots in screenshots/ from a fixed scenario, with real SMTP servers.

Run: .venv/bin/python screenshots/generate.py   (needs the test extra: pip install -e '.[test]')
It uses a throwaway data folder and a local aiosmtpd server with STARTTLS and AUTH over
loopback; your own database is never touched.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import ssl
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "screenshots"  # --output DIR writes elsewhere (the test that runs this does)
SIZE = (120, 36)
USER = "alice@example.com"
PASSWORD = "correct horse battery staple"
FROZEN = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
# The SMTP screen shows the shared configuration's path: a relative one, in the throwaway
# folder (the current directory while those shots are taken), so that it does not change
# with the folder's random name.
SHARED_CONFIG = Path("mailsiren.conf")


def save(app, name: str) -> None:
    app.save_screenshot(name, path=str(OUTPUT))
    print(f"wrote {OUTPUT / name}")


class AcceptAll:
    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        return "250 2.0.0 Ok: queued"


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode(),
        auth_data.password.decode(),
    ) == (USER, PASSWORD)
    return AuthResult(success=ok, handled=False)


def start_server(ca: trustme.CA) -> tuple[Controller, int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        AcceptAll(),
        hostname="127.0.0.1",
        port=port,
        server_hostname="mx.example.com",
        tls_context=context,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    return controller, port


async def shoot(name: str, port: int, password: str, recipient: str) -> None:
    from app.core.sending.personal import SmtpForm, save_preferences
    from app.core.workspace import open_workspace
    from app.ui.app import MailsirenApp

    workspace = open_workspace()
    form = SmtpForm(
        server="localhost", port=str(port), username=USER, password=password, from_address=USER
    )
    save_preferences(workspace.database, workspace.user, form, clock=lambda: FROZEN)
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#send-to").value = recipient
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        save(app, name)
    workspace.close()


async def shoot_shared(name: str, port: int) -> None:
    """No personal settings: the shared configuration (in group ops) sends, as Force-From."""
    from app.core.sending.personal import clear_preferences
    from app.core.users import add_group, change_members, update_user
    from app.core.workspace import open_workspace
    from app.ui.app import MailsirenApp

    SHARED_CONFIG.write_text(
        "[Shared-Mail-Config]\n"
        "\tServer = `localhost`\n"
        f"\tPort = {port}\n"
        f"\tUsername = `{USER}`\n"
        f"\tPassword = `{PASSWORD}`\n"
        "\tUseTLS = true\n"
        "\tForce-From = `alerts@example.com`\n"
        "\tAllowed-Group = ops\n"
        "\tAllowed-To = `[a-z0-9.+-]+@example\\.com`\n"
    )
    workspace = open_workspace()
    clear_preferences(workspace.database, workspace.user)
    add_group(workspace.database, workspace.user, "ops")
    change_members(workspace.database, workspace.user, "ops", add=["alice"])
    update_user(workspace.database, workspace.user, "alice", email=USER)
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#send-to").value = "oncall@example.com"
        app.screen.query_one("#probe").value = True
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        save(app, name)
    workspace.close()


async def shoot_admin(name: str) -> None:
    from app.core.users import add_group, add_user
    from app.core.workspace import open_workspace
    from app.ui.app import MailsirenApp

    workspace = open_workspace()
    add_group(workspace.database, workspace.user, "dba")
    add_user(workspace.database, workspace.user, "bob", email="bob@example.com",
             permissions=["view_connections", "triage"], groups=["ops"])  # fmt: skip
    add_user(workspace.database, workspace.user, "carol", email="carol@example.com",
             permissions=["view_connections", "edit_connections", "triage"],
             groups=["ops", "dba"])  # fmt: skip
    app = MailsirenApp(workspace, initial_mode="admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("j", "e")
        await settle(app, pilot)
        save(app, name)
    workspace.close()


async def shoot_incidents(log_name: str, detail_name: str, narrow_name: str) -> None:
    """The sample corpus, ingested at fixed times, then the log and one incident's detail;
    and the log at 80x24 in the terminal's own colours (`--theme ansi`), as over SSH."""
    from dataclasses import replace

    import app.ui.display
    from app.core.configfile import import_config
    from app.core.incidents.views import assign_incident, change_state, note_incident
    from app.core.intake.pipeline import ingest_mail
    from app.core.workspace import open_workspace
    from app.ui.app import MailsirenApp

    fixtures = ROOT / "tests" / "fixtures"
    workspace = open_workspace()
    import_config(workspace.database, workspace.user, (fixtures / "sources.toml").read_text())
    corpus = sorted((fixtures / "corpus").glob("*.eml"))
    for number, path in enumerate(corpus):
        moment = FROZEN - timedelta(minutes=7 * (len(corpus) - number))
        to = [line.split(":", 1)[1].strip() for line in path.read_text().splitlines()
              if line.lower().startswith("to:")]  # fmt: skip
        ingest_mail(workspace.database, path.read_bytes(), to[:1], via="smtp",
                    clock=lambda moment=moment: moment)  # fmt: skip
    change_state(workspace.database, workspace.user, "accept", [2], clock=lambda: FROZEN)
    assign_incident(workspace.database, workspace.user, 2, "alice", clock=lambda: FROZEN)
    note_incident(workspace.database, workspace.user, 1,
                  "/var/log filled by a debug flag; rotated, disk at 60%", clock=lambda: FROZEN)  # fmt: skip
    app.ui.display.now = lambda: FROZEN  # ages as of the frozen moment
    mailsiren = MailsirenApp(workspace)
    async with mailsiren.run_test(size=SIZE) as pilot:
        await settle(mailsiren, pilot)
        await pilot.press("s", "s", "s", "s")  # every state
        await settle(mailsiren, pilot)
        save(mailsiren, log_name)
        await pilot.press("G", "enter")
        await settle(mailsiren, pilot)
        save(mailsiren, detail_name)
    workspace.settings = replace(workspace.settings, theme="ansi")
    mailsiren = MailsirenApp(workspace)
    async with mailsiren.run_test(size=(80, 24)) as pilot:
        await settle(mailsiren, pilot)
        await pilot.press("s", "s", "s", "s")  # every state
        await settle(mailsiren, pilot)
        save(mailsiren, narrow_name)
    workspace.close()


async def shoot_sources(
    list_name: str, editor_name: str, preview_name: str, log_name: str,
    silence_form_name: str, silences_name: str,
) -> None:  # fmt: skip
    """The Nagios sample set up as a by_key source with a recovery rule, by keyboard."""
    import app.ui.display
    from app.core.intake.pipeline import ingest_mail
    from app.core.workspace import open_workspace
    from app.ui.app import MailsirenApp

    corpus = ROOT / "tests" / "fixtures" / "corpus"
    app.ui.display.now = lambda: FROZEN
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="mailsiren-sources-")  # no sources yet
    workspace = open_workspace()
    mailsiren = MailsirenApp(workspace, initial_mode="sources")
    async with mailsiren.run_test(size=SIZE) as pilot:

        async def tab_to(selector: str) -> None:
            while mailsiren.focused not in mailsiren.screen.query(selector):
                await pilot.press("tab")

        await settle(mailsiren, pilot)
        await pilot.press("n", *"nagios", "tab", *"nagios@alerts.example.com")
        await tab_to("#source-creation")
        await pilot.press("enter", "down", "down", "down", "down", "enter")
        await pilot.press("ctrl+o")
        await settle(mailsiren, pilot)
        await pilot.press(*"tests/fixtures/corpus", "enter")
        await settle(mailsiren, pilot)
        await tab_to("#filters")
        await pilot.press("a", *"Service Alert", "enter")
        await settle(mailsiren, pilot)
        await tab_to("#key-rules")
        await pilot.press("a", *r"Alert: (\S+)/(.+) is")
        await settle(mailsiren, pilot)
        save(mailsiren, editor_name)
        await pilot.press("enter")
        await tab_to("#resolve-rules")
        await pilot.press("a", *"RECOVERY", "enter")
        await settle(mailsiren, pilot)
        await tab_to("#preview")
        await pilot.press("j", "j", "j")
        await settle(mailsiren, pilot)
        save(mailsiren, preview_name)
        await pilot.press("ctrl+s")
        await settle(mailsiren, pilot)
        for number, path in enumerate(sorted(corpus.glob("0[1-5]-nagios-*.eml"))):
            moment = FROZEN - timedelta(minutes=40 - 7 * number)
            ingest_mail(workspace.database, path.read_bytes(), ["nagios@alerts.example.com"],
                        via="smtp", clock=lambda moment=moment: moment)  # fmt: skip
        mailsiren.screen.load()
        await settle(mailsiren, pilot)
        save(mailsiren, list_name)
        await pilot.press("m")
        await settle(mailsiren, pilot)
        save(mailsiren, log_name)
        await pilot.press("escape", "z", *"db01 upgrade")  # silence nagios: 2h, a reason
        await settle(mailsiren, pilot)
        save(mailsiren, silence_form_name)
        await pilot.press("enter", "enter", "Z")
        await settle(mailsiren, pilot)
        save(mailsiren, silences_name)
    workspace.close()


async def shoot_notifications(list_name: str, log_name: str, policy_name: str) -> None:
    """The Integrations area with a fixed history: one sent, one retrying, one failed."""
    import app.ui.display
    from app.core.workspace import open_workspace
    from app.ui.app import MailsirenApp
    from tests.fixtures.notifications import with_notifications

    app.ui.display.now = lambda: FROZEN
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="mailsiren-notify-")
    workspace = open_workspace()
    with_notifications(workspace, FROZEN)
    mailsiren = MailsirenApp(workspace, initial_mode="integrations")
    async with mailsiren.run_test(size=SIZE) as pilot:
        await settle(mailsiren, pilot)
        save(mailsiren, list_name)
        await pilot.press("tab", "e")
        await settle(mailsiren, pilot)
        save(mailsiren, policy_name)
        await pilot.press("escape", "d")
        await settle(mailsiren, pilot)
        await pilot.press("G", "k", "k")
        await settle(mailsiren, pilot)
        save(mailsiren, log_name)
    workspace.close()


async def shoot_schedules(name: str) -> None:
    """The Integrations area's on-call schedules: who is on call now, the handoff, who next."""
    import app.ui.display
    from app.core.workspace import open_workspace
    from app.ui.app import MailsirenApp
    from tests.fixtures.notifications import with_notifications
    from tests.ui.test_schedules_screen import with_a_schedule

    app.ui.display.now = lambda: FROZEN
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="mailsiren-schedules-")
    workspace = open_workspace()
    with_notifications(workspace, FROZEN)
    with_a_schedule(workspace)
    mailsiren = MailsirenApp(workspace, initial_mode="integrations")
    async with mailsiren.run_test(size=SIZE) as pilot:
        await settle(mailsiren, pilot)
        await pilot.press("tab", "tab")  # to the schedules
        await settle(mailsiren, pilot)
        save(mailsiren, name)
    workspace.close()


def main() -> int:
    global OUTPUT
    parser = argparse.ArgumentParser(description="Regenerate the SVG screenshots.")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="folder to write them to")
    OUTPUT = parser.parse_args().output
    OUTPUT.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="mailsiren-screenshots-"))
    for variable in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS"):
        (home / variable).mkdir()
        os.environ[variable] = str(home / variable)
    import app.core.workspace  # the operator shown is alice, whoever runs this script

    app.core.workspace.current_login = lambda: "alice"
    os.environ.pop("MAILSIREN_DB", None)
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(home / "ca.pem"))
    os.environ["SSL_CERT_FILE"] = str(home / "ca.pem")
    controller, port = start_server(ca)
    try:
        os.environ["MAILSIREN_SHARED_CONFIG"] = str(SHARED_CONFIG)
        with contextlib.chdir(home):  # none there yet, then shoot_shared writes one
            asyncio.run(shoot("smtp-test-passing.svg", port, PASSWORD, "oncall@example.com"))
            asyncio.run(
                shoot("smtp-test-failing.svg", port, "wrong password", "oncall@example.com")
            )
            asyncio.run(shoot_shared("smtp-shared-configuration.svg", port))
        # the later shots still have it, as before; none of them shows its path
        os.environ["MAILSIREN_SHARED_CONFIG"] = str(home / SHARED_CONFIG)
        asyncio.run(shoot_admin("admin-edit-user.svg"))
        asyncio.run(
            shoot_incidents(
                "incident-log.svg", "incident-detail.svg", "incident-log-80x24-ansi.svg"
            )
        )
        asyncio.run(
            shoot_sources(
                "sources.svg",
                "source-key-rule.svg",
                "source-preview.svg",
                "source-mail-log.svg",
                "silence-form.svg",
                "silences.svg",
            )  # fmt: skip
        )
        asyncio.run(
            shoot_notifications("integrations.svg", "delivery-log.svg", "escalation-policy.svg")
        )
        asyncio.run(shoot_schedules("schedules.svg"))
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from tests.ui.pilot import settle  # the tests' wait: workers done, tables measured

    raise SystemExit(main())
