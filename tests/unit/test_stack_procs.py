"""Process plumbing of the stack with real, harmless processes (sleep) and sockets."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.stack import procs
from pipeline.stack.procs import PortNeed, StackError
from pipeline.stack.tools import require_tool, run_logged


@pytest.fixture
def listener() -> Iterator[int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        yield int(s.getsockname()[1])
    finally:
        s.close()


def test_port_open_and_owner(listener: int) -> None:
    assert procs.port_open("127.0.0.1", listener)
    owner = procs.port_owner(listener)
    assert owner is not None and owner[0] == os.getpid()


def test_busy_port_error_names_port_owner_and_setting(listener: int) -> None:
    with pytest.raises(StackError) as err:
        procs.check_ports_free("127.0.0.1", [PortNeed(listener, "Kafka broker",
                                                      "HJ212_KAFKA__BOOTSTRAP")])
    text = str(err.value)
    assert f"127.0.0.1:{listener}" in text and f"pid {os.getpid()}" in text
    assert "HJ212_KAFKA__BOOTSTRAP" in text


def test_free_port_passes() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    procs.check_ports_free("127.0.0.1", [PortNeed(port, "x", "Y")])


def test_spawn_find_and_stop_a_detached_process(tmp_path: Path) -> None:
    marker = str(tmp_path / "marker-arg")
    pid_file = tmp_path / "p.pid"
    pid = procs.spawn_detached([sys.executable, "-c", "import time; time.sleep(60)", marker],
                               log_file=tmp_path / "out.log", pid_file=pid_file)
    assert procs.read_pid(pid_file) == pid
    assert procs.our_pid(pid_file, marker) == pid
    assert procs.our_pid(pid_file, "some other marker") is None  # and the pid file is gone
    pid_file.write_text(f"{pid}\n")
    assert procs.stop_pid(pid, name="sleeper", timeout=5) is False
    assert not procs.is_alive(pid)
    assert procs.our_pid(pid_file, marker) is None
    assert not pid_file.exists()


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    code = ("import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "pathlib.Path(sys.argv[1]).touch(); time.sleep(60)")
    pid = procs.spawn_detached([sys.executable, "-c", code, str(ready)],
                               log_file=tmp_path / "o.log", pid_file=tmp_path / "p.pid")
    # SIGTERM before the handler is in place would end it the normal way
    procs.wait_until(ready.exists, timeout=20, what="the child ignoring SIGTERM")
    assert procs.stop_pid(pid, name="stubborn", timeout=0.5) is True
    assert not procs.is_alive(pid)


def test_wait_until_reports_timeout_and_death(tmp_path: Path) -> None:
    assert procs.wait_until(lambda: True, timeout=1, what="x") < 1
    with pytest.raises(StackError, match="not ready after"):
        procs.wait_until(lambda: False, timeout=0.3, what="thing")
    with pytest.raises(StackError, match="exited during start-up; see here"):
        procs.wait_until(lambda: False, timeout=5, what="thing", alive=lambda: False,
                         on_fail=lambda: "; see here")


def test_tail_and_log_hint(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert procs.tail(log, 3) == ["line 97", "line 98", "line 99"]
    assert procs.tail(tmp_path / "missing.log", 3) == []
    assert "line 99" in procs.log_hint(log, 2)


def test_run_logged_keeps_output_and_reports_failure(tmp_path: Path) -> None:
    log = tmp_path / "tool.log"
    run_logged([sys.executable, "-c", "print('Downloaded from a'); print('ok')"], what="t",
               log_file=log, count=("n", "^Downloaded"))
    assert "ok" in log.read_text()
    with pytest.raises(StackError, match=r"failed \(exit 3\).*boom"):
        run_logged([sys.executable, "-c", "print('boom'); raise SystemExit(3)"],
                   what="failing tool", log_file=log)


def test_missing_tool_error_says_what_to_do() -> None:
    with pytest.raises(StackError, match="fix: install it"):
        require_tool("no-such-tool-hj212", "install it")


_NAMED_THREAD = """
import threading, time, sys
ready = threading.Event()
def pool():
    tid = threading.get_native_id()
    with open(f"/proc/self/task/{tid}/comm", "w") as f:
        f.write("BackgrProcPool")
    print(tid, flush=True)
    ready.set()
    time.sleep(60)
threading.Thread(target=pool, daemon=True).start()
ready.wait()
time.sleep(60)
"""


def test_merge_threads_get_the_nice_level_and_the_others_keep_theirs() -> None:
    import subprocess

    from pipeline.stack.clickhouse import lower_merge_priority

    proc = subprocess.Popen([sys.executable, "-c", _NAMED_THREAD], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        pool_tid = int(proc.stdout.readline())
        assert lower_merge_priority(proc.pid, 10) == 1
        assert os.getpriority(os.PRIO_PROCESS, pool_tid) == 10
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == 0  # the main thread
        assert lower_merge_priority(proc.pid, 10) == 0  # already there: nothing to do
        assert lower_merge_priority(proc.pid, 0) == 0  # 0: leave the server alone
    finally:
        proc.kill()
        proc.wait()
