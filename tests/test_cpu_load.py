"""drumtx.cpu_load: the default torch threads of a command follow the cores others keep busy."""

from __future__ import annotations

import time

import pytest

from drumtx.cpu_load import LoadProbe, default_threads


@pytest.mark.parametrize(
    ("torch_threads", "busy", "expected"),
    [(2, None, 2), (2, 0.0, 2), (2, 0.4, 2), (2, 1.0, 1), (2, 2.0, 1), (2, 3.5, 1), (16, 2.2, 14), (16, 0.6, 15)],
)
def test_default_threads(torch_threads, busy, expected):
    assert default_threads(torch_threads, busy) == expected


def write_stat(path, busy_ticks, idle_ticks):
    # user nice system idle iowait irq softirq steal: busy spread over user and system
    path.write_text(f"cpu  {busy_ticks - 10} 0 10 {idle_ticks} 5 0 0 0 0 0\ncpu0 1 2 3 4\n")


def test_probe_subtracts_this_process_and_averages_over_wall_time(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    write_stat(stat, 1000, 50_000)
    clock = iter([100.0, 101.0])
    own = iter([5.0, 5.5])
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(time, "process_time", lambda: next(own))
    probe = LoadProbe(stat)
    # 1 s later: 250 ticks (2.5 s at 100 Hz) of busy time on all cores, 0.5 s of it this process's
    write_stat(stat, 1250, 50_100)
    monkeypatch.setattr("os.sysconf", lambda name: 100)
    assert probe.busy_cores_of_others() == pytest.approx(2.0)


def test_probe_without_proc_stat_or_time_says_unknown(tmp_path):
    assert LoadProbe(tmp_path / "missing").busy_cores_of_others(min_seconds=0) is None
    stat = tmp_path / "stat"
    write_stat(stat, 1000, 50_000)
    assert LoadProbe(stat).busy_cores_of_others(min_seconds=60) is None  # too short to average over
