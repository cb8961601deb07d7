"""Run a command under /usr/bin/time -v: wall seconds, CPU seconds and peak RSS as the OS reports them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

TIME = "/usr/bin/time"


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    """user + system seconds: steadier than wall time on a shared machine."""
    rss_mb: float
    """Maximum resident set size, MiB."""
    rc: int

    def as_dict(self) -> dict:
        return asdict(self)


def _field(text: str, label: str) -> str:
    m = re.search(rf"^\s*{re.escape(label)}: (.+)$", text, re.MULTILINE)
    if not m:
        raise RuntimeError(f"/usr/bin/time -v printed no '{label}'")
    return m.group(1).strip()


def _wall(text: str) -> float:
    parts = [float(p) for p in _field(text, "Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


def timed(
    cmd: list[str],
    *,
    env: dict | None = None,
    cwd: Path | None = None,
    timeout: float = 3600,
    clear: Path | None = None,
    log: Path | None = None,
) -> Run:
    """Run `cmd` once (after removing `clear`, an output folder); raise if it fails."""
    if not Path(TIME).exists():
        raise SystemExit("/usr/bin/time is missing: apt-get install -y time")
    if clear is not None:
        shutil.rmtree(clear, ignore_errors=True)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        full = [TIME, "-v", "-o", report.name, *cmd]
        out = subprocess.run(
            full, env={**os.environ, **(env or {})}, cwd=cwd, capture_output=True, text=True, timeout=timeout
        )
        if log is not None:
            log.write_text(out.stdout[-20000:] + "\n--- stderr\n" + out.stderr[-20000:])
        text = Path(report.name).read_text()
    rc = out.returncode
    if rc != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({rc}):\n{out.stderr[-3000:]}")
    cpu = float(_field(text, "User time (seconds)")) + float(_field(text, "System time (seconds)"))
    rss = int(_field(text, "Maximum resident set size (kbytes)")) / 1024
    return Run(wall_s=_wall(text), cpu_s=cpu, rss_mb=rss, rc=rc)


def median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
