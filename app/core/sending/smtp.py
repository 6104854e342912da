"""Talking SMTP, one named stage at a time: the Test Configuration transcript and sending."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib
from cryptography import x509

from app.core.sending.diagnosis import advice_for_reply
from app.core.sending.personal import SmtpSettings

DEFAULT_STAGE_TIMEOUT = 15.0

# Stage names, in the order a conversation meets them.
RESOLVE = "resolve"
CONNECT = "connect"
BANNER = "banner"
EHLO = "EHLO"
STARTTLS = "STARTTLS"
EHLO_AFTER_TLS = "EHLO again"
AUTH = "AUTH"
MAIL_FROM = "MAIL FROM"
RCPT_TO = "RCPT TO"
DATA = "DATA"
QUIT = "QUIT"


@dataclass(frozen=True)
class StageResult:
    """One stage of the conversation: did it work, what the server said, how long it took."""

    stage: str
    ok: bool
    reply: str
    elapsed_ms: float
    details: tuple[str, ...] = ()
    hint: str = ""


@dataclass(frozen=True)
class Transcript:
    """The whole test: every stage, and where and why it failed if it did."""

    stages: tuple[StageResult, ...]
    mode: str
    recipient: str

    @property
    def ok(self) -> bool:
        return bool(self.stages) and all(stage.ok for stage in self.stages)

    @property
    def failure(self) -> StageResult | None:
        return next((stage for stage in self.stages if not stage.ok), None)

    @property
    def summary(self) -> str:
        failure = self.failure
        if failure is not None:
            return f"Failed at {failure.stage}: {failure.reply}"
        if self.mode == "probe":
            return f"Works: the server would accept mail for {self.recipient} (nothing was sent)."
        return f"Works: a test email to {self.recipient} was accepted by the server."


class StageFailed(Exception):
    """Raised inside the conversation to stop it at a failed stage."""

    def __init__(self, result: StageResult) -> None:
        self.result = result
        super().__init__(result.reply)


StageObserver = Callable[[StageResult], None]


@dataclass
class _Conversation:
    """Runs stages in order, timing each, recording each, calling the observer."""

    settings: SmtpSettings
    stage_timeout: float
    observer: StageObserver | None
    results: list[StageResult] = field(default_factory=list)

    def record(self, result: StageResult) -> StageResult:
        self.results.append(result)
        if self.observer is not None:
            self.observer(result)
        return result

    async def stage(
        self,
        name: str,
        action: Callable[[], Awaitable[object]],
        describe: Callable[[object], tuple[str, tuple[str, ...]]],
    ) -> object:
        started = time.perf_counter()
        try:
            value = await asyncio.wait_for(action(), self.stage_timeout)
        except Exception as error:  # noqa: BLE001 - every failure becomes a stage result
            elapsed = (time.perf_counter() - started) * 1000
            reply, hint = explain_failure(name, error, self.settings, self.stage_timeout)
            failed = self.record(StageResult(name, False, reply, elapsed, (), hint))
            raise StageFailed(failed) from error
        elapsed = (time.perf_counter() - started) * 1000
        reply, details = describe(value)
        self.record(StageResult(name, True, reply, elapsed, details))
        return value

    def fail_without_trying(self, name: str, reply: str, hint: str) -> None:
        raise StageFailed(self.record(StageResult(name, False, reply, 0.0, (), hint)))


def tls_context_for(settings: SmtpSettings) -> ssl.SSLContext:
    """Verification on, TLS 1.2 at least; off only when the user disabled validation."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.skip_certificate_verification:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def run_smtp_test(
    settings: SmtpSettings,
    *,
    recipient: str,
    mode: str = "send",
    on_stage: StageObserver | None = None,
    stage_timeout: float = DEFAULT_STAGE_TIMEOUT,
    local_hostname: str | None = None,
) -> Transcript:
    """Test the settings stage by stage: `probe` stops after RCPT TO, `send` sends a mail."""
    if mode not in ("probe", "send"):
        raise ValueError(f"mode must be probe or send, not {mode!r}")
    conversation = _Conversation(settings, stage_timeout, on_stage)
    sender = settings.from_address or ""
    client: aiosmtplib.SMTP | None = None
    try:
        if not sender:
            conversation.fail_without_trying(
                MAIL_FROM, "no sender address", "Set a From address (or your email address)."
            )
        client = await open_session(conversation, local_hostname=local_hostname)
        await conversation.stage(
            MAIL_FROM, lambda: client.mail(sender), lambda reply: (_reply_text(reply), ())
        )
        await conversation.stage(
            RCPT_TO, lambda: client.rcpt(recipient), lambda reply: (_reply_text(reply), ())
        )
        if mode == "send":
            message = build_test_message(sender, recipient, settings)
            await conversation.stage(
                DATA,
                lambda: client.data(message.as_bytes()),
                lambda reply: (_reply_text(reply), (f"Message-ID: {message['Message-ID']}",)),
            )
        await conversation.stage(QUIT, client.quit, lambda reply: (_reply_text(reply), ()))
        client = None
    except StageFailed:
        pass
    finally:
        if client is not None:
            client.close()
    return Transcript(tuple(conversation.results), mode, recipient)


async def open_sending_session(
    settings: SmtpSettings, *, stage_timeout: float, local_hostname: str | None = None
) -> aiosmtplib.SMTP:
    """A logged-in session for sending notifications; StageFailed says where it broke."""
    conversation = _Conversation(settings, stage_timeout, None)
    return await open_session(conversation, local_hostname=local_hostname)


async def open_session(
    conversation: _Conversation, *, local_hostname: str | None = None
) -> aiosmtplib.SMTP:
    """Resolve, connect, greet, secure and authenticate, recording each stage."""
    settings = conversation.settings
    loop = asyncio.get_running_loop()
    addresses = await conversation.stage(
        RESOLVE,
        lambda: loop.getaddrinfo(settings.server, settings.port, type=socket.SOCK_STREAM),
        lambda infos: _describe_addresses(infos),  # type: ignore[arg-type]
    )
    connected = await conversation.stage(
        CONNECT,
        lambda: _connect_first(addresses, conversation.stage_timeout),  # type: ignore[arg-type]
        lambda sock: (f"connected to {_peer(sock)}", ()),  # type: ignore[arg-type]
    )
    implicit_tls = settings.tls_mode == "tls"
    client = aiosmtplib.SMTP(
        hostname=settings.server,
        sock=connected,  # type: ignore[arg-type]
        use_tls=implicit_tls,
        start_tls=False,  # STARTTLS is its own stage below, and never optional
        tls_context=tls_context_for(settings) if settings.tls_mode != "none" else None,
        timeout=conversation.stage_timeout,
        local_hostname=local_hostname,
    )
    try:
        await conversation.stage(
            "TLS + banner" if implicit_tls else BANNER,
            client.connect,
            lambda reply: (
                _reply_text(reply),
                _tls_details(client, settings) if implicit_tls else (),
            ),
        )
        await conversation.stage(EHLO, client.ehlo, lambda reply: _describe_ehlo(reply))
        if settings.tls_mode == "starttls":
            if not client.supports_extension("starttls"):
                conversation.fail_without_trying(
                    STARTTLS,
                    "the server does not offer STARTTLS",
                    "Nothing was sent unencrypted. The server may want implicit TLS "
                    "(port 465, TLS mode 'tls'), or STARTTLS is turned off on it.",
                )
            await conversation.stage(
                STARTTLS,
                lambda: client.starttls(server_hostname=settings.server),
                lambda reply: (_reply_text(reply), _tls_details(client, settings)),
            )
            await conversation.stage(
                EHLO_AFTER_TLS, client.ehlo, lambda reply: _describe_ehlo(reply)
            )
        if settings.username:
            if not client.supports_extension("auth"):
                hint = "The server offers no AUTH command."
                if settings.tls_mode == "none":
                    hint += " Many servers offer AUTH only after STARTTLS: turn on Use TLS."
                conversation.fail_without_trying(AUTH, "AUTH not offered", hint)
            await conversation.stage(
                AUTH,
                lambda: client.login(settings.username or "", settings.password or ""),
                lambda reply: (_reply_text(reply), (f"as {settings.username}",)),
            )
    except BaseException:
        client.close()
        connected.close()  # type: ignore[union-attr] - if aiosmtplib never took it over
        raise
    return client


async def _connect_first(
    infos: list[tuple], timeout: float
) -> socket.socket:  # the first address that answers, as happy eyeballs would
    loop = asyncio.get_running_loop()
    last_error: OSError | None = None
    for family, kind, protocol, _name, address in infos:
        sock = socket.socket(family, kind, protocol)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, address), timeout)
            return sock
        except (OSError, TimeoutError) as error:
            sock.close()
            last_error = error if isinstance(error, OSError) else TimeoutError("timed out")
    raise last_error or OSError("no address to connect to")


def build_test_message(sender: str, recipient: str, settings: SmtpSettings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = "mailsiren test message"
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "mailsiren.invalid")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        "This is a test message from mailsiren's Test Configuration.\n\n"
        f"It was sent through {settings.server}:{settings.port} "
        f"(TLS mode: {settings.tls_mode}).\n"
        "If you can read it, mailsiren can send you notifications.\n"
    )
    return message


def _reply_text(reply: object) -> str:
    if isinstance(reply, aiosmtplib.SMTPResponse):
        first, *_ = reply.message.splitlines() or [""]
        return f"{reply.code} {first}".strip()
    return str(reply)


def _describe_ehlo(reply: object) -> tuple[str, tuple[str, ...]]:
    assert isinstance(reply, aiosmtplib.SMTPResponse)
    lines = reply.message.splitlines()
    extensions = " ".join(line.split()[0] for line in lines[1:] if line.split())
    return f"{reply.code} {lines[0] if lines else ''}".strip(), (
        (f"offers: {extensions}",) if extensions else ()
    )


def _describe_addresses(infos: list[tuple]) -> tuple[str, tuple[str, ...]]:
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    return ", ".join(addresses[:4]) + (" …" if len(addresses) > 4 else ""), ()


def _peer(sock: socket.socket) -> str:
    host, port, *_ = sock.getpeername()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _tls_details(client: aiosmtplib.SMTP, settings: SmtpSettings) -> tuple[str, ...]:
    ssl_object = client.get_transport_info("ssl_object")
    if ssl_object is None:
        return ("no TLS session",)
    cipher = ssl_object.cipher()
    details = [f"protocol {ssl_object.version()}, cipher {cipher[0] if cipher else '?'}"]
    der = ssl_object.getpeercert(binary_form=True)
    if der:
        certificate = x509.load_der_x509_certificate(der)
        details.append(f"certificate subject: {certificate.subject.rfc4514_string()}")
        details.append(f"issuer: {certificate.issuer.rfc4514_string()}")
        details.append(f"expires: {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    if settings.skip_certificate_verification:
        details.append("verification: SKIPPED (validation disabled in settings)")
    else:
        details.append(f"verification: OK, chain trusted and name matches {settings.server}")
    return tuple(details)


def explain_failure(
    stage: str, error: BaseException, settings: SmtpSettings, timeout: float
) -> tuple[str, str]:
    """The reply to show and a hint for a person, for an error met at a stage: worked out
    once here, then carried by the transcript's stage or the delivery's attempt."""
    port = settings.port
    if isinstance(error, TimeoutError | asyncio.TimeoutError | aiosmtplib.SMTPTimeoutError):
        hint = f"No answer within {timeout:g} s."
        if stage == BANNER and port == 465:
            hint += " Port 465 expects implicit TLS: choose TLS mode 'tls'."
        elif stage in (BANNER, "TLS + banner"):
            hint += " The port may expect another TLS mode, or a firewall holds the connection."
        elif stage == CONNECT:
            hint += " A firewall may be dropping connections to this port."
        return f"timed out after {timeout:g} s", hint
    if isinstance(error, socket.gaierror):
        return (
            f"cannot resolve {settings.server}: {error.strerror}",
            "Check the server name's spelling and this machine's DNS.",
        )
    verification = _verification_error(error)
    if verification is not None:
        return _explain_certificate(verification, settings)
    if isinstance(error, ConnectionRefusedError) or "Connection refused" in str(error):
        return (
            f"connection refused by {settings.server}:{port}",
            "Nothing listens on that port. Check it: 587 for STARTTLS, 465 for implicit "
            "TLS, 25 for server-to-server.",
        )
    ssl_error = _ssl_error(error)
    if ssl_error is not None:
        text = str(ssl_error)
        if "WRONG_VERSION_NUMBER" in text.upper() or "wrong version number" in text:
            return (
                f"TLS handshake failed: {text}",
                f"Port {port} speaks plaintext SMTP: choose STARTTLS, not implicit TLS.",
            )
        return f"TLS handshake failed: {text}", "The server and mailsiren share no TLS version."
    if isinstance(error, aiosmtplib.SMTPResponseException):
        reply = f"{error.code} {error.message}".strip()
        return reply, advice_for_reply(stage, reply)
    if isinstance(error, aiosmtplib.SMTPServerDisconnected):
        return f"the server closed the connection: {error}", (
            "The server hung up; it may limit connections or dislike this client's address."
        )
    if isinstance(error, OSError):
        return f"{type(error).__name__}: {error}", "The network refused the connection."
    return f"{type(error).__name__}: {error}", ""


def _ssl_error(error: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _verification_error(error: BaseException) -> ssl.SSLCertVerificationError | None:
    found = _ssl_error(error)
    return found if isinstance(found, ssl.SSLCertVerificationError) else None


def _explain_certificate(
    error: ssl.SSLCertVerificationError, settings: SmtpSettings
) -> tuple[str, str]:
    reply = f"certificate verification failed: {error.verify_message}"
    code = error.verify_code
    if code == 62 or "hostname mismatch" in (error.verify_message or ""):
        return reply, (
            f"Certificate name mismatch: the certificate is not for {settings.server}. Use the "
            "name the certificate was issued for as the server."
        )
    if code == 10:
        return reply, "The server's certificate has expired: tell its administrator."
    if code in (18, 19, 20, 21):
        return reply, (
            "The certificate is not signed by an authority this machine trusts (self-signed "
            "or a private CA). Install that CA, or, knowing the risk, disable validation."
        )
    return reply, "The server's certificate cannot be trusted."
