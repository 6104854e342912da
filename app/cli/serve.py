"""`mailsiren serve`: the SMTP listener that receives alert mail, until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse

from app.cli.common import EXIT_OK, add_command


def register(commands) -> None:
    serve = add_command(
        commands,
        "serve",
        "receive alert mail over SMTP until SIGTERM or SIGINT",
        "mailsiren serve",
        "mailsiren serve --smtp-host 0.0.0.0 --smtp-port 25",
        handler=run_serve,
    )
    serve.add_argument("--smtp-host", default=None, help="listen address (default 127.0.0.1)")
    serve.add_argument("--smtp-port", type=int, default=None, help="listen port (default 2525)")


def run_serve(arguments: argparse.Namespace) -> int:
    from app import paths
    from app.server.listener import serve_forever
    from app.server.supervisor import hold_serve_lock

    settings = paths.load_settings()  # the storage process opens the database and key file
    hold_serve_lock(settings.database_url)  # held until this process ends
    host = arguments.smtp_host or settings.listener_host
    port = arguments.smtp_port if arguments.smtp_port is not None else settings.listener_port
    serve_forever(settings, host, port)
    return EXIT_OK
