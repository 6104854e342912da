"""The inbound SMTP listener: accepts mail for enabled alert sources only, 250 after commit."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

from app import paths
from app.errors import MailsirenError
from app.server.certificate import self_signed_pair, server_tls_context
from app.server.notifier import NotifierProcess
from app.server.storage import StorageFailed, StorageProcess

MAX_RECIPIENTS = 100
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
MAX_CONNECTIONS = 200
SESSION_TIMEOUT = 300
STOP_GRACE_SECONDS = 30
COMMAND_LIMITS = {
    "*": 20_000,  # MAIL, RCPT, DATA: a busy sender may deliver thousands of mails per session
    "HELO": 20,
    "EHLO": 20,
    "STARTTLS": 3,
    "NOOP": 100,
    "RSET": 2_000,
    "VRFY": 10,
    "EXPN": 10,
    "HELP": 10,
    "AUTH": 5,
}

log = logging.getLogger("mailsiren.listener")


class ListenerError(MailsirenError):
    """The listener cannot start; the message says why and what to do."""

    title = "Listener cannot start"


@dataclass
class ListenerState:
    """Shared by every session: open connections, mails being stored, the stop signal."""

    connections: int = 0
    storing: int = 0
    stopping: bool = False
    idle: asyncio.Event = field(default_factory=asyncio.Event)


class KnownAddresses:
    """The enabled sources' addresses, read at most once a second for RCPT checks.

    A source enabled or disabled takes effect within a second; DATA checks again against
    the database in the same transaction that stores the mail.
    """

    MAX_AGE = 1.0

    def __init__(self, storage: StorageProcess) -> None:
        self.storage = storage
        self.addresses: frozenset[str] = frozenset()
        self.read_at = float("-inf")
        self.lock = asyncio.Lock()

    async def contains(self, address: str) -> bool:
        loop = asyncio.get_running_loop()
        if loop.time() - self.read_at > self.MAX_AGE:
            async with self.lock:
                if loop.time() - self.read_at > self.MAX_AGE:
                    self.addresses = await self.storage.enabled_addresses()
                    self.read_at = loop.time()
        return address.lower() in self.addresses


class AlertHandler:
    """aiosmtpd hooks: RCPT checks against enabled sources, DATA stored before 250."""

    def __init__(self, state: ListenerState, storage: StorageProcess) -> None:
        self.state = state
        self.storage = storage
        self.known = KnownAddresses(storage)

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return f"452 4.5.3 Too many recipients (at most {MAX_RECIPIENTS} per mail)"
        try:
            known = await self.known.contains(address)
        except Exception:  # noqa: BLE001 - a database error must not look like "no such user"
            log.exception("RCPT lookup failed for %r", address)
            return "451 4.3.0 Temporary lookup failure, try again later"
        if not known:
            return f"550 5.1.1 <{address}>: no alert source has this address; nothing is relayed"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        if isinstance(raw, str):  # decode_data is off, but never trust a type
            raw = raw.encode("utf-8", "surrogateescape")
        self.state.storing += 1
        self.state.idle.clear()
        try:
            mail_id = await self.storage.store(raw, tuple(envelope.rcpt_tos), envelope.mail_from)
        except StorageFailed as error:  # said in one line: the storage process says why
            log.error("storing a mail from %r failed: %s; answered 451", envelope.mail_from, error)
            return "451 4.3.0 Temporary storage failure, try again later"
        except Exception:  # noqa: BLE001 - never 250 what is not committed
            log.exception("storing a mail from %r failed", envelope.mail_from)
            return "451 4.3.0 Temporary storage failure, try again later"
        finally:
            self.state.storing -= 1
            if self.state.storing == 0:
                self.state.idle.set()
        if mail_id is None:
            return "554 5.1.1 No enabled alert source for any recipient"
        return f"250 2.0.0 Stored as mail {mail_id}"


class ListenerSMTP(SMTP):
    """aiosmtpd's SMTP with a cap on open connections and a refusal while stopping."""

    def __init__(self, handler: AlertHandler, state: ListenerState, **keywords) -> None:
        super().__init__(handler, **keywords)
        self._listener_state = state
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        state = self._listener_state
        if state.stopping or state.connections >= MAX_CONNECTIONS:
            reason = "shutting down" if state.stopping else "too many connections"
            transport.write(f"421 4.3.2 {reason}, try again later\r\n".encode())  # type: ignore[attr-defined]
            transport.close()
            return
        state.connections += 1
        self._counted = True
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if not self._counted:
            return
        self._counted = False
        self._listener_state.connections -= 1
        super().connection_lost(error)


def tls_context_for(settings: paths.Settings):
    if settings.listener_certificate and settings.listener_private_key:
        certificate = Path(settings.listener_certificate)
        private_key = Path(settings.listener_private_key)
    else:
        certificate, private_key = self_signed_pair(paths.data_dir())
    return server_tls_context(certificate, private_key), certificate


async def run_listener(
    database_url: str,
    host: str,
    port: int,
    tls_context,
    *,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
    notify: bool = True,
) -> None:
    """Listen until `stop` is set; then refuse new sessions and finish storing.

    With `notify`, the notifier child runs beside the listener (escalation and delivery).
    """
    state = ListenerState()
    state.idle.set()
    storage = StorageProcess(database_url)
    await storage.start()
    notifier = NotifierProcess(database_url) if notify else None
    if notifier is not None:
        await notifier.start()
    handler = AlertHandler(state, storage)
    loop = asyncio.get_running_loop()

    def protocol() -> ListenerSMTP:
        return ListenerSMTP(
            handler,
            state,
            hostname=None,
            ident="mailsiren",
            auth_exclude_mechanism=["LOGIN", "PLAIN"],  # no AUTH: nothing to log in to
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
            decode_data=False,
            tls_context=tls_context,
            require_starttls=False,
            timeout=SESSION_TIMEOUT,
            command_call_limit=COMMAND_LIMITS,
        )

    try:
        server = await loop.create_server(protocol, host=host, port=port, reuse_address=True)
    except OSError as error:
        await storage.close()
        if notifier is not None:
            await notifier.close()
        raise ListenerError(
            f"cannot listen on {host}:{port}: {error.strerror or error}. If another "
            "`mailsiren serve` uses that port, stop it or choose another with --smtp-port."
        ) from error
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        state.stopping = True
        server.close()
        try:
            await asyncio.wait_for(state.idle.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            log.error("stopped with %d mails still being stored", state.storing)
        await storage.close()
        if notifier is not None:
            await notifier.close()


def serve_forever(settings: paths.Settings, host: str, port: int) -> None:
    """`mailsiren serve`: listen in the foreground until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: one line per command
    tls_context, certificate = tls_context_for(settings)

    async def main() -> None:
        stop = asyncio.Event()
        ready = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(signal_number, stop.set)
        listener = asyncio.create_task(
            run_listener(settings.database_url, host, port, tls_context, stop=stop, ready=ready)
        )
        await asyncio.wait(
            [listener, asyncio.create_task(ready.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        if ready.is_set():
            print(
                f"mailsiren listening on {host}:{port} (STARTTLS with {certificate}); "
                "stop with SIGTERM or ctrl+c",
                file=sys.stderr,
                flush=True,
            )
        await listener
        print("mailsiren stopped: every accepted mail is stored.", file=sys.stderr, flush=True)

    asyncio.run(main())
