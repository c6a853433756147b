"""Process plumbing for the local servers: pid files, port checks, detached start, stop.

A server is "ours" when its pid file names a live process whose command line contains a
marker we chose (the path of the config file we wrote). Checking the command line, not
only the pid, keeps a recycled pid from being taken for our server after a reboot.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.logs import get_logger


class StackError(RuntimeError):
    """A local server cannot be installed, started, checked or stopped; the message says
    which, why, and what to do."""


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def cmdline(pid: int) -> str:
    """The process's command line with spaces between arguments ('' if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def is_alive(pid: int) -> bool:
    """True for a running process; a zombie (exited, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # the state letter follows the command name, which is in parentheses and may hold spaces
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def our_pid(pid_file: Path, marker: str) -> int | None:
    """The pid in ``pid_file`` if that process is alive and its command line holds
    ``marker``; a stale pid file is removed."""
    pid = read_pid(pid_file)
    if pid is None:
        return None
    if is_alive(pid) and marker in cmdline(pid):
        return pid
    with contextlib.suppress(FileNotFoundError):
        pid_file.unlink()
    return None


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_owner(port: int) -> tuple[int, str] | None:
    """(pid, command line) of the process listening on TCP ``port``, if this user can see
    it; found through /proc so that no extra tool (ss, lsof) is needed."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # fields: sl local_address rem_address st ... inode; st 0A is LISTEN
            if len(fields) > 9 and fields[3] == "0A":
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port:
                    inodes.add(fields[9])
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in targets:
                        return int(proc.name), cmdline(int(proc.name))
    return None


def describe_port_user(port: int) -> str:
    owner = port_owner(port)
    if owner is None:
        return "another process (not visible to this user)"
    pid, cmd = owner
    return f"pid {pid} ({cmd[:120]})"


@dataclass(frozen=True, slots=True)
class PortNeed:
    """A port a local server is about to listen on, and the setting that names it."""

    port: int
    role: str  # "ClickHouse native", "Kafka controller", ...
    setting: str  # environment variable to change it


def check_ports_free(host: str, needs: Sequence[PortNeed]) -> None:
    """Raise StackError naming the port, its user and the setting to change, if any of
    ``needs`` is already taken."""
    for need in needs:
        if port_open(host, need.port):
            raise StackError(
                f"{need.role} port {host}:{need.port} is already in use by "
                f"{describe_port_user(need.port)}; fix: stop that process, or choose another "
                f"port with {need.setting}"
            )


def spawn_detached(argv: Sequence[str], *, log_file: Path, pid_file: Path,
                   cwd: Path | None = None, env: Mapping[str, str] | None = None) -> int:
    """Start ``argv`` in its own session (so Ctrl-C in the terminal that ran `stack up`
    does not reach it), stdout and stderr appended to ``log_file``; writes the pid file."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            cwd=cwd, env=None if env is None else dict(env), start_new_session=True,
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def _reap(pid: int) -> None:
    # only our own children can be reaped; a server started by an earlier CLI call is
    # init's child by now and ChildProcessError says so
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop_pid(pid: int, *, name: str, timeout: float = 30.0) -> bool:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL. True if it had to be killed."""
    log = get_logger("stack")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not is_alive(pid):
            return False
        time.sleep(0.1)
    log.warning("stack.kill", server=name, pid=pid,
                reason=f"still running {timeout:.0f} s after SIGTERM")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        _reap(pid)
        if not is_alive(pid):
            break
        time.sleep(0.1)
    return True


def wait_until(check: Callable[[], bool], *, timeout: float, what: str,
               alive: Callable[[], bool] | None = None,
               on_fail: Callable[[], str] | None = None,
               progress_every: float = 5.0) -> float:
    """Poll ``check`` until it is true; returns the seconds waited.

    Logs a progress line every ``progress_every`` s. Gives up early when ``alive`` says
    the process died, and raises StackError with ``on_fail()``'s hint (a log tail).
    """
    log = get_logger("stack")
    start = time.monotonic()
    next_note = start + progress_every
    while True:
        if check():
            return time.monotonic() - start
        now = time.monotonic()
        hint = ""
        if alive is not None and not alive():
            hint = on_fail() if on_fail else ""
            raise StackError(f"{what}: the process exited during start-up{hint}")
        if now - start > timeout:
            hint = on_fail() if on_fail else ""
            raise StackError(f"{what}: not ready after {timeout:.0f} s{hint}")
        if now >= next_note:
            log.info("stack.waiting", what=what, waited_s=round(now - start, 1))
            next_note = now + progress_every
        time.sleep(0.2)


def tail(path: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of a text file ([] if it does not exist)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            block = min(size, max(4096, lines * 400))
            fh.seek(size - block)
            data = fh.read()
    except FileNotFoundError:
        return []
    return data.decode(errors="replace").splitlines()[-lines:] if lines > 0 else []


def log_hint(path: Path, lines: int = 15) -> str:
    last = tail(path, lines)
    if not last:
        return f"; no log at {path}"
    return f"; last lines of {path}:\n  " + "\n  ".join(last)


def stop_server(name: str, pid: int | None, pid_file: Path, timeout: float = 30.0) -> bool:
    """Stop our server ``pid`` (found through ``pid_file``) and forget it; True if one was
    stopped. A clean shutdown takes seconds; past ``timeout`` something hangs and it is
    killed."""
    if pid is None:
        return False
    log = get_logger("stack")
    log.info(f"{name}.stopping", pid=pid)
    killed = stop_pid(pid, name=name, timeout=timeout)
    pid_file.unlink(missing_ok=True)
    log.info(f"{name}.stopped", pid=pid, killed=killed)
    return True
