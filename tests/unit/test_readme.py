"""README.md stays true: CI runs its test command verbatim, and its examples work."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_ci_runs_the_readme_test_command_verbatim():
    [test_command] = [block.strip() for block in readme_shell_blocks() if "pytest" in block]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_quick_start_opens_mailsiren():
    quick_start = readme_shell_blocks()[0].strip()
    assert quick_start.endswith(".venv/bin/mailsiren")
    assert "pip install -e ." in quick_start


def test_the_shared_configuration_example_in_the_readme_reads(tmp_path):
    from app.core.sending.shared import read_shared_config

    block = re.search(r"```ini\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    path = tmp_path / "mailsiren.conf"
    path.write_text(block)
    config = read_shared_config(path)
    assert config.force_from == "forced@example.com" and len(config.allowed_to) == 2


def test_the_alert_source_example_in_the_readme_is_valid():
    from app.core.configfile import parse_config

    block = re.search(r"```toml\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    parsed = parse_config(block)
    [spec] = parsed.sources
    assert spec.creation == "by_key" and spec.key_rules[0].compiled is not None
    assert not parsed.ignored


def test_every_toml_example_in_the_readme_is_a_valid_file():
    """Each ```toml block is either a configuration to import or a config.toml."""
    import tomllib

    from app.core.configfile import parse_config
    from app.paths import Settings

    blocks = re.findall(r"```toml\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert len(blocks) >= 5
    for block in blocks:
        document = tomllib.loads(block)
        if set(document) <= set(Settings.__dataclass_fields__):
            continue  # a config.toml
        parsed = parse_config(block)
        said = parsed.sources or parsed.integrations or parsed.users or parsed.schedules
        said = said or parsed.org is not None
        assert said and not parsed.ignored, block


def test_the_readme_names_the_version_and_the_changelog_has_it():
    import tomllib

    from app import __version__

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == __version__
    assert f"Version {__version__}" in (ROOT / "README.md").read_text()
    assert f"## {__version__} " in (ROOT / "CHANGELOG.md").read_text()
