"""Why a mail did not open an incident, and the fix proved and replayed (SPEC §16), through
a real `serve` taking mail from swaks: `mails explain` names the filter and the value it
compared, `sources test` tries the fixed rule on a file and stores nothing, `mails
reprocess` is a dry run, then applies once: a second `--apply` changes nothing."""

from __future__ import annotations

import json
import time

from tests.e2e.process import mailsiren, mailsiren_json
from tests.e2e.serve import running_serve
from tests.e2e.test_serve_notify import CORPUS, swaks

ONLY_CRITICAL = """
[[source]]
name = "nagios"
address = "nagios@alerts.example.com"
creation = "by_key"
[[source.filter]]
field = "subject"
op = "matches"
value = '\\bCRITICAL\\b'
[[source.key_rule]]
field = "subject"
extractor = "regex"
pattern = 'Alert: (\\S+)/(.+) is [A-Z]+'
"""
CRITICAL_OR_WARNING = ONLY_CRITICAL.replace("\\bCRITICAL\\b", "\\b(CRITICAL|WARNING)\\b")


def recorded(count: int) -> list[dict]:
    deadline = time.monotonic() + 30
    while True:
        rows = mailsiren_json("mails", "list")
        if len(rows) >= count:
            return sorted(rows, key=lambda row: row["id"])
        assert time.monotonic() < deadline, rows
        time.sleep(0.1)


def test_a_filtered_mail_is_explained_the_fix_tried_and_the_mail_replayed_once(tmp_path):
    config = tmp_path / "nagios.toml"
    config.write_text(ONLY_CRITICAL)
    assert mailsiren("config", "import", str(config)).returncode == 0
    with running_serve() as serve:
        swaks(serve.port, "01-nagios-problem-disk.eml")  # CRITICAL: opens #1
        swaks(serve.port, "02-nagios-problem-load.eml")  # WARNING: filtered
        critical, warning = recorded(2)
    assert (critical["outcome"], warning["outcome"]) == ("created", "filtered")

    explained = mailsiren("mails", "explain", str(warning["id"]))
    assert explained.returncode == 0, explained.stderr
    assert "filter 1" in explained.stdout and "false" in explained.stdout
    assert "db02/Load is WARNING" in explained.stdout  # the value the filter compared
    steps = json.loads(mailsiren("mails", "explain", str(warning["id"]), "--json").stdout)
    [nagios] = steps["sources"]
    assert nagios["recorded"]["outcome"] == "filtered" and not nagios["differs"]

    config.write_text(CRITICAL_OR_WARNING)
    tried = mailsiren("sources", "test", "nagios", str(CORPUS / "02-nagios-problem-load.eml"))
    assert tried.returncode == 0 and "filtered" in tried.stdout  # the source's rules now
    assert mailsiren("config", "import", str(config)).returncode == 0
    tried = mailsiren_json("sources", "test", "nagios", str(CORPUS / "02-nagios-problem-load.eml"))
    assert tried[0]["outcome"] == "created" and tried[0]["key"] == "db02-Load"
    assert len(mailsiren_json("incidents", "list", "--state", "all")) == 1  # test stored nothing
    now = mailsiren_json("mails", "explain", str(warning["id"]))["sources"][0]
    assert now["now"]["outcome"] == "created" and now["differs"]

    dry = mailsiren_json("mails", "reprocess", "--source", "nagios")
    assert not dry["applied"] and dry["changed"] == 1
    assert len(mailsiren_json("incidents", "list", "--state", "all")) == 1  # a dry run
    applied = mailsiren("mails", "reprocess", "--source", "nagios", "--apply")
    assert applied.returncode == 0, applied.stderr
    assert "1 of 2 mails changed" in applied.stdout
    again = mailsiren_json("mails", "reprocess", "--source", "nagios", "--apply")
    assert again["changed"] == 0
    incidents = mailsiren_json("incidents", "list", "--state", "all")
    assert sorted(incident["key"] for incident in incidents) == ["db02-Load", "web01-Disk /var"]
    [outcome] = [row for row in mailsiren_json("mails", "list") if row["id"] == warning["id"]]
    assert outcome["outcome"] == "created" and "reprocessed (was filtered)" in outcome["reason"]


def test_the_new_commands_refuse_clearly():
    assert mailsiren("mails", "explain", "99").returncode == 1
    unknown = mailsiren("sources", "show", "nope")
    assert unknown.returncode == 1 and "nope" in unknown.stderr
    assert mailsiren("mails", "reprocess").returncode == 2  # --source is required: usage
    bad_since = mailsiren("mails", "reprocess", "--source", "nagios", "--since", "soon")
    assert bad_since.returncode == 1 and "soon" in bad_since.stderr
    missing = mailsiren("sources", "test", "nagios", "/nonexistent.eml")
    assert missing.returncode == 1
