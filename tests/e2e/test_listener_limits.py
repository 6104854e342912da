"""One client cannot lock the others out: connections per address, the session deadline,
command limits; flooding from 127.0.0.1 while 127.0.0.2 sends (Linux routes all 127/8)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import smtplib
import socket
import sqlite3
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosmtplib
import pytest

from app import paths
from app.server.listener import ListenerLimits, run_listener
from tests.e2e.peers import free_port
from tests.e2e.process import mailsiren, mailsiren_json
from tests.e2e.serve import running_serve
from tests.mails import SENDER, SOURCE, alert_mail

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FLOODER, SENDER_HOST = "127.0.0.1", "127.0.0.2"


@pytest.fixture
def sources():
    imported = mailsiren("config", "import", str(FIXTURES / "sources.toml"))
    assert imported.returncode == 0, imported.stderr


def nagios_alert(host: int) -> bytes:
    return alert_mail(f"** PROBLEM Service Alert: web{host:02d}/Disk is CRITICAL **")


def outcomes() -> list[str]:
    return [mail["outcome"] for mail in mailsiren_json("mails", "list")]


def open_from(source: str, port: int) -> tuple[socket.socket, bytes]:
    """A connection from `source` and the server's first line to it."""
    connection = socket.create_connection(
        ("127.0.0.1", port), timeout=30, source_address=(source, 0)
    )
    return connection, connection.makefile("rb").readline()


@asynccontextmanager
async def listening(limits: ListenerLimits) -> AsyncIterator[int]:
    """The listener of `serve`, in this event loop with `limits`, on a free port."""
    port = free_port()
    stop, ready = asyncio.Event(), asyncio.Event()
    listener = asyncio.create_task(
        run_listener(
            paths.load_settings().database_url, "127.0.0.1", port, None,
            stop=stop, ready=ready, notify=False, limits=limits,
        )
    )  # fmt: skip
    waiting = asyncio.create_task(ready.wait())
    await asyncio.wait([listener, waiting], return_when=asyncio.FIRST_COMPLETED)
    if not ready.is_set():
        waiting.cancel()
        await listener  # raises why it did not start
    try:
        yield port
    finally:
        stop.set()
        await listener


class Conversation:
    """Raw SMTP over a connection from `source`: no client library to tidy anything up."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, source: str = FLOODER) -> Conversation:
        return cls(*await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)))

    async def reply(self) -> bytes:
        """The last line of the next reply; b"" once the server has closed."""
        line = await self.reader.readline()
        while line[3:4] == b"-":
            line = await self.reader.readline()
        return line

    async def say(self, line: bytes) -> bytes:
        self.writer.write(line)
        return await self.reply()

    async def closed(self) -> bool:
        """True once the server hangs up with nothing more said."""
        return await self.reader.read() == b""


async def converse(port: int, lines: list[bytes], *, source: str = FLOODER) -> list[bytes]:
    """Say each line until a 421 or the server closes; the greeting and every reply
    (its last line), and the server must have closed the connection at the end."""
    async with asyncio.timeout(60):
        conversation = await Conversation.open(port, source)
        try:
            replies = [await conversation.reply()]
            for line in lines:
                reply = await conversation.say(line)
                if not reply:
                    break
                replies.append(reply)
                if reply.startswith(b"421 "):
                    break  # the session's last word
            assert await conversation.closed()
        finally:
            conversation.writer.close()
        return replies


def test_one_address_flooding_is_capped_and_another_address_is_served(sources):
    with running_serve() as serve:
        flood = [open_from(FLOODER, serve.port) for _ in range(200)]
        try:
            greetings = [greeting for _, greeting in flood]
            assert sum(greeting.startswith(b"220 ") for greeting in greetings) == 50
            refused = greetings[50:]
            assert set(refused) == {
                b"421 4.7.0 too many connections from 127.0.0.1 (at most 50 at once from one "
                b"address), try again later\r\n"
            }
            with smtplib.SMTP(
                "127.0.0.1", serve.port, timeout=30, source_address=(SENDER_HOST, 0)
            ) as client:
                assert client.sendmail(SENDER, [SOURCE], nagios_alert(1)) == {}
            assert open_from(FLOODER, serve.port)[1] == refused[0]  # the flood still holds
        finally:
            for connection, _ in flood:
                connection.close()
        assert serve.output().count("127.0.0.1 has 50 connections open") == 1  # said once
    assert outcomes() == ["created"]


def test_starttls_sessions_count_once_each(sources, isolated_home):
    certificate = isolated_home / "data" / "mailsiren" / "listener.crt"
    with running_serve() as serve:
        context = ssl.create_default_context(cafile=str(certificate))  # serve made it
        for _ in range(250):  # more than the 200 connections the listener holds at once
            with smtplib.SMTP("127.0.0.1", serve.port, timeout=30) as client:
                client.starttls(context=context)
                assert client.noop()[0] == 250
        with smtplib.SMTP("127.0.0.1", serve.port, timeout=30) as client:
            client.starttls(context=context)
            assert client.sendmail(SENDER, [SOURCE], nagios_alert(1)) == {}
    assert outcomes() == ["created"]


async def test_the_cap_on_all_connections_still_holds_across_addresses(sources):
    limits = ListenerLimits(connections=4, connections_per_client=2)
    async with listening(limits) as port:
        opened = []
        try:
            for source in ("127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.2"):
                opened.append(
                    await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
                )
                assert (await opened[-1][0].readline()).startswith(b"220 ")
            assert (await converse(port, [], source="127.0.0.2")) == [
                b"421 4.7.0 too many connections from 127.0.0.2 (at most 2 at once from one "
                b"address), try again later\r\n"
            ]
            assert (await converse(port, [], source="127.0.0.3")) == [
                b"421 4.3.2 too many connections (at most 4 at once), try again later\r\n"
            ]
        finally:
            for _, writer in opened:
                writer.close()


async def test_the_session_deadline_closes_a_connection_held_with_noops(sources):
    calls = {**ListenerLimits().command_calls, "NOOP": 10**9}  # only the deadline can end it
    limits = ListenerLimits(session_seconds=1, command_calls=calls)
    async with listening(limits) as port:
        replies = await converse(port, [b"EHLO flooder\r\n", *[b"NOOP\r\n"] * 1_000_000])
    assert set(replies[2:-1]) == {b"250 OK\r\n"}  # answered until the deadline, then closed
    assert replies[-1] == (
        b"421 4.4.2 session deadline: a connection lasts at most 1 second; "
        b"connect again to go on\r\n"
    )


class DeadlineWhileStoring(logging.Handler):
    """Set once the listener says the deadline came while a mail was being stored."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "deadline came while a mail was being stored" in record.getMessage():
            self.seen.set()


async def test_the_session_deadline_waits_for_the_reply_of_a_mail_being_stored(sources, caplog):
    caplog.set_level(logging.INFO, logger="mailsiren.listener")
    database = Path(paths.load_settings().database_url.removeprefix("sqlite:///"))
    said = DeadlineWhileStoring()
    logging.getLogger("mailsiren.listener").addHandler(said)
    try:
        async with listening(ListenerLimits(session_seconds=2)) as port, asyncio.timeout(60):
            smtp = await Conversation.open(port)
            assert (await smtp.reply()).startswith(b"220 ")
            for line in (b"EHLO m\r\n", f"MAIL FROM:<{SENDER}>\r\n".encode(),
                         f"RCPT TO:<{SOURCE}>\r\n".encode()):  # fmt: skip
                assert (await smtp.say(line)).startswith(b"250 ")
            assert (await smtp.say(b"DATA\r\n")).startswith(b"354 ")
            blocker = sqlite3.connect(database, timeout=1)
            blocker.execute("BEGIN EXCLUSIVE")  # the storage child waits for it (busy timeout)
            try:
                smtp.writer.write(nagios_alert(1) + b".\r\n")
                await said.seen.wait()
            finally:
                blocker.rollback()
                blocker.close()
            assert (await smtp.reply()).startswith(b"250 2.0.0 Stored as mail")
            assert (await smtp.reply()).startswith(b"421 4.4.2 session deadline")
            assert await smtp.closed()
            smtp.writer.close()
    finally:
        logging.getLogger("mailsiren.listener").removeHandler(said)
    assert outcomes() == ["created"]


async def test_noop_and_rset_are_limited_per_session(sources):
    async with listening(ListenerLimits()) as port:
        noops = await converse(port, [b"EHLO client\r\n", *[b"NOOP\r\n"] * 25])
        rsets = await converse(port, [b"EHLO client\r\n", *[b"RSET\r\n"] * 105])
    assert noops[2:] == [b"250 OK\r\n"] * 20 + [b"421 4.7.0 NOOP sent too many times\r\n"]
    assert rsets[2:] == [b"250 OK\r\n"] * 100 + [b"421 4.7.0 RSET sent too many times\r\n"]


async def test_bad_commands_end_the_session_after_twenty(sources):
    bad = [b"\r\n", b"MAIL FROM:<a@example.net>\r\n", b"EHLO\r\n", b"\xff\r\n"]  # 500 503 501 500
    async with listening(ListenerLimits()) as port:
        replies = await converse(port, bad * 10)
    errors = replies[1:-1]
    assert len(errors) == 20 and all(reply[:3] in {b"500", b"501", b"503"} for reply in errors)
    assert replies[-1] == b"421 4.7.0 too many bad commands (at most 20 per session), goodbye\r\n"


async def test_refused_recipients_are_not_bad_commands(sources):
    async with listening(dataclasses.replace(ListenerLimits(), bad_commands=2)) as port:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, source_address=(SENDER_HOST, 0))
        async with client:
            for number in range(3):  # an alert to a mistyped address costs nothing
                await client.mail(SENDER)
                refused = await client.execute_command(b"RCPT", b"TO:<nobody@alerts.example.com>")
                assert refused.code == 550
                await client.rcpt(SOURCE)
                await client.data(nagios_alert(number))
            assert (await client.noop()).code == 250
    assert outcomes() == ["created"] * 3
