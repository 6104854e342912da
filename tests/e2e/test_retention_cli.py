"""`mailsiren db prune` and retention_days (SPEC §17) through real processes, on both
backends: nothing to prune while retention_days is 0, a dry run changes nothing, the prune
frees the old resolved mail's bytes once, `mails show` says the mail was pruned, and a
`serve` prunes on its own once retention_days is set."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from app.core.incidents.views import change_state
from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import save_source
from app.core.store.db import utc_now
from app.core.workspace import open_workspace
from tests.clock import Clock
from tests.e2e.process import mailsiren, mailsiren_json
from tests.e2e.serve import running_serve
from tests.mails import SOURCE, alert_mail

BODY = "CRITICAL: disk full on /var\n" + "details " * 500


@pytest.fixture
def old_mails(database_url, monkeypatch) -> dict[str, int]:
    """Two mails received 40 days ago: one of an incident resolved since, one still open."""
    monkeypatch.setenv("MAILSIREN_DB", database_url)
    workspace = open_workspace()
    try:
        database, user = workspace.database, workspace.user
        clock = Clock(utc_now() - timedelta(days=40))
        save_source(database, user, {"name": "nagios", "address": SOURCE,
                                     "creation": "per_subject"}, clock=clock)  # fmt: skip
        resolved = ingest_mail(database, alert_mail("web01 disk", BODY), [SOURCE], via="smtp",
                               clock=clock)  # fmt: skip
        open_ = ingest_mail(database, alert_mail("db01 load", BODY), [SOURCE], via="smtp",
                            clock=clock)  # fmt: skip
        change_state(database, user, "resolve", [resolved.outcomes[0].incident_id], clock=clock)
    finally:
        workspace.close()
    return {"resolved": resolved.mail_id, "open": open_.mail_id}


def test_db_prune_frees_old_resolved_mails_once_and_mails_show_says_so(old_mails, tmp_path):
    nothing = mailsiren("db", "prune")
    assert nothing.returncode == 0, nothing.stderr
    assert "Nothing to prune: [org] retention_days is 0" in nothing.stdout

    config = tmp_path / "org.toml"
    config.write_text("[org]\nretention_days = -3\n")
    refused = mailsiren("config", "import", str(config))
    assert refused.returncode == 1 and "[org]: retention_days must be" in refused.stderr
    config.write_text("[org]\nretention_days = 30\n")
    assert mailsiren("config", "import", str(config)).returncode == 0

    dry = mailsiren("db", "prune", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert (
        "Would prune 1 mail received before" in dry.stdout and "Nothing was changed" in dry.stdout
    )
    would = mailsiren_json("db", "prune", "--dry-run")
    assert (would["mails"], would["dry_run"]) == (1, True) and would["bytes"] > 4000

    pruned = mailsiren("db", "prune")
    assert pruned.returncode == 0, pruned.stderr
    assert "Pruned 1 mail received before" in pruned.stdout
    assert f"({would['bytes']:,} bytes)" in pruned.stdout
    again = mailsiren_json("db", "prune", "--older-than", "1d")
    assert (again["mails"], again["bytes"]) == (0, 0)  # the open incident's mail stays

    shown = mailsiren("mails", "show", str(old_mails["resolved"]))
    assert shown.returncode == 0, shown.stderr
    assert "web01 disk" in shown.stdout and "pruned on " in shown.stdout
    assert "(retention)" in shown.stdout and "details details" not in shown.stdout
    raw = mailsiren("mails", "show", str(old_mails["resolved"]), "--raw")
    assert raw.returncode == 1 and "raw source was pruned on " in raw.stderr
    data = json.loads(mailsiren("mails", "show", str(old_mails["resolved"]), "--json").stdout)
    assert data["pruned_at"] is not None and data["subject"] == "web01 disk"
    kept = mailsiren_json("mails", "show", str(old_mails["open"]))
    assert kept["pruned_at"] is None and "details details" in kept["text"]


def test_db_prune_needs_admin_and_a_duration(old_mails):
    assert mailsiren("users", "add", "bob").returncode == 0  # alice: the first user, an admin
    refused = mailsiren("db", "prune", "--older-than", "30d", login="bob")
    assert refused.returncode == 1 and "lacks the 'admin' permission" in refused.stderr
    wrong = mailsiren("db", "prune", "--older-than", "a month")
    assert wrong.returncode == 1 and "--older-than 'a month' is not a duration" in wrong.stderr
    assert mailsiren_json("db", "prune", "--older-than", "30d", "--dry-run")["mails"] == 1


def test_serve_prunes_by_retention_days_on_its_own(old_mails, tmp_path):
    config = tmp_path / "org.toml"
    config.write_text("[org]\nretention_days = 30\n")
    assert mailsiren("config", "import", str(config)).returncode == 0
    with running_serve() as serve:
        deadline = time.monotonic() + 30
        while "retention: pruned 1 mails" not in serve.output():  # in the prune's thread
            assert time.monotonic() < deadline, serve.output()
            time.sleep(0.2)
        assert mailsiren_json("mails", "show", str(old_mails["resolved"]))["pruned_at"]
    assert mailsiren_json("mails", "show", str(old_mails["open"]))["pruned_at"] is None
