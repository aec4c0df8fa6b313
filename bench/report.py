"""Figures, their targets, and the one table the bench prints (and writes)."""

import os
import platform
import re
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.config import ROOT

RESULTS = ROOT / "bench" / "results" / "latest.md"
DOCS = ROOT / "docs" / "benchmarks.md"
# Written as escapes so that the source shows plain ASCII where it matters.
EN_DASH = "\u2013"
TIMES = "\u00d7"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"


@dataclass
class Figure:
    section: str
    label: str
    samples: list[float]
    unit: str = ""
    target: str = ""
    # "min": higher is better, the median must reach `goal`; "max": the median must stay below.
    sense: str = ""
    goal: float | None = None
    note: str = ""
    digits: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def verdict(self) -> str:
        if self.goal is None or not self.sense:
            return ""
        if not self.samples:
            return "MISS"
        ok = self.median >= self.goal if self.sense == "min" else self.median <= self.goal
        return "PASS" if ok else "MISS"

    def shown(self) -> str:
        if not self.samples:
            return "n/a"
        text = f"{_num(self.median, self.digits)}{self.unit}"
        if len(self.samples) > 1:
            low, high = min(self.samples), max(self.samples)
            text += f" ({_num(low, self.digits)}{EN_DASH}{_num(high, self.digits)})"
        return text


def _num(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def machine() -> dict[str, str]:
    model = "unknown CPU"
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
        model = match.group(1).strip() if match else model
    except OSError:
        pass
    mem = ""
    try:
        kib = int(re.findall(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[0])
        mem = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, IndexError):
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "load": load,
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgres": _version(["psql", "--version"]),
        "redis": _version(["redis-server", "--version"]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
    }


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    return out.strip().splitlines()[0] if out.strip() else "?"


def table(figures: Sequence[Figure]) -> str:
    lines = [
        f"| scenario | figure | median (min{EN_DASH}max) | target | | notes |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for f in figures:
        note = f.note.replace("|", "/")
        lines.append(
            f"| {f.section} | {f.label} | {f.shown()} | {f.target} | {f.verdict} | {note} |"
        )
    return "\n".join(lines)


def render(figures: Sequence[Figure], info: dict[str, str], *, command: str, took: float) -> str:
    head = (
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory']}; load average at "
        f"start {info['load']}; {info['os']}; Python {info['python']}; {info['postgres']}; "
        f"{info['redis']}.\n\nRun {info['date']} at commit {info['commit']} with `{command}` "
        f"in {took / 60:.1f} min."
    )
    return f"{head}\n\n{table(figures)}\n"


def write(text: str, *, docs: bool) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    if docs and DOCS.exists():
        current = DOCS.read_text()
        if BEGIN in current and END in current:
            before, rest = current.split(BEGIN, 1)
            _, after = rest.split(END, 1)
            DOCS.write_text(f"{before}{BEGIN}\n{text}{END}{after}")
