"""The benchmark's readings: wrk's report lines and a server's /proc figures."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("loadstats", BENCH / "loadstats.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("loadstats", module)
    spec.loader.exec_module(module)
    return module


loadstats = _load()

REPORT = """Running 10s test @ http://127.0.0.1:8000
  2 threads and 64 connections
bench requests 52340
bench duration_us 10002000
bench socket_errors 1 2 3 4
bench non_2xx 7
bench business_errors 11
bench latency_us 9100 15200 30500 81250
"""


def test_wrk_report_is_read_from_its_lines() -> None:
    run = loadstats.parse_wrk(REPORT)
    assert run.requests == 52340
    assert run.rps == pytest.approx(52340 / 10.002)
    assert run.socket_errors == 10
    assert run.non_2xx == 7
    assert run.business_errors == 11
    assert run.errors == 28
    assert run.latency_ms == (9.1, 15.2, 30.5, 81.25)


def test_a_report_missing_a_figure_is_refused() -> None:
    without_latency = "\n".join(
        line for line in REPORT.splitlines() if not line.startswith("bench latency")
    )
    with pytest.raises(ValueError, match="latency_us"):
        loadstats.parse_wrk(without_latency)


def test_cpu_time_is_user_plus_system_after_the_command_name() -> None:
    # A command name with spaces and a parenthesis must not shift the fields.
    ticks = os.sysconf("SC_CLK_TCK")
    line = f"42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 {3 * ticks} {ticks} 0 0 20 0 1 0"
    assert loadstats.cpu_seconds(line) == pytest.approx(4.0)


def _process(proc: Path, pid: int, *, children: list[int], ticks: int, peak_kib: int) -> None:
    task = proc / str(pid) / "task" / str(pid)
    task.mkdir(parents=True)
    (task / "children").write_text(" ".join(map(str, children)))
    fields = ["S", "1", *["0"] * 9, str(ticks), "0"]
    (proc / str(pid) / "stat").write_text(f"{pid} (python) {' '.join(fields)} 0 0\n")
    (proc / str(pid) / "status").write_text(f"Name:\tpython\nVmHWM:\t  {peak_kib} kB\n")


def test_server_tree_sums_cpu_and_takes_the_largest_worker_peak(tmp_path: Path) -> None:
    ticks = os.sysconf("SC_CLK_TCK")
    _process(tmp_path, 10, children=[11, 12], ticks=ticks, peak_kib=30 * 1024)
    _process(tmp_path, 11, children=[13], ticks=2 * ticks, peak_kib=90 * 1024)
    _process(tmp_path, 12, children=[], ticks=3 * ticks, peak_kib=120 * 1024)
    _process(tmp_path, 13, children=[], ticks=4 * ticks, peak_kib=10 * 1024)
    tree = loadstats.ServerTree(10, proc=tmp_path)
    assert tree.workers() == [11, 12, 13]
    assert tree.cpu_seconds() == pytest.approx(10.0)
    assert tree.peak_rss_mib() == pytest.approx(120.0)
