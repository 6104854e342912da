"""The storage process: parses and commits the mails the listener hands it over a pipe.

`serve` runs two processes so that the SMTP conversation and the parse-and-commit work
each have a core (and a GIL) of their own. The listener writes one frame per mail to the
child's stdin; the child takes every frame waiting, stores them in one transaction (group
commit) and writes back one frame with every answer. The listener says 250 only after
that answer, so a reply is a promise that the mail is on disk.

With `notify` the child also runs the notifier, in a thread (app/server/notifier.py), and
the listener starts a child again when one dies, mail or not, so escalation goes on.

The listener imports no database code: RCPT checks ask the child for the enabled
addresses too. A frame is a 4-byte big-endian length and a pickle. Pickle is safe here: both ends are
this program, the child is ours, and the pipe is private to the two processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import pickle
import select
import signal
import struct
import sys

from app.errors import MailsirenError

FRAME_HEADER = struct.Struct(">I")
MAX_BATCH = 256
READ_CHUNK = 1 << 20
STORAGE_MODULE = "app.server.storage"
NOTIFY_VARIABLE = "MAILSIREN_NOTIFY"  # "1": the child runs the notifier thread too
RESTART_SECONDS = 2.0  # a child that died unasked is started again after this, mail or not
# Answers are plain values: unpickling a domain class would import the database layer.
STORE = "store"  # request (sequence, STORE, raw, recipients, envelope_from) → mail id or None
ADDRESSES = "addresses"  # request (sequence, ADDRESSES) → frozenset of enabled addresses

log = logging.getLogger("mailsiren.storage")


class StorageFailed(MailsirenError):
    """The mail was not stored (the transaction failed, or the storage process died)."""

    title = "Mail not stored"


def encode_frame(value: object) -> bytes:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return FRAME_HEADER.pack(len(body)) + body


def take_frames(buffer: bytearray) -> list:
    """Remove every complete frame from the front of `buffer` and return their values."""
    values, start = [], 0
    while len(buffer) - start >= FRAME_HEADER.size:
        (length,) = FRAME_HEADER.unpack_from(buffer, start)
        end = start + FRAME_HEADER.size + length
        if end > len(buffer):
            break
        values.append(pickle.loads(buffer[start + FRAME_HEADER.size : end]))
        start = end
    del buffer[:start]
    return values


# The child's side ---------------------------------------------------------------------


def answer_batch(database, requests: list[tuple]) -> list[tuple[int, bool, object]]:
    """One (sequence, ok, result or reason) per request, stores after their commit."""
    from app.core.intake.pipeline import all_enabled_addresses

    stores = [request for request in requests if request[1] == STORE]
    answers = _store_batch(database, stores) if stores else []
    for sequence, kind, *_ in requests:
        if kind == ADDRESSES:
            try:
                answers.append((sequence, True, frozenset(all_enabled_addresses(database))))
            except Exception as error:  # noqa: BLE001 - the listener answers 451
                answers.append((sequence, False, f"{type(error).__name__}: {error}"))
    return answers


def _store_batch(database, requests: list[tuple]) -> list[tuple[int, bool, object]]:
    from app.core.intake.mail import parse_mail
    from app.core.intake.pipeline import IncomingMail, ingest_batch

    try:
        incoming = [
            IncomingMail(raw, recipients, "smtp", envelope_from, parse_mail(raw))
            for _, _, raw, recipients, envelope_from in requests
        ]
        results = ingest_batch(database, incoming)
    except Exception as error:  # noqa: BLE001 - the commit failed: nothing was stored
        results = [error] * len(requests)
    answers = []
    for (sequence, *_), result in zip(requests, results, strict=True):
        if isinstance(result, Exception):
            log.error("storing mail failed: %s: %s", type(result).__name__, result)
            answers.append((sequence, False, f"{type(result).__name__}: {result}"))
        else:
            answers.append((sequence, True, result.mail_id))
    return answers


def serve_requests(database, requests_fd: int, answers_fd: int) -> None:
    """Store frames from `requests_fd` until it closes; answer each batch after its commit."""
    buffer = bytearray()
    open_ = True
    while open_ or buffer:
        requests = take_frames(buffer)
        if not requests:
            if not open_:
                return  # a partial frame from a listener that died: it never got a 250
            chunk = os.read(requests_fd, READ_CHUNK)  # wait for work
            open_ = bool(chunk)
            buffer += chunk
            continue
        # Whatever else is already waiting joins this batch (group commit).
        while open_ and len(requests) < MAX_BATCH and select.select([requests_fd], [], [], 0)[0]:
            chunk = os.read(requests_fd, READ_CHUNK)
            open_ = bool(chunk)
            buffer += chunk
            requests += take_frames(buffer)
        for start in range(0, len(requests), MAX_BATCH):
            answers = answer_batch(database, requests[start : start + MAX_BATCH])
            try:
                _write_all(answers_fd, encode_frame(answers))
            except BrokenPipeError:
                return  # the listener is gone; what was committed stays committed


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def main() -> int:
    """`python -m app.server.storage`: the child `serve` starts; never run by hand."""
    # ctrl+c and a SIGTERM to the whole group reach us too: finish storing what the
    # listener sends until it closes our stdin, so no acknowledged mail is cut short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the terminal going away, too
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from app import paths
    from app.core.store.db import open_database
    from app.core.store.secrets import load_or_create_keyring
    from app.errors import MailsirenError

    try:
        keyring = load_or_create_keyring(paths.key_file())
        database = open_database(os.environ["MAILSIREN_DB"], keyring)
    except MailsirenError as error:
        print(f"mailsiren: {error}", file=sys.stderr, flush=True)
        return 1
    notifier = None
    if os.environ.get(NOTIFY_VARIABLE) == "1":
        from app.server.notifier import NotifierThread

        notifier = NotifierThread(os.environ["MAILSIREN_DB"], keyring)
        notifier.start()
    try:
        _write_all(sys.stdout.fileno(), encode_frame([]))  # ready: the database is open
        serve_requests(database, sys.stdin.fileno(), sys.stdout.fileno())
    finally:
        if notifier is not None:
            notifier.stop()  # after the last answer: the listener does not wait for this
        database.dispose()
    return 0


# The listener's side ------------------------------------------------------------------


class StorageProcess:
    """The listener's handle on the child: `store()` returns once the mail is committed.

    If the child dies, every mail it had not answered fails (the listener says 451 and the
    sender retries), and the next mail starts a new child.
    """

    def __init__(self, database_url: str, *, notify: bool = False) -> None:
        self.database_url = database_url
        self.notify = notify  # the child runs the notifier: keep one running, mail or not
        self.child: _Child | None = None
        self.sequence = itertools.count(1)
        self.starting = asyncio.Lock()
        self.keeper: asyncio.Task | None = None
        self.closing = False

    async def start(self) -> _Child:
        async with self.starting:
            if self.child is None or self.child.gone or self.child.process.returncode is not None:
                environment = {**os.environ, "MAILSIREN_DB": self.database_url,
                               NOTIFY_VARIABLE: "1" if self.notify else "0"}  # fmt: skip
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", STORAGE_MODULE, env=environment,
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                )  # fmt: skip
                self.child = _Child(process)
                await self.child.ready
                if self.notify and self.keeper is None:
                    self.keeper = asyncio.create_task(self._keep_running())
            return self.child

    async def _keep_running(self) -> None:
        """Start a child again when one dies unasked: the notifier lives in it."""
        while not self.closing:
            child = self.child
            if child is not None and not child.gone:
                await child.answers_task
            if self.closing:
                return
            await asyncio.sleep(RESTART_SECONDS)
            try:
                if not self.closing:
                    await self.start()
            except Exception as error:  # noqa: BLE001 - said, and tried again
                log.error("the storage process could not start again: %s", error)

    async def store(self, raw: bytes, recipients: tuple[str, ...], envelope_from: str | None):
        """The stored mail's id once it and its outcomes are committed; None when no
        enabled source has any of the recipients (nothing was stored)."""
        return await self._ask(STORE, raw, recipients, envelope_from)

    async def enabled_addresses(self) -> frozenset[str]:
        """Every enabled source's address, lower-cased, as the database has them now."""
        return await self._ask(ADDRESSES)

    async def _ask(self, kind: str, *payload):
        child = self.child
        if child is None or child.process.returncode is not None or child.gone:
            child = await self.start()
        return await child.ask((next(self.sequence), kind, *payload))

    async def close(self) -> None:
        """Let the child store what it has, then wait for it to exit."""
        self.closing = True
        async with self.starting:  # a child being started again is closed too
            if self.child is not None:
                await self.child.close()
        if self.keeper is not None:
            self.keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.keeper


class _Child:
    """One storage process and the mails it has not answered yet."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pending: dict[int, asyncio.Future] = {}
        self.gone = False
        self.closing = False  # True once the listener asked it to stop
        self.ready = asyncio.get_running_loop().create_future()
        self.answers_task = asyncio.create_task(self._read_answers())

    async def ask(self, request: tuple):
        stdin = self.process.stdin
        assert stdin is not None
        sequence = request[0]
        answer = asyncio.get_running_loop().create_future()
        self.pending[sequence] = answer
        try:
            stdin.write(encode_frame(request))
            await stdin.drain()
            return await answer
        except (BrokenPipeError, ConnectionResetError) as error:
            raise StorageFailed(f"the storage process is gone: {error}") from error
        finally:
            self.pending.pop(sequence, None)

    async def _read_answers(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while True:
                (length,) = FRAME_HEADER.unpack(await stdout.readexactly(FRAME_HEADER.size))
                answers = pickle.loads(await stdout.readexactly(length))
                if not self.ready.done():
                    self.ready.set_result(None)
                for sequence, stored, result in answers:
                    answer = self.pending.get(sequence)
                    if answer is None or answer.done():
                        continue  # the session went away meanwhile; the mail is stored
                    if stored:
                        answer.set_result(result)
                    else:
                        answer.set_exception(StorageFailed(result))
        except asyncio.IncompleteReadError:
            pass
        self.gone = True
        status = await self.process.wait()
        if not self.ready.done():
            self.ready.set_exception(
                StorageFailed(f"the storage process could not start (exit status {status})")
            )
        # Said whenever it dies unasked, even if no mail was waiting for it: a session whose
        # write met the dead pipe first has already had its 451.
        if not self.closing and self.ready.done() and not self.ready.exception():
            log.error("the storage process stopped (status %s); unanswered mails get 451", status)
        for answer in self.pending.values():
            if not answer.done():
                answer.set_exception(StorageFailed(f"the storage process stopped ({status})"))

    async def close(self) -> None:
        self.closing = True
        if self.process.stdin is not None:
            self.process.stdin.close()
        await self.process.wait()
        await self.answers_task


if __name__ == "__main__":
    raise SystemExit(main())
