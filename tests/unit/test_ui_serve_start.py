"""Whether the UI starts serve: by default when none runs; never with `--no-serve` or
`run_serve = false` (an operator's host of a team, serve running elsewhere)."""

from __future__ import annotations

import pytest

from app import paths
from app.cli import main


@pytest.fixture
def opened_ui(monkeypatch):
    """Run `mailsiren` up to the UI, which records the supervisor it was given."""
    given = {}

    def run_app(settings, supervisor):
        given["supervisor"] = supervisor
        supervisor.ensure()  # what the app does once the workspace is open (test_opening.py)

    started = []
    monkeypatch.setattr("app.ui.app.run_app", run_app)
    monkeypatch.setattr("subprocess.Popen", lambda *args, **kwargs: started.append(args))
    return given, started


def write_settings(text: str) -> None:
    paths.settings_file().parent.mkdir(parents=True, exist_ok=True)
    paths.settings_file().write_text(text)


def test_the_ui_starts_serve_when_none_runs(opened_ui):
    given, started = opened_ui
    assert main([]) == 0
    assert started and started[0][0][-1] == "serve"
    assert given["supervisor"].start


def test_no_serve_opens_the_ui_without_starting_one(opened_ui):
    given, started = opened_ui
    assert main(["--no-serve"]) == 0
    assert not started and given["supervisor"].child is None
    assert "run_serve = false" in given["supervisor"].status()
    assert given["supervisor"].quit_question() == ""  # q quits without asking


def test_run_serve_false_in_config_toml_does_the_same(opened_ui):
    write_settings("run_serve = false\n")
    given, started = opened_ui
    assert main([]) == 0
    assert not started and not given["supervisor"].start
