"""Stopping the stack's parts: `missions stop` with its pid file, and the dev stack's own stop."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from missions.devstack import (
    ChildSpec,
    DevStack,
    StackConfig,
    describe_stop,
    process_start_time,
    stop_detached,
)
from missions.settings import Settings

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="process start times come from /proc"
)


def _stat_start_time(pid: int) -> str:
    """Read field 22 of /proc/<pid>/stat, counted after the command name's `)`."""
    after_name = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2]
    return after_name.split()[22 - 3]


def _running(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is None


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process that leads its own process group, as each part of the stack does."""
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield process
    if _running(process):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _stop(data_dir: Path) -> tuple[int, list[str]]:
    lines: list[str] = []
    stopped = stop_detached(data_dir, grace_period=5, echo=lines.append)
    return stopped, lines


def _wait_until_exited(process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 5
    while _running(process) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_start_time_matches_proc_stat(sleeper: subprocess.Popen[bytes]) -> None:
    assert process_start_time(sleeper.pid) == _stat_start_time(sleeper.pid)


def test_start_time_of_absent_process(sleeper: subprocess.Popen[bytes]) -> None:
    os.killpg(sleeper.pid, signal.SIGKILL)
    sleeper.wait()
    assert process_start_time(sleeper.pid) is None


def test_stop_without_pid_file(tmp_path: Path) -> None:
    stopped, lines = _stop(tmp_path)
    assert stopped == 0
    assert lines == [
        f"no kept stack recorded in {tmp_path / 'stack.pids'}; nothing to stop. "
        "A stack started by `missions dev` stops with Ctrl-C in its terminal"
    ]


def test_detach_then_stop_round_trip(tmp_path: Path) -> None:
    config = StackConfig(data_dir=tmp_path)
    config.logs_dir.mkdir()
    stack = DevStack(Settings(), config)
    spec = ChildSpec("sleeper", ["sleep", "60"], {}, config.logs_dir / "sleeper.log", bool)
    process = stack._spawn(spec).process
    try:
        assert stack.detach() == [("sleeper", process.pid)]
        recorded = config.pid_file.read_text(encoding="utf-8")
        assert recorded == f"sleeper {process.pid} {_stat_start_time(process.pid)}\n"

        stopped, lines = _stop(tmp_path)
        assert stopped == 1
        assert lines == [f"stopped sleeper (pid {process.pid})"]
        # stop_detached reaped the process already, so Popen cannot see its exit status.
        _wait_until_exited(process)
        assert not _running(process)
        assert not config.pid_file.exists()
    finally:
        if _running(process):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_stop_skips_reused_pid(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    # The recorded start time differs from the running process's: the pid was reused.
    other_start_time = str(int(_stat_start_time(sleeper.pid)) + 1)
    (tmp_path / "stack.pids").write_text(f"api {sleeper.pid} {other_start_time}\n")
    stopped, lines = _stop(tmp_path)
    assert stopped == 0
    assert lines == [
        f"api (pid {sleeper.pid}) is no longer running; skipping it, because another "
        "process now has that pid"
    ]
    assert _running(sleeper)
    assert not (tmp_path / "stack.pids").exists()


def test_stop_skips_ended_part(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    start_time = _stat_start_time(sleeper.pid)
    os.killpg(sleeper.pid, signal.SIGKILL)
    sleeper.wait()
    (tmp_path / "stack.pids").write_text(f"worker {sleeper.pid} {start_time}\n")
    stopped, lines = _stop(tmp_path)
    assert stopped == 0
    assert lines == [f"worker (pid {sleeper.pid}) is no longer running; skipping it"]


def test_stop_leaves_old_format_pid(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    pid_file = tmp_path / "stack.pids"
    pid_file.write_text(f"temporal {sleeper.pid}\n")
    stopped, lines = _stop(tmp_path)
    assert stopped == 0
    assert lines == [
        f"temporal (pid {sleeper.pid}) was not stopped, because {pid_file} records no start "
        "time to check that the pid still belongs to it. If "
        f"`ps -p {sleeper.pid}` shows the temporal, stop it with `kill -TERM -- -{sleeper.pid}`"
    ]
    assert _running(sleeper)


def test_stop_reports_invalid_lines(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    pid_file = tmp_path / "stack.pids"
    start_time = _stat_start_time(sleeper.pid)
    pid_file.write_text(f"api not-a-pid 1\n\napi {sleeper.pid} {start_time}\n")
    stopped, lines = _stop(tmp_path)
    assert stopped == 1
    assert lines == [
        f"{pid_file}, line 1: skipping invalid entry 'api not-a-pid 1'",
        f"stopped api (pid {sleeper.pid})",
    ]
    _wait_until_exited(sleeper)
    assert not _running(sleeper)


def test_stop_order_is_reversed(tmp_path: Path) -> None:
    first = subprocess.Popen(["sleep", "60"], start_new_session=True)
    second = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        (tmp_path / "stack.pids").write_text(
            f"temporal {first.pid} {_stat_start_time(first.pid)}\n"
            f"api {second.pid} {_stat_start_time(second.pid)}\n"
        )
        stopped, lines = _stop(tmp_path)
        assert stopped == 2
        assert lines == [
            f"stopped api (pid {second.pid})",
            f"stopped temporal (pid {first.pid})",
        ]
    finally:
        for process in (first, second):
            if _running(process):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_describe_stop() -> None:
    assert describe_stop(-signal.SIGTERM) == "stopped"
    assert describe_stop(0) == "stopped"
    assert describe_stop(3) == "stopped: it exited with code 3"
    assert describe_stop(-signal.SIGKILL) == "stopped: it was ended by signal SIGKILL"


def test_dev_stack_logs_sigterm_as_stopped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = StackConfig(data_dir=tmp_path)
    config.logs_dir.mkdir()
    stack = DevStack(Settings(), config)
    spec = ChildSpec("sleeper", ["sleep", "60"], {}, config.logs_dir / "sleeper.log", bool)
    process = stack._spawn(spec).process
    with caplog.at_level(logging.INFO, logger="missions.devstack"):
        stack.stop()
    assert process.returncode == -signal.SIGTERM
    assert f"sleeper (pid {process.pid}) stopped" in caplog.messages
    assert not any("signal" in message for message in caplog.messages)
