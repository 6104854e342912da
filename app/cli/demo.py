"""`mailsiren demo`: a throwaway mailsiren with sample sources, a local serve and a feed of
alert mails, in the UI (or printed, with --no-ui); the user's own data is never opened."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.cli.common import EXIT_FAILURE, EXIT_OK, add_command

DELIVERY_WAIT_SECONDS = 30.0


def register(commands) -> None:
    demo = add_command(
        commands,
        "demo",
        "try mailsiren on sample alerts in a throwaway database (your own data is never opened)",
        "mailsiren demo                 the UI; sample alerts arrive over about 3 minutes",
        "mailsiren demo --speed 10      the same feed ten times faster",
        "mailsiren demo --no-ui         no UI: print each mail sent, then what became of them",
        "mailsiren demo --theme ansi    in the terminal's own colours",
        handler=run_demo,
    )
    demo.add_argument(
        "--speed", type=float, default=1.0,
        help="how many times faster than real time the alerts arrive (default 1)",
    )  # fmt: skip
    demo.add_argument("--no-ui", action="store_true", help="print instead of opening the UI")
    demo.add_argument(
        "--theme", dest="demo_theme", help="a UI theme, e.g. ansi: the terminal's own 16 colours"
    )


def run_demo(arguments: argparse.Namespace) -> int:
    from app.demo.session import DemoSession

    if arguments.no_ui:
        return run_printed_demo(arguments.speed)
    theme = arguments.demo_theme or arguments.theme
    with DemoSession(speed=arguments.speed, theme=theme) as session:
        from app.ui.app import MailsirenApp

        app = MailsirenApp(session.workspace, serve=session.supervisor)
        app.sub_title = f"demo · {app.sub_title}"
        with ended_by_signals(app.exit):
            app.run()
    return EXIT_OK


@contextmanager
def ended_by_signals(end: Callable[[], None]) -> Iterator[None]:
    """SIGTERM and SIGHUP (the SSH session closed) end the demo as `q` does, so that its
    serve stops and its folder goes too, instead of being left behind."""
    signals = (signal.SIGTERM, signal.SIGHUP)
    previous = {number: signal.signal(number, lambda *_: end()) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def interrupt() -> None:
    raise KeyboardInterrupt


def run_printed_demo(speed: float) -> int:
    from app.demo.session import DemoSession, FeedEvent

    def report(event: FeedEvent) -> None:
        where = event.mail.to or "(the same bytes again)"
        result = f"not accepted: {event.error}" if event.error else "accepted (250)"
        print(f"{event.number:>2}/{event.total} {where:<31} {event.subject}  → {result}",
              flush=True)  # fmt: skip

    with ended_by_signals(interrupt), DemoSession(speed=speed, report=report) as session:
        print(f"demo: serve on 127.0.0.1:{session.listener_port}, data in {session.home} "
              "(deleted at the end)", flush=True)  # fmt: skip
        session.feed.wait()
        session.wait_for_notifications(DELIVERY_WAIT_SECONDS)
        summary = session.summary()
        failed = session.feed.failed
    print("outcomes:      " + counts(summary.outcomes))
    print("incidents:     " + counts(summary.incidents))
    print("notifications: " + counts(summary.deliveries)
          + f"; {summary.mailbox} arrived in the demo's mailbox")  # fmt: skip
    if failed:
        print(f"mailsiren: {failed} sample mails were not accepted", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def counts(values: dict[str, int]) -> str:
    return ", ".join(f"{count} {word}" for word, count in sorted(values.items())) or "none"
