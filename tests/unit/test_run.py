"""The `hj212 run` summary reads the gateway's Prometheus text."""

from pipeline.run import Child, parse_metrics, summary

TEXT = """# HELP hj212_gateway_frames_total frames by command and outcome
# TYPE hj212_gateway_frames_total counter
hj212_gateway_connections_open 3
hj212_gateway_frames_total{cn="2011",outcome="accepted"} 10
hj212_gateway_frames_total{cn="2051",outcome="accepted"} 4
hj212_gateway_frames_total{cn="2011",outcome="rejected_crc"} 1
hj212_gateway_published_total{topic="hj212.frames"} 14
"""


def test_counters_with_and_without_labels():
    snap = parse_metrics(TEXT, at=1.0)
    assert snap.get("hj212_gateway_connections_open") == 3
    assert snap.get("hj212_gateway_frames_total") == 15
    assert snap.get("hj212_gateway_frames_total", cn="2011") == 11
    assert snap.by_label("hj212_gateway_frames_total", "outcome") == {
        "accepted": 14, "rejected_crc": 1}


def test_summary_shows_rates_between_two_scrapes(tmp_path):
    before = parse_metrics(TEXT, at=1.0)
    now = parse_metrics(TEXT.replace("} 10", "} 30"), at=3.0)
    screen = "\n".join(summary(now, before, [Child("gateway", ["x"], tmp_path / "g.log")], 0.0))
    assert "2011=31" in screen
    assert "10/s" in screen  # 20 more frames in 2 s
    assert "gateway    not started" in screen


def test_no_gateway_yet(tmp_path):
    assert "not answering" in "\n".join(summary(None, None, [], 0.0))


def test_the_screen_shows_the_web_app_and_how_to_log_in(tmp_path):
    import subprocess
    import sys

    from pipeline.config import load_settings
    from pipeline.run import first_password_file, ui_child, ui_lines, ui_url, wait_for_ui

    settings = load_settings(env={"HJ212_RUN_DIR": str(tmp_path), "HJ212_UI__PORT": "8650",
                                  "HJ212_UI__HOST": "0.0.0.0"})
    child = ui_child(settings)
    assert child.argv[3:] == ["ui", "--first-password-file", str(first_password_file(settings))]
    assert ui_url(settings) == "http://127.0.0.1:8650/"
    assert "not answering at http://127.0.0.1:8650/" in ui_lines(settings, child, False)[0]
    up = ui_lines(settings, child, True)
    assert "http://127.0.0.1:8650/" in up[0] and "hj212 users list" in up[1]
    first_password_file(settings).parent.mkdir(parents=True)
    first_password_file(settings).write_text("Gen3ratedPassw0rd\n")
    assert "user admin, password Gen3ratedPassw0rd" in ui_lines(settings, child, True)[1]
    # a web app that exits is not waited for
    child.proc = subprocess.Popen([sys.executable, "-c", "pass"])
    child.proc.wait()
    assert wait_for_ui("http://127.0.0.1:8650/", child, timeout=30) is False


def test_the_clue_sweep_starts_at_the_first_whole_hour_of_the_fleet(tmp_path):
    from datetime import datetime

    from pipeline.config import load_settings
    from pipeline.run import children, clues_not_before, fleet_start

    # a fleet going on from 10:24 (continue_from), or started now (to the minute)
    assert fleet_start("2026-12-03T10:24:00") == datetime(2026, 12, 3, 10, 24)
    assert fleet_start(None, now=datetime(2026, 12, 3, 10, 24, 31, 5)) == datetime(
        2026, 12, 3, 10, 24)
    # its first hour holds records from before it began: the sweep starts at the next
    assert clues_not_before(datetime(2026, 12, 3, 10, 24)) == datetime(2026, 12, 3, 11)
    assert clues_not_before(datetime(2026, 12, 3, 11)) == datetime(2026, 12, 3, 11)
    settings = load_settings(env={"HJ212_RUN_DIR": str(tmp_path)})
    procs = {c.name: c for c in children(settings, 5, 60.0, None, "2026-12-03T10:24:00",
                                         clues_from=datetime(2026, 12, 3, 11))}
    assert procs["clues"].argv[3:] == ["clues", "--clock", "data",
                                       "--not-before", "2026-12-03T11:00"]


_RUNNER = """
import sys
from pathlib import Path

import pipeline.run as R
from pipeline.config import load_settings

pid_file, log = sys.argv[1], Path(sys.argv[2])
sleeper = [sys.executable, "-c",
           "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); "
           "time.sleep(120)", pid_file]
# no servers: the children are one sleeper, nothing is stored, no gateway to scrape
R.children = lambda *a, **k: [R.Child("sleeper", sleeper, log)]
R.continue_from = lambda *a, **k: None
R.scrape = lambda *a, **k: None
sys.exit(R.run(load_settings(env={}), stations=1, speed=1.0, faults=None, seconds=None,
               setup=False, history=False, web=False))
"""


def test_a_sigterm_stops_the_children_as_ctrl_c_does(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    pid_file = tmp_path / "sleeper.pid"
    root = Path(__file__).resolve().parents[2]
    runner = subprocess.Popen([sys.executable, "-c", _RUNNER, str(pid_file),
                               str(tmp_path / "sleeper.log")], cwd=root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if pid_file.exists() and pid_file.read_text():
                break
            time.sleep(0.05)
        sleeper = int(pid_file.read_text())
        runner.send_signal(signal.SIGTERM)  # a service manager stopping `hj212 run`
        assert runner.wait(timeout=20) in (0, 130)
        # the sleeper got its Ctrl-C and was reaped by the runner: gone, not orphaned
        for _ in range(100):
            try:
                os.kill(sleeper, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(sleeper, signal.SIGKILL)
            raise AssertionError("the child outlived `hj212 run`")
    finally:
        if runner.poll() is None:
            runner.kill()


def test_a_child_that_fails_is_restarted_with_growing_waits_and_one_that_finishes_is_not(
        tmp_path):
    import sys

    from pipeline import run as run_module

    flaky = Child("worker", [sys.executable, "-c", "import sys; sys.exit(3)"],
                  tmp_path / "worker.log")
    done = Child("once", [sys.executable, "-c", "pass"], tmp_path / "once.log")
    flaky.start({})
    done.start({})
    flaky.proc.wait(20)
    done.proc.wait(20)
    now = 100.0
    said = flaky.supervise(now)
    assert said is not None and "worker exited 3; restarting it in 1 s" in said
    assert flaky.supervise(now + 0.5) is None  # still waiting
    assert "restarted (restart 1)" in flaky.supervise(now + 1.0)
    flaky.proc.wait(20)
    assert "restarting it in 2 s" in flaky.supervise(now + 2.0)  # the wait doubles
    assert flaky.supervise(now + 3.5) is None
    assert "restart 2" in flaky.supervise(now + 4.0)
    flaky.proc.wait(20)
    assert flaky.state() == "exited 3, restarted 2x"
    assert flaky.log.read_text().count("\n--- ") == 3  # three starts in its log
    assert done.supervise(now) is None and done.supervise(now + 100) is None
    assert done.restarts == 0
    # a child that stays up the healthy time starts from the first wait again
    flaky._wait_s = run_module.RESTART_WAIT_S[1]
    flaky.argv = [sys.executable, "-c", "import time; time.sleep(30)"]
    flaky.supervise(now + 10)
    flaky.supervise(now + 10 + run_module.RESTART_WAIT_S[1])
    assert flaky.proc.poll() is None
    flaky.supervise(now + 10 + run_module.RESTART_WAIT_S[1] + run_module.RESTART_HEALTHY_S)
    assert flaky._wait_s == run_module.RESTART_WAIT_S[0]
    flaky.stop(timeout=5)
    done.stop(timeout=5)
