"""The [Shared-Mail-Config] reader: the seed's own example, overlays, and every error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.core.sending.shared import (
    SharedConfigError,
    describe_values,
    load_shared_config,
    read_shared_config,
)

# A copy of ../shared/seeds/001_a28d6081cb4b1067.txt, the document the feature comes from.
SEED = Path(__file__).resolve().parents[1] / "fixtures" / "seed-email-configuration.md"
MINIMAL = "[Shared-Mail-Config]\nServer = smtp.example.com\nPort = 25\nUsername = u\nPassword = p\n"


def seed_block() -> str:
    """The configuration block exactly as the seed document shows it."""
    text = SEED.read_text()
    return re.search(r"```\n(\[Shared-Mail-Config\].*?)```", text, re.S).group(1)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_seed_example_reads_as_written(tmp_path):
    conf = write(tmp_path / "mailsiren.conf", "# site settings\n" + seed_block())
    config = read_shared_config(conf)
    assert config is not None
    assert (config.server, config.port, config.username) == ("smtp.example.com", 25, "userman")
    assert config.password == "sneakypassword" and config.use_tls
    assert not config.insecure_skip_verify
    assert config.force_from == "forced@example.com"
    assert [group.name for group in config.allowed_groups] == ["group2", "group3"]
    assert [p.text for p in config.allowed_to] == [
        r"[a-f0-9]+@example\.com",
        r"[a-f0-9]+@example\.io",
    ]
    assert str(config.origins["Server"]) == f"{conf}:3"
    assert str(config.origins["Force-From"]) == f"{conf}:8"
    assert [str(p.origin) for p in config.allowed_to] == [f"{conf}:11", f"{conf}:12"]
    assert "sneakypassword" not in repr(config)
    shown = {line.key: line for line in describe_values(config) if line.key == "Password"}
    assert shown["Password"].shown == "(redacted)"


def test_both_section_names_case_insensitive_keys_and_every_quoting(tmp_path):
    conf = write(
        tmp_path / "mailsiren.conf",
        "[shared-email-config]\n"
        "  server = smtp.example.com   ; trailing comment\n"
        '  PORT = "587" # quoted number\n'
        "  Username = `user#1;x`\n"
        '  Password = "pa\\"ss#word\\\\"\n'
        "  UseTLS\n"
        "  InsecureSkipVerify = off\n",
    )
    config = read_shared_config(conf)
    assert config.server == "smtp.example.com" and config.port == 587
    assert config.username == "user#1;x"
    assert config.password == 'pa"ss#word\\'
    assert config.use_tls is True and config.insecure_skip_verify is False


def test_other_sections_are_ignored_even_when_they_hold_unknown_syntax(tmp_path):
    conf = write(
        tmp_path / "mailsiren.conf",
        '[Global]\nWeird-Key = a\\.b "half\n[Listener "x"]\nBind = 1\n' + MINIMAL + "[Other]\nX\n",
    )
    assert read_shared_config(conf).server == "smtp.example.com"


def test_no_file_or_no_section_means_no_shared_configuration(tmp_path):
    assert read_shared_config(tmp_path / "absent.conf") is None
    conf = write(tmp_path / "mailsiren.conf", "[Global]\nA = 1\n")
    state = load_shared_config(conf)
    assert state.config is None and not state.broken


def test_overlays_add_list_keys_and_override_scalars_in_name_order(tmp_path):
    conf = write(tmp_path / "mailsiren.conf", MINIMAL + "Allowed-Group = ops\n")
    overlays = tmp_path / "mailsiren.conf.d"
    write(overlays / "20-late.conf", "[Shared-Mail-Config]\nPort = 2525\nAllowed-Group = dba\n")
    write(overlays / "10-early.conf", "[Shared-Email-Config]\nPort = 587\nAllowed-To = `a@b\\.c`\n")
    write(overlays / "30-ignored.conf.disabled", "[Shared-Mail-Config]\nPort = 1\n")
    config = read_shared_config(conf)
    assert config.port == 2525
    assert config.origins["Port"].path.name == "20-late.conf"
    assert [origin.path.name for origin in config.overridden["Port"]] == [
        "mailsiren.conf",
        "10-early.conf",
    ]
    assert [group.name for group in config.allowed_groups] == ["ops", "dba"]
    assert [p.origin.path.name for p in config.allowed_to] == ["10-early.conf"]
    assert [path.name for path in config.files] == [
        "mailsiren.conf",
        "10-early.conf",
        "20-late.conf",
    ]


def test_overlays_alone_are_enough(tmp_path):
    write(tmp_path / "mailsiren.conf.d" / "shared.conf", MINIMAL)
    assert read_shared_config(tmp_path / "mailsiren.conf").username == "u"


def test_password_file_replaces_password_relative_to_the_file(tmp_path):
    write(tmp_path / "secret", "from-file\n")
    conf = write(tmp_path / "mailsiren.conf", MINIMAL + "Password-File = secret\n")
    config = read_shared_config(conf)
    assert config.password == "from-file" and config.password_key == "Password-File"
    assert str(config.origins["Password"]) == f"{conf}:6"
    assert [line.key for line in describe_values(config)][3] == "Password-File"


ERRORS = [
    ("Bogus = 1", 6, "unknown key 'Bogus'"),
    ("Port = 0", 6, "not a port"),
    ("Port = 70000", 6, "not a port"),
    ("Port = twenty", 6, "not a port"),
    ("UseTLS = maybe", 6, "not a boolean"),
    ("Server = `smtp.example.com", 6, "backtick quote is not closed"),
    ('Server = "smtp.example.com', 6, "double quote is not closed"),
    ("Allowed-To = [a-z]+@example\\.com", 6, "not a gcfg escape"),
    ('Server = "smtp" extra', 6, "unexpected text after the quoted value"),
    ("Server = smtp.example.com`x`", 6, "quote the whole value"),
    ("Allowed-To = `(a`", 6, "not a valid RE2 expression: missing )"),
    ("Allowed-To = `(?<=a)b`", 6, "not a valid RE2 expression"),
    ("Force-From = `not an address`", 6, "not a plain address"),
    ('Force-From = "a@b.c\\nBcc: x@y.z"', 6, "line break"),
    ("Server = `smtp example`", 6, "not a host name"),
    ("Allowed-Group = two groups", 6, "one group per line"),
    ("Password-File = /nonexistent/secret", 6, "cannot be read"),
    ("Server =", 6, "the value is empty"),
    ("Username", 6, "needs a value"),
    ("[Shared-Mail-Config", 6, "section header"),
    ('[Shared-Mail-Config "sub"]', 6, "takes no subsection"),
]


@pytest.mark.parametrize(("line", "number", "expected"), ERRORS)
def test_each_mistake_is_named_with_file_and_line(tmp_path, line, number, expected):
    conf = write(tmp_path / "mailsiren.conf", MINIMAL + line + "\n")
    with pytest.raises(SharedConfigError) as caught:
        read_shared_config(conf)
    assert f"{conf}:{number}: " in str(caught.value)
    assert expected in str(caught.value)


@pytest.mark.parametrize("missing", ["Server", "Port", "Username", "Password"])
def test_a_missing_required_key_is_named_with_the_section_line(tmp_path, missing):
    lines = [line for line in MINIMAL.splitlines() if not line.startswith(missing + " ")]
    conf = write(tmp_path / "mailsiren.conf", "# comment\n" + "\n".join(lines) + "\n")
    with pytest.raises(SharedConfigError) as caught:
        read_shared_config(conf)
    assert f"{conf}:2: [Shared-Mail-Config] lacks the required key {missing}" in str(caught.value)


def test_an_error_in_an_overlay_names_the_overlay(tmp_path):
    conf = write(tmp_path / "mailsiren.conf", MINIMAL)
    bad = write(tmp_path / "mailsiren.conf.d" / "50-bad.conf", "\n[Shared-Mail-Config]\nPort=x\n")
    state = load_shared_config(conf)
    assert state.broken and state.config is None
    assert state.problems[0].startswith(f"{bad}:3: Port:")


def test_every_problem_is_reported_at_once_in_file_order(tmp_path):
    conf = write(tmp_path / "mailsiren.conf", MINIMAL + "Port = x\nBogus = 1\nUseTLS = 2\n")
    with pytest.raises(SharedConfigError) as caught:
        read_shared_config(conf)
    assert [problem.split(": ")[0] for problem in caught.value.problems] == [
        f"{conf}:6",
        f"{conf}:7",
        f"{conf}:8",
    ]


def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path):
    conf = tmp_path / "mailsiren.conf"
    conf.write_bytes(MINIMAL.encode() + b"Username = caf\xe9\n")
    with pytest.raises(SharedConfigError, match=rf"{re.escape(str(conf))}:6: not valid UTF-8"):
        read_shared_config(conf)
