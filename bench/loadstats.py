"""What ``bench/authenticate.py`` measures around one wrk run: its report, the server's cost.

- :func:`parse_wrk` reads the ``bench <name> <values>`` lines that ``requests.lua`` prints;
- :class:`ServerTree` reads ``/proc`` for a server's master process and its workers: CPU time
  (user + system, all threads) and each worker's peak resident memory, which it can reset
  (``/proc/<pid>/clear_refs``) so that a row reports its own peak.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PEAK_RSS = re.compile(r"^VmHWM:\s+(\d+) kB", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class WrkRun:
    requests: int
    seconds: float
    socket_errors: int  # connect + read + write + timeout
    non_2xx: int
    business_errors: int  # 200 answers carrying an error envelope
    latency_ms: tuple[float, float, float, float]  # p50, p90, p99, p99.9

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non_2xx + self.business_errors


def parse_wrk(output: str) -> WrkRun:
    """The figures ``requests.lua`` prints in ``done()``; a missing line is an error."""
    values: dict[str, list[int]] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "bench":  # noqa: PLR2004  word, name, values
            values[parts[1]] = [int(float(part)) for part in parts[2:]]
    needed = ("requests", "duration_us", "socket_errors", "non_2xx", "business_errors")
    missing = [name for name in (*needed, "latency_us") if name not in values]
    if missing:
        raise ValueError(f"wrk report lacks {', '.join(missing)}:\n{output}")
    p50, p90, p99, p999 = (micros / 1000 for micros in values["latency_us"])
    return WrkRun(
        requests=values["requests"][0],
        seconds=values["duration_us"][0] / 1e6,
        socket_errors=sum(values["socket_errors"]),
        non_2xx=values["non_2xx"][0],
        business_errors=values["business_errors"][0],
        latency_ms=(p50, p90, p99, p999),
    )


def cpu_seconds(stat_line: str) -> float:
    """User + system CPU of one ``/proc/<pid>/stat`` line (fields 14 and 15), in seconds."""
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat_line.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


class ServerTree:
    """A server's master process and every process below it (its workers)."""

    def __init__(self, pid: int, proc: Path = Path("/proc")) -> None:
        self.pid = pid
        self._proc = proc

    def _children(self, pid: int) -> list[int]:
        found: list[int] = []
        for task in (self._proc / str(pid) / "task").glob("*"):
            try:
                found += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue  # the thread ended meanwhile
        return found

    def workers(self) -> list[int]:
        found: list[int] = []
        pending = self._children(self.pid)
        while pending:
            pid = pending.pop()
            found.append(pid)
            pending += self._children(pid)
        return sorted(found)

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in (self.pid, *self.workers()):
            try:
                total += cpu_seconds((self._proc / str(pid) / "stat").read_text())
            except OSError:
                continue
        return total

    def peak_rss_mib(self) -> float:
        """The largest peak resident memory of one worker (the master's, if it has none)."""
        peaks = [0]
        for pid in self.workers() or [self.pid]:
            try:
                match = _PEAK_RSS.search((self._proc / str(pid) / "status").read_text())
            except OSError:
                continue
            peaks.append(int(match[1]) if match else 0)
        return max(peaks) / 1024

    def reset_peaks(self) -> None:
        """Peak memory counts from now on (Linux: ``5`` to ``clear_refs``), where allowed."""
        for pid in (self.pid, *self.workers()):
            try:
                (self._proc / str(pid) / "clear_refs").write_text("5")
            except OSError:
                continue
