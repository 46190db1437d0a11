"""The worker pool: order, failures kept to their task, hangs cut, no leftover processes.

The functions run in spawned workers, which import this file by its module name (pytest puts
``tests/`` on ``sys.path`` and spawn hands ``sys.path`` to the child): the helpers are
module-level.
"""

from __future__ import annotations

import functools
import math
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from neuroscape.core.workers import WorkerError, WorkerPool

HERE = Path(__file__).resolve().parent


_BEFORE: set[int] = set()


@pytest.fixture(autouse=True)
def _children_before():
    """Other tests of the session may hold live worker pools (a model's pool lives as long as
    the model): count only the children a test starts."""
    _BEFORE.clear()
    _BEFORE.update(p.pid for p in mp.active_children())


def _new_children() -> list:
    return [p for p in mp.active_children() if p.pid not in _BEFORE]


def _task(kind: str, x: float = 0.0) -> object:
    """The function a worker runs; ``kind`` picks the behaviour under test."""
    if kind == "square":
        return (os.getpid(), x * x)
    if kind == "sleep":
        time.sleep(x)
        return x
    if kind == "raise":
        raise ValueError(f"boom {x}\nsecond line")
    if kind == "hang":  # like a C-level hang: deaf to every signal but SIGKILL and SIGSTOP
        for sig in set(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP}:
            signal.signal(sig, signal.SIG_IGN)
        time.sleep(60)
    if kind == "exit":
        os._exit(3)
    if kind == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(5)
    if kind == "sigint":  # the worker ignores Ctrl-C; the parent handles it
        os.kill(os.getpid(), signal.SIGINT)
        return "still here"
    if kind == "nan":
        return math.nan
    if kind == "unpicklable":
        return lambda: None
    if kind == "pid_then_hang":
        Path(x).write_text(str(os.getpid()))
        time.sleep(60)
    raise AssertionError(kind)


def _load(log: str | None = None):
    """The loader: appends this worker's pid to ``log`` (a line per call); returns ``_task``."""
    if log is not None:
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
    return _task


def _load_fails():
    raise RuntimeError("no NEURON here\nsecond line")


def _load_dies():
    os._exit(5)


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live (non-zombie) process, from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


def test_order_values_processes_and_one_load_per_worker(tmp_path):
    log = tmp_path / "loads.txt"
    xs = [0.5, -3.0, 7.0, 2.25, 1e3, 0.0]
    with WorkerPool(functools.partial(_load, str(log)), workers=2) as pool:
        out = pool.map([("square", x) for x in xs])
        # completion order reversed from task order; results must still follow task order
        t0 = time.monotonic()
        slept = pool.map([("sleep", 1.0), ("sleep", 0.5), ("sleep", 0.0), ("sleep", 0.0)])
        parallel_s = time.monotonic() - t0
    assert all(o.ok and o.error is None for o in out + slept)
    assert [o.value[1] for o in out] == [_task("square", x)[1] for x in xs]
    assert [o.value for o in slept] == [1.0, 0.5, 0.0, 0.0]
    assert slept[0].wall_s >= 1.0
    assert parallel_s < 1.4  # one worker would need 1.5 s; two need 1.0 s
    pids = {o.value[0] for o in out}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    loads = log.read_text().split()
    assert len(loads) == 2 == len(set(loads))  # once per worker, not once per task (10 tasks)
    assert pids <= {int(p) for p in loads}


@pytest.mark.slow  # waits out a hung worker's timeout: 15 s
@needs_proc
def test_failures_stay_with_their_task_and_hangs_are_cut(tmp_path):
    log = tmp_path / "loads.txt"
    tasks = [("square", 2.0), ("raise", 1.0), ("hang",), ("exit",), ("nan",), ("segv",),
             ("unpicklable",), ("square", 3.0), ("sigint",)]
    with WorkerPool(functools.partial(_load, str(log)), workers=2, timeout_s=1.0) as pool:
        t0 = time.monotonic()
        out = pool.map(tasks)
        wall = time.monotonic() - t0
        # the pool keeps working, with a per-task timeout that overrides the pool's
        again = pool.map([("sleep", 0.0), ("sleep", 2.0), ("square", 5.0)], [None, 0.3, None])
        workers = [p.pid for p in _new_children()]
        pool.close()
        pool.close()  # idempotent
        assert _new_children() == []
    assert [o.ok for o in out] == [True, False, False, False, True, False, False, True, True]
    assert out[0].value[1] == 4.0 and out[7].value[1] == 9.0 and out[8].value == "still here"
    assert out[1].error == "ValueError: boom 1.0"
    assert out[2].error == "timed out after 1 s" and 1.0 <= out[2].wall_s < 3.0
    assert out[3].error == "worker process died (exit code 3)"
    assert out[5].error == f"worker process died (exit code {-signal.SIGSEGV})"
    assert out[6].error.startswith("return value could not be pickled: ")
    assert math.isnan(out[4].value) and out[4].error is None  # the pool does not judge values
    assert all(o.value is None for o in out if not o.ok)
    assert all("\n" not in o.error for o in out if not o.ok)
    assert wall < 40.0  # the 60 s hang was cut (a loaded 2-core machine took 21 s for the rest)
    assert [o.ok for o in again] == [True, False, True]
    assert again[1].error == "timed out after 0.3 s" and again[2].value[1] == 25.0
    assert len(workers) == 2
    # every worker that loaded, killed ones too; the last replacement may not have loaded yet
    started = {int(p) for p in log.read_text().split()} | set(workers)
    assert len(started) == 2 + 3 + 1  # replacements: hung, exited, segfaulted; timed out again
    assert not any(_running(pid) for pid in started)
    with pytest.raises(WorkerError, match="closed"):
        pool.map([("square", 1.0)])


def test_loader_failure_fails_every_task():
    with WorkerPool(_load_fails, workers=2, timeout_s=5.0) as pool:
        out = pool.map([("square", 1.0), ("square", 2.0), ("square", 3.0)])
    assert [o.error for o in out] == ["loader failed: RuntimeError: no NEURON here"] * 3
    assert not any(o.ok for o in out)


def test_loader_that_kills_its_worker_does_not_hang():
    t0 = time.monotonic()
    with WorkerPool(_load_dies, workers=2) as pool:  # no timeout: only the death tells
        out = pool.map([("square", 1.0), ("square", 2.0), ("square", 3.0)])
    assert [o.error for o in out] == ["worker died while loading (exit code 5)"] * 3
    # without the death check the map waits forever; 40 s allows a loaded machine's spawns
    # (11 s seen with both cores busy)
    assert time.monotonic() - t0 < 40.0 and _new_children() == []


@needs_proc
def test_workers_die_with_their_parent(tmp_path):
    pid_file = tmp_path / "worker.pid"
    script = textwrap.dedent(f"""
        import os, signal, sys, threading, time
        sys.path.insert(0, {str(HERE)!r})
        from test_workers import _load
        from neuroscape.core.workers import WorkerPool

        def kill_me():
            while not os.path.exists({str(pid_file)!r}):
                time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGKILL)  # no atexit, no finalizer runs

        threading.Thread(target=kill_me, daemon=True).start()
        WorkerPool(_load).map([("pid_then_hang", {str(pid_file)!r})])
    """)
    err = tmp_path / "stderr.txt"
    with open(err, "w") as f:  # not a pipe: an orphaned worker would hold it open
        proc = subprocess.run([sys.executable, "-c", script], timeout=60, stderr=f)
    assert proc.returncode == -signal.SIGKILL, err.read_text()
    worker = int(pid_file.read_text())
    deadline = time.monotonic() + 5.0
    while _running(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    orphaned = _running(worker)
    if orphaned:
        os.kill(worker, signal.SIGKILL)
    assert not orphaned


def test_ctrl_c_in_the_parent_closes_the_pool(tmp_path):
    pid_file = tmp_path / "worker.pid"
    script = textwrap.dedent(f"""
        import multiprocessing as mp, os, signal, sys, threading, time
        sys.path.insert(0, {str(HERE)!r})
        from test_workers import _load, _running
        from neuroscape.core.workers import WorkerPool

        def ctrl_c():
            while not os.path.exists({str(pid_file)!r}):
                time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=ctrl_c, daemon=True).start()
        pool = WorkerPool(_load, timeout_s=300.0)
        try:
            pool.map([("pid_then_hang", {str(pid_file)!r})])
        except KeyboardInterrupt:
            worker = int(open({str(pid_file)!r}).read())
            print(len(mp.active_children()), _running(worker))
    """)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", script], timeout=240, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "False"]  # the pool was closed, its worker reaped
    # a pool that ignored Ctrl-C would wait for the task's 300-s timeout; the bound leaves room
    # for a loaded machine's start-up (24 s seen with both cores busy)
    assert time.monotonic() - t0 < 120.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"workers": 0}, "workers must be an integer >= 1, got 0"),
        ({"workers": 1.5}, "got 1.5"),
        ({"workers": True}, "got True"),
        ({"timeout_s": 0}, "timeout_s must be None or a finite number of seconds > 0, got 0"),
        ({"timeout_s": -1.0}, "got -1.0"),
        ({"timeout_s": math.nan}, "got nan"),
        ({"timeout_s": math.inf}, "got inf"),
        ({"timeout_s": "2"}, "got '2'"),
        ({"start_method": "thread"}, "start_method must be one of .*got 'thread'"),
        ({"loader": lambda: _task}, "loader must be picklable"),
        ({"loader": 3}, "loader must be a zero-argument callable, got 3"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    args = {"loader": _load} | kwargs
    with pytest.raises(WorkerError, match=match) as info:
        WorkerPool(**args)
    assert "\n" not in str(info.value) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("tasks", "timeouts", "match"),
    [
        ([["square", 1.0]], None, "task 0 must be a tuple of positional arguments, got list"),
        ([("square", 1.0)], [1.0, 2.0], "timeouts has 2 entries, tasks has 1"),
        ([("square", 1.0)], [-2.0], r"timeouts\[0\] must be None .* got -2.0"),
    ],
)
def test_bad_map_arguments_are_refused_before_any_worker_starts(tasks, timeouts, match):
    pool = WorkerPool(_load)
    with pytest.raises(WorkerError, match=match):
        pool.map(tasks, timeouts)
    assert _new_children() == []
    pool.close()


def test_empty_map_starts_nothing():
    with WorkerPool(_load, workers=3) as pool:
        assert pool.map([]) == []
        assert _new_children() == []

