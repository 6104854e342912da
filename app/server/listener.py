"""The inbound SMTP listener: accepts mail for enabled alert sources only, 250 after commit."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import signal
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session, TLSSetupException, syntax

from app import paths
from app.errors import MailsirenError
from app.server.certificate import self_signed_pair, server_tls_context
from app.server.metrics import ListenerFigures, MetricsError, MetricsProcess, metrics_url
from app.server.storage import StorageFailed, StorageProcess
from app.server.systemd import notify

STOP_GRACE_SECONDS = 30
LINGER_SECONDS = 5  # after a 421 that ends a session, for the client to read it and hang up
COMMAND_LIMITS = {
    "*": 20_000,  # MAIL, RCPT, DATA: a busy sender may deliver thousands of mails per session
    "HELO": 20,
    "EHLO": 20,
    "STARTTLS": 3,
    "NOOP": 20,  # each NOOP restarts the idle timer: a few keep a slow client alive, no more
    "RSET": 100,  # one before each mail on a reused connection; past that, a new connection
    "VRFY": 10,
    "EXPN": 10,
    "HELP": 10,
    "AUTH": 5,
}
BAD_COMMAND_REPLIES = (b"500", b"501", b"502", b"503", b"504")  # unknown, syntax, sequence

log = logging.getLogger("mailsiren.listener")


@dataclass(frozen=True)
class ListenerLimits:
    """What clients may take of the listener; `serve` runs with these defaults."""

    connections: int = 200  # open at once, every client together
    connections_per_client: int = 50  # open at once from one address (as Postfix's default)
    idle_seconds: float = 300  # between two commands
    session_seconds: float = 600  # a whole connection, whatever it sends, then 421
    message_bytes: int = 10 * 1024 * 1024
    recipients: int = 100  # per mail
    bad_commands: int = 20  # 500-504 replies in a session (Postfix's smtpd_hard_error_limit)
    command_calls: Mapping[str, int] = field(default_factory=lambda: dict(COMMAND_LIMITS))


class ListenerError(MailsirenError):
    """The listener cannot start; the message says why and what to do."""

    title = "Listener cannot start"


@dataclass
class ListenerState:
    """Shared by every session: the limits, open connections, mails being stored, the stop
    signal."""

    limits: ListenerLimits = field(default_factory=ListenerLimits)
    connections: int = 0
    connections_by_client: Counter[str] = field(default_factory=Counter)
    refusing: set[str] = field(default_factory=set)  # "*" or addresses at their cap, said once
    storing: int = 0
    stopping: bool = False
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    replies_451: Counter[str] = field(default_factory=Counter)  # by SMTP command (metrics)
    on_change: Callable[[], None] = lambda: None  # connections or 451s moved (metrics)

    def answered_451(self, command: str) -> None:
        self.replies_451[command] += 1
        self.on_change()

    def figures(self) -> ListenerFigures:
        return ListenerFigures(dict(self.replies_451), self.connections)


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
        lowered = address.lower()
        if lowered in self.addresses:
            return True
        local, _, domain = lowered.rpartition("@")
        base, plus, _token = local.partition("+")
        return bool(plus) and f"{base}+*@{domain}" in self.addresses  # the reply address (§15)


class AlertHandler:
    """aiosmtpd hooks: RCPT checks against enabled sources, DATA stored before 250."""

    def __init__(self, state: ListenerState, storage: StorageProcess) -> None:
        self.state = state
        self.storage = storage
        self.known = KnownAddresses(storage)

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options
    ) -> str:
        most = self.state.limits.recipients
        if len(envelope.rcpt_tos) >= most:
            return f"452 4.5.3 Too many recipients (at most {most} per mail)"
        try:
            known = await self.known.contains(address)
        except StorageFailed as error:  # one line: the storage process's own log says why
            log.error("RCPT lookup for %r failed: %s; answered 451", address, error)
            self.state.answered_451("RCPT")
            return "451 4.3.0 Temporary lookup failure, try again later"
        except Exception:  # noqa: BLE001 - a database error must not look like "no such user"
            log.exception("RCPT lookup failed for %r", address)
            self.state.answered_451("RCPT")
            return "451 4.3.0 Temporary lookup failure, try again later"
        if not known:
            return f"550 5.1.1 <{address}>: no alert source has this address; nothing is relayed"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_EHLO(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses
    ) -> list[str]:
        """Advertise only what is offered: no bare `AUTH` once inside TLS (no mechanism is)."""
        session.host_name = hostname
        return [line for line in responses if line.rstrip() != "250-AUTH"]

    async def handle_DATA(  # noqa: N802
        self, server: ListenerSMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):  # decode_data is off, but never trust a type
            raw = raw.encode("utf-8", "surrogateescape")
        self.state.storing += 1
        self.state.idle.clear()
        try:
            with server.storing():
                mail_id = await self.storage.store(
                    raw, tuple(envelope.rcpt_tos), envelope.mail_from
                )
        except StorageFailed as error:  # said in one line: the storage process says why
            log.error("storing a mail from %r failed: %s; answered 451", envelope.mail_from, error)
            self.state.answered_451("DATA")
            return "451 4.3.0 Temporary storage failure, try again later"
        except Exception:  # noqa: BLE001 - never 250 what is not committed
            log.exception("storing a mail from %r failed", envelope.mail_from)
            self.state.answered_451("DATA")
            return "451 4.3.0 Temporary storage failure, try again later"
        finally:
            self.state.storing -= 1
            if self.state.storing == 0:
                self.state.idle.set()
        if mail_id is None:
            return "554 5.1.1 No enabled alert source for any recipient"
        return f"250 2.0.0 Stored as mail {mail_id}"


class ListenerSMTP(SMTP):
    """aiosmtpd's SMTP with the listener's limits: connections in all and per client address,
    a session deadline, bad commands; a refusal while stopping; one STARTTLS per session."""

    def __init__(self, handler: AlertHandler, state: ListenerState, **keywords) -> None:
        limits = state.limits
        super().__init__(
            handler,
            data_size_limit=limits.message_bytes,
            timeout=limits.idle_seconds,
            command_call_limit=dict(limits.command_calls),
            **keywords,
        )
        self._listener_state = state
        self._client: str | None = None  # the address this connection is counted under
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_passed = False
        self._storing_mail = False
        self._bad_commands = 0
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._client is not None:  # STARTTLS: the same connection again, now over TLS
            super().connection_made(transport)
            return
        state = self._listener_state
        client = client_address(transport)
        refusal = self._refusal(client)
        if refusal is not None:
            transport.write(f"{refusal}\r\n".encode())  # type: ignore[attr-defined]
            transport.close()
            return
        state.connections += 1
        state.connections_by_client[client] += 1
        state.on_change()
        self._client = client
        super().connection_made(transport)
        self._deadline = self.loop.call_later(state.limits.session_seconds, self._deadline_reached)

    def _refusal(self, client: str) -> str | None:
        """The 421 for a connection over a limit (said in the log once per spell), or None."""
        state, limits = self._listener_state, self._listener_state.limits
        if state.stopping:
            return "421 4.3.2 shutting down, try again later"
        if state.connections_by_client[client] >= limits.connections_per_client:
            if client not in state.refusing:
                state.refusing.add(client)
                log.warning(
                    "%s has %d connections open, the most one address may; refusing more "
                    "from it (421) until some close",
                    client,
                    limits.connections_per_client,
                )
            return (
                f"421 4.7.0 too many connections from {client} (at most "
                f"{limits.connections_per_client} at once from one address), try again later"
            )
        if state.connections >= limits.connections:
            if "*" not in state.refusing:
                state.refusing.add("*")
                log.warning(
                    "%d connections open, the most the listener takes; refusing more (421) "
                    "until some close",
                    limits.connections,
                )
            return (
                f"421 4.3.2 too many connections (at most {limits.connections} at once), "
                "try again later"
            )
        return None

    def connection_lost(self, error: Exception | None) -> None:
        client = self._client
        if client is None:  # refused, or already counted out
            return
        self._client = None
        state = self._listener_state
        state.connections -= 1
        state.connections_by_client[client] -= 1
        state.on_change()
        if state.connections_by_client[client] <= 0:
            del state.connections_by_client[client]
        if state.connections_by_client[client] < state.limits.connections_per_client:
            state.refusing.discard(client)  # a Counter says 0 for an address it no longer has
        if state.connections < state.limits.connections:
            state.refusing.discard("*")
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(error)

    @contextmanager
    def storing(self) -> Iterator[None]:
        """While a mail is being stored, the session deadline waits for its reply."""
        self._storing_mail = True
        try:
            yield
        finally:
            self._storing_mail = False

    def _deadline_reached(self) -> None:
        if self._storing_mail:
            self._deadline_passed = True  # closed once the mail's reply is said
            log.info(
                "%s: the session deadline came while a mail was being stored; "
                "closing after its reply",
                peer_text(self.session.peer),
            )
            return
        self._close_with(self._deadline_reply())

    def _deadline_reply(self) -> str:
        log.info("%s: closed at the session deadline", peer_text(self.session.peer))
        longest = duration_text(self._listener_state.limits.session_seconds)
        return (
            f"421 4.4.2 session deadline: a connection lasts at most {longest}; "
            "connect again to go on"
        )

    def _close_with(self, reply: str) -> None:
        """Say `reply` (a 421) as the session's last word and close the connection."""
        if self._closing or self.transport is None:
            return
        self._closing = True
        transport = self.transport
        transport.write(f"{reply}\r\n".encode())
        transport.set_protocol(LingeringClose(self, transport))
        if transport.can_write_eof():
            transport.write_eof()  # the reply, then FIN; closed once the client hangs up
        else:
            transport.close()  # TLS: close_notify after the reply

    async def push(self, status: str | bytes) -> None:
        if self._closing:
            return  # the 421 that closed the session was its last word
        await super().push(status)
        code = (status.encode() if isinstance(status, str) else status)[:3]
        if code in BAD_COMMAND_REPLIES:
            self._bad_commands += 1
            most = self._listener_state.limits.bad_commands
            if self._bad_commands >= most:
                log.warning("%s: too many bad commands, closed", peer_text(self.session.peer))
                self._close_with(
                    f"421 4.7.0 too many bad commands (at most {most} per session), goodbye"
                )

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802
        await super().smtp_DATA(arg)
        if self._deadline_passed:
            self._close_with(self._deadline_reply())

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str) -> None:  # noqa: N802
        if self.session.ssl is not None:
            await self.push("503 5.5.1 TLS is already active")
            return
        await super().smtp_STARTTLS(arg)

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, TLSSetupException):  # one line, never a traceback
            log.warning(
                "%s: TLS handshake failed: %s; connection closed",
                peer_text(self.session.peer),
                handshake_failure(error),
            )
            return "421 4.7.0 TLS handshake failed"  # never sent: aiosmtpd closes at once
        return await super().handle_exception(error)


class LingeringClose(asyncio.Protocol):
    """A connection after its last 421: what the client still sends is read and dropped
    until it hangs up (at most LINGER_SECONDS), so that no reset (RST) destroys the 421
    before the client has read it."""

    def __init__(self, session: ListenerSMTP, transport: asyncio.BaseTransport) -> None:
        self.session = session
        self.timer = asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.close)

    def data_received(self, data: bytes) -> None:
        pass  # the session is over: nothing more is a command

    def eof_received(self) -> bool:
        return False  # the client hung up: close our side too

    def connection_lost(self, error: Exception | None) -> None:
        self.timer.cancel()
        self.session.connection_lost(error)  # counted out; its reading task ends


def client_address(transport: asyncio.BaseTransport) -> str:
    """The client's IP address as connections are counted (IPv4-mapped IPv6 as IPv4)."""
    peer = transport.get_extra_info("peername")
    if not peer:
        return "unknown"
    try:
        address = ipaddress.ip_address(peer[0])
    except ValueError:
        return str(peer[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def peer_text(peer) -> str:
    """`127.0.0.1:41828`, `[::1]:41828`: a peer as the log names it."""
    if not isinstance(peer, tuple) or len(peer) < 2:
        return str(peer)
    host, port = peer[0], peer[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def duration_text(seconds: float) -> str:
    """`10 minutes`, `1 minute`, `90 seconds`: a limit's length as a reply says it."""
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds:g} second" if seconds == 1 else f"{seconds:g} seconds"


def handshake_failure(error: TLSSetupException) -> str:
    """Why a TLS handshake failed, in one line: OpenSSL's reason without its source line."""
    cause = error.__cause__
    if cause is None:
        return "unknown reason"
    text = re.sub(r"\s*\(_ssl\.c:\d+\)$", "", str(cause)) or type(cause).__name__
    return text if isinstance(cause, OSError) else f"{type(cause).__name__}: {text}"


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
    limits: ListenerLimits | None = None,
    metrics: tuple[str, int] | None = None,
) -> None:
    """Listen until `stop` is set; then refuse new sessions and finish storing.

    With `notify`, the storage child runs the notifier too (escalation and delivery).
    `limits` are the defaults of `ListenerLimits` unless given (tests shorten them).
    With `metrics` (host, port), the metrics child serves `/metrics` there; it starts first,
    so a port in use stops serve before it listens for mail.
    """
    state = ListenerState(limits=limits or ListenerLimits())
    state.idle.set()
    storage = StorageProcess(database_url, notify=notify)  # the notifier is its thread
    await storage.start()
    exporter = MetricsProcess(database_url, *metrics, state.figures) if metrics else None
    if exporter is not None:
        try:
            await exporter.start()
        except MetricsError as error:
            await storage.close()
            raise ListenerError(str(error)) from error
        state.on_change = exporter.publish
    handler = AlertHandler(state, storage)
    loop = asyncio.get_running_loop()

    def protocol() -> ListenerSMTP:
        return ListenerSMTP(
            handler,
            state,
            hostname=None,
            ident="mailsiren",
            auth_exclude_mechanism=["LOGIN", "PLAIN"],  # no AUTH: nothing to log in to
            enable_SMTPUTF8=True,
            decode_data=False,
            tls_context=tls_context,
            require_starttls=False,
        )

    try:
        server = await loop.create_server(protocol, host=host, port=port, reuse_address=True)
    except OSError as error:
        await storage.close()
        if exporter is not None:
            await exporter.close()
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
        if exporter is not None:
            await exporter.close()


def serve_forever(
    settings: paths.Settings, host: str, port: int, metrics: tuple[str, int] | None = None
) -> None:
    """`mailsiren serve`: listen in the foreground until SIGTERM or SIGINT; with `metrics`
    (host, port), Prometheus text at /metrics there too."""
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
            run_listener(
                settings.database_url, host, port, tls_context,
                stop=stop, ready=ready, metrics=metrics,
            )
        )  # fmt: skip
        await asyncio.wait(
            [listener, asyncio.create_task(ready.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        if ready.is_set():
            serving = f"; metrics at {metrics_url(*metrics)}" if metrics else ""
            print(
                f"mailsiren listening on {host}:{port} (STARTTLS with {certificate}){serving}; "
                "stop with SIGTERM or ctrl+c",
                file=sys.stderr,
                flush=True,
            )
            notify(f"READY=1\nSTATUS=listening on {host}:{port}")
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait([listener, stopping], return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                notify("STOPPING=1\nSTATUS=finishing the mails being stored")
            stopping.cancel()
        await listener
        print("mailsiren stopped: every accepted mail is stored.", file=sys.stderr, flush=True)

    asyncio.run(main())
