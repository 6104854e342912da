"""Running under systemd (SPEC §17): serve says READY=1 on $NOTIFY_SOCKET once it listens and
STOPPING=1 on SIGTERM; the unit in contrib/ passes `systemd-analyze verify`."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.e2e.serve import running_serve

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "systemd" / "mailsiren.service"


def test_serve_tells_systemd_it_is_ready_then_stopping(tmp_path):
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(address)
        systemd.settimeout(30)
        with running_serve(env={"NOTIFY_SOCKET": address}) as serve:
            ready = systemd.recv(4096).decode()
            assert ready.splitlines() == ["READY=1", f"STATUS=listening on 127.0.0.1:{serve.port}"]
            serve.process.send_signal(signal.SIGTERM)
            stopping = systemd.recv(4096).decode()
        assert stopping.startswith("STOPPING=1\n")


def test_without_a_notify_socket_nothing_is_sent_and_serve_runs():
    from app.server.systemd import notify

    assert notify("READY=1") is False  # NOTIFY_SOCKET is not set in the tests


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd on this host")
def test_the_unit_file_passes_systemd_analyze_verify(tmp_path):
    """The unit as shipped, with ExecStart pointed at a program that exists here (the one it
    names is where README's install puts mailsiren)."""
    text = UNIT.read_text()
    assert "ExecStart=/opt/mailsiren/.venv/bin/mailsiren serve" in text
    for hardening in ("NoNewPrivileges=yes", "ProtectSystem=strict", "User=mailsiren",
                      "Restart=on-failure", "Type=notify"):  # fmt: skip
        assert hardening in text
    unit = tmp_path / "mailsiren.service"
    unit.write_text(text.replace("/opt/mailsiren/.venv/bin/mailsiren", shutil.which("true")))
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert verified.returncode == 0 and "mailsiren.service" not in verified.stderr, verified.stderr
