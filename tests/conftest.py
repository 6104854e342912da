"""Shared fixtures: isolated data folders, a workspace in them, a test CA, and real SMTP servers
over loopback."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from app.core.store.db import Database, open_database
from app.core.store.secrets import load_or_create_keyring
from app.core.users import UserView, ensure_user
from app.core.workspace import Workspace, open_workspace
from tests.as_operator import LOGIN_VARIABLE, operator_login
from tests.postgres import TEMPLATE, PostgresServer, start_postgres

TEST_LOGIN = "alice"
GOOD_USER = "alice@example.com"
GOOD_PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data, config and site-config folders, and login alice."""
    home = tmp_path / "home"
    for variable, folder in {
        "XDG_DATA_HOME": "data",
        "XDG_CONFIG_HOME": "config",
        "XDG_CONFIG_DIRS": "site-config",
        "XDG_STATE_HOME": "state",
        "XDG_CACHE_HOME": "cache",
    }.items():
        (home / folder).mkdir(parents=True)
        monkeypatch.setenv(variable, str(home / folder))
    monkeypatch.setenv(LOGIN_VARIABLE, TEST_LOGIN)  # who the test is: see tests/as_operator.py
    monkeypatch.setattr("app.core.workspace.current_login", operator_login)
    monkeypatch.delenv("MAILSIREN_DB", raising=False)
    for variable in ("MAILSIREN_SHARED_CONFIG", "MAILSIREN_DATA_DIR", "MAILSIREN_CONFIG_DIR"):
        monkeypatch.delenv(variable, raising=False)
    return home


@pytest.fixture
def workspace() -> Iterator[Workspace]:
    """The workspace the UI opens, in the test's isolated folders."""
    opened = open_workspace()
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory) -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session, with a migrated template database."""
    server = start_postgres()
    try:
        server.execute(f"CREATE DATABASE {TEMPLATE}")
        keyring = load_or_create_keyring(tmp_path_factory.mktemp("pg-key") / "template.key")
        open_database(server.url(TEMPLATE), keyring).dispose()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The engine's tests run on both backends: an SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'mailsiren.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.new_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def database(tmp_path: Path, database_url: str) -> Iterator[Database]:
    keyring = load_or_create_keyring(tmp_path / "db" / "mailsiren.key")
    db = open_database(database_url, keyring)
    yield db
    db.dispose()


@pytest.fixture
def user(database: Database) -> UserView:
    return ensure_user(database, TEST_LOGIN)


@pytest.fixture(scope="session")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_bundle(certificate_authority: trustme.CA, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def trust_test_ca(ca_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make OpenSSL's default verification trust the test CA (and only it)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return ca_bundle


def server_tls_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


@contextmanager
def silent_listener() -> Iterator[tuple[str, int, Callable[[], int]]]:
    """A TCP port that accepts nothing: the callable counts who tried to connect."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.setblocking(False)

        def connection_attempts() -> int:
            count = 0
            while True:
                try:
                    accepted, _ = listener.accept()
                except BlockingIOError:
                    return count
                accepted.close()
                count += 1

        yield "127.0.0.1", listener.getsockname()[1], connection_attempts


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class RecordingHandler:
    """An aiosmtpd handler that keeps every mail it accepts."""

    received: list[ReceivedMail] = field(default_factory=list)
    greetings: list[str] = field(default_factory=list)  # one per EHLO: who talked to us
    refuse_recipients_with: str | None = None
    arrival: threading.Condition = field(default_factory=threading.Condition)

    def wait_for_mails(self, count: int, seconds: float = 30.0) -> list[ReceivedMail]:
        """Block until `count` mails have arrived (another process sends them), or fail."""
        with self.arrival:
            arrived = self.arrival.wait_for(lambda: len(self.received) >= count, seconds)
        assert arrived, f"{len(self.received)} of {count} mails arrived within {seconds} s"
        return list(self.received)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        self.greetings.append(hostname)
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.refuse_recipients_with:  # "{address}" in it says the address back, as Postfix
            return self.refuse_recipients_with.replace("{address}", address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.arrival:
            self.received.append(
                ReceivedMail(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content or envelope.content,
                )
            )
            self.arrival.notify_all()
        return "250 2.0.0 Message accepted"


def check_password(server, session, envelope, mechanism, auth_data) -> AuthResult:
    if isinstance(auth_data, LoginPassword):
        ok = auth_data.login.decode() == GOOD_USER and auth_data.password.decode() == GOOD_PASSWORD
        return AuthResult(success=ok, handled=False)
    return AuthResult(success=False, handled=False)


@dataclass
class RunningServer:
    host: str
    port: int
    handler: RecordingHandler


@pytest.fixture
def smtp_server(certificate_authority: trustme.CA):
    """Start real aiosmtpd servers: smtp_server(starttls=..., implicit_tls=..., auth=...)."""
    controllers: list[Controller] = []

    def start(
        *,
        starttls: bool = True,
        implicit_tls: bool = False,
        auth: bool = True,
        auth_require_tls: bool = True,
        certificate_names: tuple[str, ...] = ("localhost", "127.0.0.1"),
        refuse_recipients_with: str | None = None,
    ) -> RunningServer:
        handler = RecordingHandler(refuse_recipients_with=refuse_recipients_with)
        context = server_tls_context(certificate_authority, *certificate_names)
        port = free_port()
        keywords: dict = {
            "hostname": "127.0.0.1",
            "port": port,
            "server_hostname": "mx.test",
            "ready_timeout": 10,
        }
        if implicit_tls:
            keywords["ssl_context"] = context
        elif starttls:
            keywords["tls_context"] = context
        if auth:
            keywords["authenticator"] = check_password
            keywords["auth_require_tls"] = auth_require_tls
        else:
            keywords["auth_exclude_mechanism"] = ["PLAIN", "LOGIN"]
        controller = Controller(handler, **keywords)
        controller.start()
        controllers.append(controller)
        return RunningServer("127.0.0.1", port, handler)

    yield start
    for controller in controllers:
        controller.stop()
