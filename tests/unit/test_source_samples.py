"""Samples as tests (SPEC §16): `[[source.sample]]` parsed, run in memory, refused on import
when failing, and kept byte for byte through the database and `config export`."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest

from app.core.configfile import (
    ConfigFileError,
    export_config,
    import_config,
    parse_config,
    run_config_samples,
)
from app.core.intake.samples import SourceSample, stored_sample_rows
from app.core.intake.sources import get_source, save_source

CORPUS = Path(__file__).parents[1] / "fixtures" / "corpus"
NAGIOS = """
[[source]]
name = "nagios"
address = "nagios@alerts.example.com"
creation = "by_key"
[[source.filter]]
field = "subject"
op = "matches"
value = '\\b(PROBLEM|RECOVERY)\\b'
[[source.key_rule]]
field = "subject"
extractor = "regex"
pattern = 'Service Alert: (\\S+)/(.+) is [A-Z]+'
[[source.resolve_rule]]
field = "subject"
op = "contains"
value = "RECOVERY"
[[source.severity_rule]]
field = "subject"
op = "contains"
value = "WARNING"
severity = "warning"
"""
PROBLEM_AND_RECOVERY = """
[[source.sample]]
file = "01-nagios-problem-disk.eml"
expect_outcome = "created"
expect_key = "web01-Disk /var"
expect_severity = "alert"
[[source.sample]]
file = "03-nagios-problem-disk-again.eml"
expect_outcome = "appended"
[[source.sample]]
file = "04-nagios-recovery-disk.eml"
expect_outcome = "resolved"
expect_key = "web01-Disk /var"
[[source.sample]]
file = "05-nagios-recovery-unknown.eml"
expect_outcome = "orphan_resolve"
"""
RAW_WARNING = """
[[source.sample]]
raw = '''
From: nagios@mon.example.net
Subject: ** PROBLEM Service Alert: db02/Load is WARNING **

load average: 9.1
'''
expect_outcome = "created"
expect_severity = "warning"
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder with the TOML's sample files: the real corpus mails."""
    samples = tmp_path / "config"
    samples.mkdir()
    for mail in CORPUS.glob("0[1-5]-nagios-*.eml"):
        shutil.copy(mail, samples / mail.name)
    return samples


def test_a_problem_then_its_recovery_pass_in_order_from_no_open_incident(folder):
    parsed = parse_config(NAGIOS + PROBLEM_AND_RECOVERY + RAW_WARNING, folder=folder)
    results = run_config_samples(parsed)
    assert [(r.sample.label, r.verdict.outcome, r.passed) for r in results] == [
        ("01-nagios-problem-disk.eml", "created", True),
        ("03-nagios-problem-disk-again.eml", "appended", True),
        ("04-nagios-recovery-disk.eml", "resolved", True),
        ("05-nagios-recovery-unknown.eml", "orphan_resolve", True),
        ("raw", "created", True),
    ]
    assert results[0].sample.raw == (folder / "01-nagios-problem-disk.eml").read_bytes()


def test_a_failing_sample_says_each_field_expected_and_got(folder):
    wrong = PROBLEM_AND_RECOVERY.replace('"appended"', '"created"').replace(
        'expect_severity = "alert"', 'expect_severity = "info"'
    )
    results = run_config_samples(parse_config(NAGIOS + wrong, folder=folder))
    failed = {result.number: result for result in results if not result.passed}
    assert sorted(failed) == [1, 2]
    [severity] = failed[1].differences
    assert (severity.field, severity.expected, severity.got) == ("severity", "info", "alert")
    [outcome] = failed[2].differences
    assert (outcome.field, outcome.expected, outcome.got) == ("outcome", "created", "appended")
    assert failed[2].name == "source 'nagios', sample 2 (03-nagios-problem-disk-again.eml)"
    assert failed[2].to_json()["differences"] == [
        {"field": "outcome", "expected": "created", "got": "appended"}
    ]


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        (
            'raw = "x"\nexpect_outcome = "opend"',
            "[[source]] 1 (nagios): sample 1: expect_outcome 'opend' is not an outcome; "
            "outcomes are created, appended, resolved,",
        ),
        (
            'raw = "x"\nexpect_severity = "critical"',
            "sample 1: expect_severity 'critical' is not a severity; severities are alert, "
            "warning, info",
        ),
        ('raw = "x"', "sample 1: says nothing to check: give at least one of expect_outcome"),
        ('expect_outcome = "created"', "sample 1: give the mail once: file = "),
        (
            'raw = "x"\nfile = "01-nagios-problem-disk.eml"\nexpect_outcome = "created"',
            "it has file and raw",
        ),
        ('file = "missing.eml"\nexpect_outcome = "created"', "sample 1: file 'missing.eml' cannot"),
        ('raw = "x"\nexpect = "created"', "sample 1: unknown key 'expect'; known: file, raw"),
        ('raw_base64 = "***"\nexpect_outcome = "created"', "sample 1: raw_base64 is not base64"),
        ('raw = "x"\nexpect_key = 3', "sample 1: expect_key must be a non-empty string"),
    ],
)
def test_a_wrong_sample_is_named_with_its_key(folder, sample, message):
    with pytest.raises(ConfigFileError) as raised:
        parse_config(NAGIOS + "[[source.sample]]\n" + sample + "\n", folder=folder)
    assert message in str(raised.value)
    assert "[[source]] 1 (nagios): sample 1:" in str(raised.value)


def test_import_refuses_a_file_whose_samples_fail_and_writes_nothing(database, user, folder):
    import_config(database, user, NAGIOS.replace('"WARNING"', '"nothing"'))
    before = export_config(database)
    wrong = NAGIOS + PROBLEM_AND_RECOVERY.replace('"resolved"', '"appended"')
    with pytest.raises(ConfigFileError) as raised:
        import_config(database, user, wrong, origin="nagios.toml", folder=folder)
    message = str(raised.value)
    assert "1 of 4 samples fail: source 'nagios', sample 3 (04-nagios-recovery-disk.eml)" in message
    assert "nothing was imported" in message and "mailsiren config check nagios.toml" in message
    assert export_config(database) == before
    assert stored_sample_rows(database) == {"nagios": []}


def test_samples_survive_export_and_import_byte_for_byte(database, user, folder):
    crlf = b"From: nagios@mon.example.net\r\nSubject: ** PROBLEM Service Alert: a/b is DOWN **\r\n"
    latin1 = "Subject: ** PROBLEM Service Alert: caf\xe9/Disk is DOWN **\n\nn\xe4\n".encode(
        "latin-1"
    )
    (folder / "crlf.eml").write_bytes(crlf + b"\r\nbody\r\n")
    (folder / "latin1.eml").write_bytes(latin1)
    extra = """
[[source.sample]]
file = "crlf.eml"
expect_outcome = "created"
[[source.sample]]
file = "latin1.eml"
expect_outcome = "created"
"""
    text = NAGIOS + PROBLEM_AND_RECOVERY + RAW_WARNING + extra
    import_config(database, user, text, folder=folder)
    wanted = [sample.raw for sample in parse_config(text, folder=folder).samples["nagios"]]
    stored = stored_sample_rows(database)["nagios"]
    assert [SourceSample.from_row(row).raw for row in stored] == wanted  # the database holds them

    exported = export_config(database)
    tables = tomllib.loads(exported)["source"][0]["sample"]
    assert [next(key for key in ("raw", "raw_base64") if key in t) for t in tables] == [
        "raw", "raw", "raw", "raw", "raw", "raw_base64", "raw_base64",
    ]  # fmt: skip
    assert 'raw = """\nFrom: nagios@mon.example.net\n' in exported  # reads as a mail
    assert tables[1]["expect_outcome"] == "appended" and "expect_key" not in tables[1]

    import_config(database, user, exported)  # no folder needed: every mail is inline now
    assert stored_sample_rows(database)["nagios"] == stored
    assert export_config(database) == exported
    again = parse_config(exported).samples["nagios"]
    assert [sample.raw for sample in again] == wanted


def test_the_source_editor_keeps_the_samples_and_a_file_without_them_clears_them(
    database, user, folder
):
    import_config(database, user, NAGIOS + PROBLEM_AND_RECOVERY, folder=folder)
    data = get_source(database, user, "nagios").spec.to_dict()
    save_source(database, user, {**data, "severity": "warning"}, original="nagios")
    assert len(stored_sample_rows(database)["nagios"]) == 4
    import_config(database, user, NAGIOS)
    assert stored_sample_rows(database)["nagios"] == []


def test_the_readme_sample_example_passes():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    [block] = [
        block
        for block in re.findall(r"```toml\n(.*?)```", readme, flags=re.S)
        if "[[source.sample]]" in block
    ]
    results = run_config_samples(parse_config(block))
    assert [(result.verdict.outcome, result.passed) for result in results] == [
        ("created", True),
        ("resolved", True),
    ]
