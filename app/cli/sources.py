"""`mailsiren sources list|show|test`: the alert sources, one whole, and a rule tried on mail files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.common import EXIT_OK, CommandError, add_command, opened_workspace, print_json


def register(commands) -> None:
    sources = add_command(
        commands, "sources", "the alert sources: list them, show one, try one's rules on mail files",
        "mailsiren sources list", "mailsiren sources show nagios",
        "mailsiren sources test nagios alert.eml recovery.eml",
    )  # fmt: skip
    actions = sources.add_subparsers(dest="sources_command", metavar="ACTION", required=True)
    listing = add_command(
        actions, "list", "every source: address, mode, mails today, open incidents, last mail",
        "mailsiren sources list", "mailsiren sources list --json",
        handler=run_sources_list,
    )  # fmt: skip
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = add_command(
        actions, "show", "one source whole: its settings and rules as a [[source]] table",
        "mailsiren sources show nagios", "mailsiren sources show nagios --json",
        handler=run_sources_show,
    )  # fmt: skip
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print JSON")
    test = add_command(
        actions, "test",
        "what each mail would become now under the source's rules, in order, from no open "
        "incident; stores nothing (exit 0; 1 when a file cannot be read)",
        "mailsiren sources test nagios problem.eml recovery.eml",
        "mailsiren mails show 42 --raw | mailsiren sources test nagios",
        "mailsiren sources test nagios samples/ --json",
        handler=run_sources_test,
    )  # fmt: skip
    test.add_argument("name")
    test.add_argument(
        "files", nargs="*", metavar="FILE",
        help=".eml files or folders of them, replayed in the order given; none: one mail on stdin",
    )  # fmt: skip
    test.add_argument("--json", action="store_true", help="print JSON")


def run_sources_list(arguments: argparse.Namespace) -> int:
    from app.core.intake.sources import list_source_summaries

    with opened_workspace() as workspace:
        summaries = list_source_summaries(workspace.database, workspace.user, since=_today())
    if arguments.json:
        print_json([_summary_json(summary) for summary in summaries])
        return EXIT_OK
    if not summaries:
        print("no sources yet: `mailsiren config import FILE` or the UI's Sources screen adds one")
    for summary in summaries:
        spec, last = summary.spec, summary.last_mail_at
        print(
            f"{spec.name:<16} {spec.address:<32} {spec.creation:<14} {spec.severity:<8} "
            f"{summary.mails_today:>5} today {summary.open_incidents:>4} open  "
            f"last {last.isoformat(timespec='seconds') if last else '-'}"
            + ("" if spec.enabled else "  (disabled)")
        )
    return EXIT_OK


def _today():
    """Local midnight: "mails today" counts from there, as the Sources screen does."""
    from app.core.store.db import utc_now

    return utc_now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)


def _summary_json(summary) -> dict:
    return {
        **summary.spec.to_dict(),
        "mails_today": summary.mails_today,
        "open_incidents": summary.open_incidents,
        "last_mail_at": summary.last_mail_at.isoformat() if summary.last_mail_at else None,
    }


def run_sources_show(arguments: argparse.Namespace) -> int:
    import tomli_w

    from app.core.intake.samples import SourceSample, stored_sample_rows
    from app.core.intake.sources import get_source

    with opened_workspace() as workspace:
        summary = get_source(workspace.database, workspace.user, arguments.name, since=_today())
        rows = stored_sample_rows(workspace.database).get(summary.spec.name) or []
    samples = [_sample_summary(SourceSample.from_row(row)) for row in rows]
    if arguments.json:
        print_json({**_summary_json(summary), "samples": samples})
        return EXIT_OK
    print(tomli_w.dumps({"source": [summary.spec.to_dict()]}), end="")
    print(f"# {summary.mails_today} mails today, {summary.open_incidents} open incidents")
    if samples:
        print(
            f"# samples ({len(samples)}; `config export` writes them whole, `config check` runs them):"
        )
    for number, sample in enumerate(samples, start=1):
        expected = ", ".join(f"{key} {value!r}" for key, value in sample["expect"].items())
        print(
            f"#   {number}. {sample['subject']!r} ({sample['size']:,} bytes): {expected or 'no expectation'}"
        )
    return EXIT_OK


def _sample_summary(sample) -> dict:
    """A stored sample as `sources show` lists it: the subject, the size, what it expects."""
    from app.core.intake.mail import parse_mail

    return {
        "subject": parse_mail(sample.raw).subject,
        "size": len(sample.raw),
        "expect": sample.expected(),
    }


def run_sources_test(arguments: argparse.Namespace) -> int:
    from app.core.intake.mail import parse_mail
    from app.core.intake.preview import SampleError, SampleMail, eml_samples, replay
    from app.core.intake.sources import get_source

    try:
        if arguments.files:
            samples = [sample for name in arguments.files for sample in eml_samples(name)]
        else:
            raw = sys.stdin.buffer.read()
            samples = [SampleMail(label="stdin", parsed=parse_mail(raw), raw=raw)]
    except SampleError as error:
        raise CommandError(str(error)) from error
    with opened_workspace() as workspace:
        spec = get_source(workspace.database, workspace.user, arguments.name).spec
    verdicts = replay(spec, samples)
    if arguments.json:
        print_json([
            {"mail": sample.label, "subject": sample.parsed.subject, "outcome": verdict.outcome,
             "incident": verdict.incident, "key": verdict.key, "severity": verdict.severity,
             "title": verdict.title, "reason": verdict.reason}
            for sample, verdict in zip(samples, verdicts, strict=True)
        ])  # fmt: skip
        return EXIT_OK
    for number, (sample, verdict) in enumerate(zip(samples, verdicts, strict=True), start=1):
        print(f"{number:>3} {Path(sample.label).name}: {verdict.describe()}  ({verdict.reason})")
        if verdict.incident is not None:
            print(
                f"      severity {verdict.severity}, key {verdict.key!r}, title {verdict.title!r}"
            )
    print("(▸N: the incident the mail N opened; nothing was stored)")
    return EXIT_OK
