"""One serve per database: its lock, and the UI starting serve as its child when none runs."""

from __future__ import annotations

import smtplib

from app import paths
from app.server.supervisor import ServeSupervisor, running_serve_pid
from tests.e2e.peers import free_port, wait_for_port
from tests.e2e.process import mailsiren
from tests.e2e.serve import running_serve


def test_a_second_serve_for_the_same_database_is_refused_by_name(isolated_home):
    with running_serve() as serve:
        second = mailsiren("serve", "--smtp-port", str(free_port()))
        assert second.returncode == 1
        assert f"another mailsiren serve (pid {serve.process.pid})" in second.stderr
        assert "Traceback" not in second.stderr
        assert running_serve_pid(paths.load_settings().database_url) == serve.process.pid


def test_the_supervisor_starts_serve_when_none_runs_and_stops_it_gracefully(isolated_home):
    port = free_port()
    paths.settings_file().parent.mkdir(parents=True, exist_ok=True)
    paths.settings_file().write_text(f"listener_port = {port}\n")
    url = paths.load_settings().database_url
    assert running_serve_pid(url) is None

    supervisor = ServeSupervisor(url, paths.data_dir() / "serve.log")
    supervisor.ensure()
    assert supervisor.child is not None
    wait_for_port(port, seconds=20)  # readiness of the child we started
    assert running_serve_pid(url) == supervisor.child.pid
    assert "serve started by this window" in supervisor.status()
    with smtplib.SMTP("127.0.0.1", port) as client:
        assert client.noop()[0] == 250

    other_window = ServeSupervisor(url, paths.data_dir() / "serve.log")
    other_window.ensure()  # a second UI uses the running serve
    assert other_window.child is None
    assert other_window.status() == f"serve running (pid {supervisor.child.pid})"

    supervisor.stop()
    assert supervisor.child.returncode == 0
    assert running_serve_pid(url) is None
    assert "no serve is running" in other_window.status()
    assert "every accepted mail is stored" in (paths.data_dir() / "serve.log").read_text()
