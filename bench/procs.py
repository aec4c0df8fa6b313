"""The processes the bench starts, and stopping every one of them whatever happens."""

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

LOG_DIR = Path(__file__).resolve().parent / "results" / "logs"


class Procs:
    """Starts children in their own process groups (so gunicorn's and RQ's own children go with
    them) and stops them all: SIGTERM, then SIGKILL for whoever is still there."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        LOG_DIR.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> int:
        if name in self.running:
            raise RuntimeError(f"{name} is already running")
        log = (LOG_DIR / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            list(argv),
            cwd=self.cwd,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.running[name] = proc
        return proc.pid

    def pid(self, name: str) -> int:
        return self.running[name].pid

    def alive(self, name: str) -> bool:
        proc = self.running.get(name)
        return proc is not None and proc.poll() is None

    def stop(self, *names: str, grace: float = 5.0) -> None:
        procs = [(n, self.running.pop(n)) for n in names if n in self.running]
        for _name, proc in procs:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for _name, proc in procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(5)

    def stop_all(self) -> None:
        self.stop(*list(self.running), grace=5.0)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB; (0, 0) once it is gone."""
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in values:
                    values[key] = int(rest.split()[0])
    except FileNotFoundError:
        pass
    return values["VmRSS"], values["VmHWM"]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds each process has used so far (gone ones are left out)."""
    used = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            used[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return used


def pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids
