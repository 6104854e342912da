"""Inbound throughput and latency of `mailsiren serve`, against Postfix's smtp-sink in the same run.

Run: .venv/bin/python bench/listener.py [--mails 5000] [--sessions 10] [--size 2048]
Needs Postfix's tools (apt-get install -y postfix): smtp-source drives both servers with the
same load. smtp-sink accepts and discards; mailsiren parses, routes and commits every mail
(SQLite, synchronous=FULL) before its 250. Prints both rates, their ratio, the number of
mails stored, serve's peak resident memory, and the latency from the final dot to the 250
at a steady 100 mails/s (one session, like a monitoring system).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
ADDRESS = "bench@alerts.example.com"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def drive(port: int, mails: int, sessions: int, size: int) -> float:
    """Run smtp-source against the port; return mails per second."""
    started = time.perf_counter()
    subprocess.run(
        [SMTP_SOURCE, "-s", str(sessions), "-m", str(mails), "-l", str(size), "-d",
         "-f", "monitor@mon.example.net", "-t", ADDRESS, f"127.0.0.1:{port}"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return mails / (time.perf_counter() - started)


def bench_workspace() -> tuple[dict[str, str], list[str]]:
    """A throwaway data folder with the `bench` source: the environment that points at it,
    and the command that runs mailsiren there."""
    home = Path(tempfile.mkdtemp(prefix="mailsiren-bench-"))
    environment = {**os.environ, "XDG_DATA_HOME": str(home / "data"),
                   "XDG_CONFIG_HOME": str(home / "config"), "PYTHONPATH": str(ROOT)}  # fmt: skip
    config = home / "sources.toml"
    config.write_text(
        f'[[source]]\nname = "bench"\naddress = "{ADDRESS}"\ncreation = "per_subject"\n'
    )
    mailsiren = [sys.executable, "-m", "app"]
    subprocess.run([*mailsiren, "config", "import", str(config)], check=True, env=environment)
    return environment, mailsiren


def rate_of(server: list[str], port: int, options: argparse.Namespace) -> tuple[float, float]:
    """Start a reference server, drive it with the same load, stop it: its mails per
    second, and the CPU seconds it spent per mail."""
    process = subprocess.Popen(server)
    try:
        wait_for_port(port)
        before = cpu_seconds(process.pid)
        rate = drive(port, options.mails, options.sessions, options.size)
        return rate, (cpu_seconds(process.pid) - before) / options.mails
    finally:
        process.terminate()
        process.wait()


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def family(pid: int) -> list[int]:
    """The process and its children (serve's storage process)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *map(int, children)]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reaped_cpu_seconds() -> float:
    """CPU time of this process's children that have ended (smtp-source, once it has)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def latencies_ms(port: int, count: int, rate: float) -> list[float]:
    """One session; a mail every 1/rate s; time from the final dot to the 250."""
    body = b"Subject: latency probe\r\nFrom: m@mon.example.net\r\n\r\n" + (b"x" * 76 + b"\r\n") * 26
    timings: list[float] = []
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay
        reader = connection.makefile("rb")

        def command(line: bytes) -> bytes:
            connection.sendall(line)
            reply = reader.readline()
            while reply[3:4] == b"-":
                reply = reader.readline()
            return reply

        reader.readline()
        command(b"EHLO bench\r\n")
        next_send = time.perf_counter()
        for _ in range(count):
            command(b"MAIL FROM:<m@mon.example.net>\r\n")
            command(f"RCPT TO:<{ADDRESS}>\r\n".encode())
            command(b"DATA\r\n")
            connection.sendall(body)
            started = time.perf_counter()
            reply = command(b".\r\n")
            timings.append((time.perf_counter() - started) * 1000)
            if not reply.startswith(b"250"):
                raise RuntimeError(f"not stored: {reply!r}")
            next_send += 1 / rate
            time.sleep(max(0.0, next_send - time.perf_counter()))
        command(b"QUIT\r\n")
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--latency-mails", type=int, default=1000)
    options = parser.parse_args()
    for tool in (SMTP_SINK, SMTP_SOURCE):
        if not Path(tool).exists():
            sys.exit(f"{tool} is missing: apt-get install -y postfix")

    sink_port = free_port()
    sink_arguments = [SMTP_SINK, f"127.0.0.1:{sink_port}", "256"]
    if os.geteuid() == 0:
        sink_arguments[1:1] = ["-u", "nobody"]
    sink_rate, _sink_cpu = rate_of(sink_arguments, sink_port, options)
    discard_port = free_port()
    discard = [sys.executable, str(ROOT / "bench" / "aiosmtpd_sink.py"), str(discard_port)]
    discard_rate, discard_cpu = rate_of(discard, discard_port, options)

    environment, mailsiren = bench_workspace()
    port = free_port()
    serve = subprocess.Popen(
        [*mailsiren, "serve", "--smtp-port", str(port)], env=environment,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port)
        processes = family(serve.pid)
        cpu_before = [cpu_seconds(pid) for pid in processes]
        started = time.perf_counter()
        reaped_before = reaped_cpu_seconds()
        rate = drive(port, options.mails, options.sessions, options.size)
        elapsed = time.perf_counter() - started
        source_cpu = (reaped_cpu_seconds() - reaped_before) / options.mails  # smtp-source's
        busy = [
            (cpu_seconds(pid) - before) / elapsed
            for pid, before in zip(processes, cpu_before, strict=False)
        ]
        timings = latencies_ms(port, options.latency_mails, 100.0)
        rss = sum(peak_rss_mib(pid) for pid in processes)
    finally:
        serve.terminate()
        serve.wait()
    database = Path(environment["XDG_DATA_HOME"]) / "mailsiren" / "mailsiren.db"
    with sqlite3.connect(database) as connection:
        stored = connection.execute("SELECT count(*) FROM mail").fetchone()[0]
    timings.sort()
    p50 = statistics.median(timings)
    p99 = timings[int(len(timings) * 0.99) - 1]
    expected = options.mails + options.latency_mails
    print(
        f"load: smtp-source, {options.sessions} sessions, {options.mails} mails of {options.size} B"
    )
    print(f"smtp-sink (accept and discard):  {sink_rate:8.0f} mails/s")
    print(f"aiosmtpd (accept and discard):   {discard_rate:8.0f} mails/s  (the stack's ceiling)")
    print(f"mailsiren serve (parse + commit): {rate:8.0f} mails/s")
    print("CPU during the load, in cores: " + ", ".join(
        f"{name} {share:.0%}" for name, share in zip(("listener", "storage"), busy, strict=False)
    ))  # fmt: skip
    # What a mail costs each process: the budget behind the ratio. At a rate R the listener
    # needs R × its cost of a core, and the storage process (one thread) cannot pass 1 core.
    print(f"CPU per mail: aiosmtpd {discard_cpu * 1e6:.0f} µs; mailsiren " + ", ".join(
        f"{name} {share / rate * 1e6:.0f} µs"
        for name, share in zip(("listener", "storage"), busy, strict=False)
    ) + f"; smtp-source {source_cpu * 1e6:.0f} µs")  # fmt: skip
    print(
        f"ratio: {rate / sink_rate:.1%} of smtp-sink's rate, {rate / discard_rate:.0%} of aiosmtpd's"
    )
    print(f"stored: {stored} of {expected} mails sent{'' if stored == expected else '  ← MISSING'}")
    print(f"serve peak resident memory (both processes): {rss:.0f} MiB")
    print(
        f"final dot → 250 at 100 mails/s, {len(timings)} mails: p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )
    return 0 if stored == expected else 1


if __name__ == "__main__":
    raise SystemExit(main())
