"""Readiness for systemd (`Type=notify`): a datagram to $NOTIFY_SOCKET, no dependency needed."""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("mailsiren.serve")


def notify(message: str) -> bool:
    """Tell systemd `message` ("READY=1", "STOPPING=1", "STATUS=…") when it started us with
    a notify socket; False (and nothing sent) otherwise. Abstract sockets ("@name") too."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as channel:
            channel.connect(address)
            channel.sendall(message.encode())
    except OSError as error:  # systemd gone or the socket wrong: serve goes on regardless
        log.warning("could not tell systemd %r: %s", message.split("\n")[0], error)
        return False
    return True
