"""The demo's outgoing mail server: a local aiosmtpd that takes the demo's notifications, so
nothing leaves the machine, and refuses one list as a real list closed to outsiders would."""

from __future__ import annotations

import socket

from aiosmtpd.controller import Controller

REFUSED_ADDRESS = "noc-list@example.com"
REFUSAL = "550 5.7.1 <noc-list@example.com>: list does not accept external senders"


class DemoMailboxHandler:
    """Accepts and counts what arrives (the delivery log shows it sent); refuses
    REFUSED_ADDRESS at RCPT."""

    def __init__(self) -> None:
        self.received = 0  # mails accepted; only the server's thread writes it

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.lower() == REFUSED_ADDRESS:
            return REFUSAL
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.received += 1
        return "250 2.0.0 Ok: kept by the demo's mailbox"


class DemoMailbox:
    """The server on a free loopback port, started and stopped with the demo."""

    def __init__(self) -> None:
        self.handler = DemoMailboxHandler()
        self.port = free_port()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, server_hostname="mailbox.demo"
        )
        self.started = False

    def start(self) -> None:
        self.controller.start()
        self.started = True

    def stop(self) -> None:
        if self.started:
            self.controller.stop()
            self.started = False


def free_port() -> int:
    """A loopback port nobody listens on now (the demo never takes 2525 from a real serve)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
