"""`mailsiren serve`: the SMTP listener that receives alert mail, until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse

from app.cli.common import EXIT_OK, add_command

METRICS_HOST = "127.0.0.1"


def register(commands) -> None:
    serve = add_command(
        commands,
        "serve",
        "receive alert mail over SMTP until SIGTERM or SIGINT",
        "mailsiren serve",
        "mailsiren serve --smtp-host 0.0.0.0 --smtp-port 25",
        "mailsiren serve --metrics-port 9105   # Prometheus text at http://127.0.0.1:9105/metrics",
        handler=run_serve,
    )
    serve.add_argument("--smtp-host", default=None, help="listen address (default 127.0.0.1)")
    serve.add_argument("--smtp-port", type=int, default=None, help="listen port (default 2525)")
    serve.add_argument(
        "--metrics-port",
        type=tcp_port,
        default=None,
        help="serve Prometheus metrics at /metrics on this port (default: off)",
    )
    serve.add_argument(
        "--metrics-host",
        default=None,
        help=f"the metrics' listen address (default {METRICS_HOST}); needs --metrics-port",
    )
    serve.set_defaults(usage_error=serve.error)  # argparse's: usage on stderr, exit 2


def tcp_port(text: str) -> int:
    """A TCP port from 1 to 65535, or argparse's usage error (exit 2)."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1 to 65535)")
    return port


def run_serve(arguments: argparse.Namespace) -> int:
    from app import paths
    from app.server.listener import serve_forever
    from app.server.supervisor import hold_serve_lock

    if arguments.metrics_host is not None and arguments.metrics_port is None:
        arguments.usage_error("--metrics-host needs --metrics-port (metrics are off without it)")
    settings = paths.load_settings()  # the storage process opens the database and key file
    hold_serve_lock(settings.database_url)  # held until this process ends
    host = arguments.smtp_host or settings.listener_host
    port = arguments.smtp_port if arguments.smtp_port is not None else settings.listener_port
    metrics = None
    if arguments.metrics_port is not None:
        metrics = (arguments.metrics_host or METRICS_HOST, arguments.metrics_port)
    serve_forever(settings, host, port, metrics)
    return EXIT_OK
