"""aiosmtpd accepting and discarding every mail: the ceiling of the SMTP stack mailsiren uses.

Run: .venv/bin/python bench/aiosmtpd_sink.py PORT  (bench/listener.py starts it itself)
"""

from __future__ import annotations

import asyncio
import sys

from aiosmtpd.smtp import SMTP


class Discard:
    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        return "250 discarded"


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_server(
        lambda: SMTP(Discard(), decode_data=False, hostname="aiosmtpd-sink"), "127.0.0.1", port
    )
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
