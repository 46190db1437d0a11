"""A small process pool that runs one task at a time per worker process, with a per-task timeout.

Hand-written on purpose: ``concurrent.futures.ProcessPoolExecutor`` cannot end a single hung task
(a C-level hang inside NEURON ignores Python signals, and the executor has no per-task kill), and
one crashed worker breaks the whole executor.  ``pebble`` would do, but it is not a dependency.
Here a task that overruns its timeout has its worker SIGKILLed and replaced, a worker that dies
fails only its own task, and the parent waits on all pipes and process sentinels at once
(``multiprocessing.connection.wait``) up to the nearest task deadline, so neither a hung nor a
dead worker stalls ``map``.  A task's clock starts when it is handed to a loaded worker: the
loader's own time (starting NEURON, say) is not charged to a task, and is not limited.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import multiprocessing.util
import numbers
import os
import pickle
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

__all__ = ["TaskOutcome", "WorkerError", "WorkerPool"]


class WorkerError(ValueError):
    """A bad argument to the pool (one line)."""


@dataclass
class TaskOutcome:
    """What became of one task: its value or a one-line error, and its wall time in seconds."""

    ok: bool  # the function returned
    value: object  # what it returned (None unless ok)
    # one line: "ValueError: boom" / "timed out after 2 s" / "worker process died (exit code -11)"
    error: str | None
    wall_s: float


def _one_line(exc: BaseException) -> str:
    """``"ExcType: first line of the message"``."""
    try:
        lines = str(exc).strip().splitlines()
    except Exception:  # a broken __str__ must not take the worker down
        lines = []
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _exit_with_parent(sentinel: int) -> None:
    """Worker thread: end the worker when the parent goes away, even mid-task."""
    wait([sentinel])
    os._exit(1)


def _worker_main(conn: Connection, loader: Callable[[], Callable[..., object]]) -> None:
    """Worker process: load the function once, then answer one task at a time until killed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    parent = mp.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), daemon=True).start()
    fn, failure = None, None
    try:
        fn = loader()
    except BaseException as exc:
        failure = f"loader failed: {_one_line(exc)}"  # every task will report it
    conn.send(("ready", None))
    while True:
        try:
            args = conn.recv()
        except (EOFError, OSError):
            return
        except BaseException as exc:
            conn.send((False, f"arguments could not be unpickled: {_one_line(exc)}"))
            continue
        if failure is not None:
            reply = (False, failure)
        else:
            try:
                reply = (True, fn(*args))
            except BaseException as exc:
                reply = (False, _one_line(exc))
        try:
            conn.send(reply)  # pickles fully before writing, so a failure leaves the pipe clean
        except Exception as exc:
            conn.send((False, f"return value could not be pickled: {_one_line(exc)}"))


@contextlib.contextmanager
def _main_file_hidden_if_absent():
    """A spawned child re-runs the parent's main script by its path; a script read from stdin
    ("<stdin>") has none, and every worker would die at start. Hide such a path while starting
    (as for ``python -c`` or a notebook, whose main module has no file)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or os.path.exists(path):
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def _allow_children() -> None:
    """Let a daemonic process (a Dask worker: ``distributed.worker.daemon`` is True by default)
    start workers. multiprocessing refuses children of a daemon ("daemonic processes are not
    allowed to have children") only to avoid orphans; ours end with their parent (the watcher
    thread in ``_worker_main``) and are killed by the pool's exit finalizer."""
    me = mp.current_process()
    if me.daemon:
        me.daemon = False


class _Slot:
    """One worker process as the parent sees it."""

    def __init__(self, ctx: mp.context.BaseContext, loader: Callable) -> None:
        _allow_children()
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child, loader), name="neuroscape-worker")
        with _main_file_hidden_if_absent():
            self.proc.start()
        child.close()
        self.ready = False  # set when the loader has returned, so loading does not eat a timeout
        self.task: int | None = None  # index of the task it is running
        self.t0, self.deadline, self.limit = 0.0, math.inf, None

    def kill(self) -> None:
        """SIGKILL (a C-level hang ignores anything gentler), reap, close the pipe."""
        self.proc.kill()  # a no-op on a reaped process
        self.proc.join(5.0)  # bounded: a process stuck in the kernel (state D) dies only later
        self.conn.close()


def _kill_all(slots: list[_Slot]) -> None:
    """Kill and reap every worker (close(), garbage collection, interpreter exit)."""
    for slot in slots:
        slot.kill()
    slots.clear()


def _check_timeout(value: object, what: str) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise WorkerError(f"{what} must be None or a finite number of seconds > 0, got {value!r}")
    return float(value)


class WorkerPool:
    """Run ``loader()``'s function on tuples of arguments in ``workers`` separate processes."""

    def __init__(self, loader: Callable[[], Callable[..., object]], workers: int = 1,
                 timeout_s: float | None = None, start_method: str = "spawn") -> None:
        if not isinstance(workers, numbers.Integral) or isinstance(workers, bool) or workers < 1:
            raise WorkerError(f"workers must be an integer >= 1, got {workers!r}")
        methods = mp.get_all_start_methods()
        if start_method not in methods:
            allowed = ", ".join(methods)
            raise WorkerError(f"start_method must be one of {allowed}, got {start_method!r}")
        if not callable(loader):
            raise WorkerError(f"loader must be a zero-argument callable, got {loader!r}")
        if start_method != "fork":  # the loader travels to the worker by pickle
            try:
                pickle.dumps(loader)
            except Exception as exc:
                raise WorkerError(
                    f"loader must be picklable (a module-level function or a functools.partial "
                    f"of one), got {loader!r}: {_one_line(exc)}"
                ) from None
        self.timeout_s = _check_timeout(timeout_s, "timeout_s")
        self.workers = int(workers)
        self._loader = loader
        self._ctx = mp.get_context(start_method)
        self._slots: list[_Slot] = []
        self._closed = False
        # one finalizer for every end: the pool collected, close(), and the process exiting.
        # multiprocessing runs finalizers with an exit priority before it joins its children
        # (which would wait forever on ours), in the main process and in a multiprocessing
        # child (a Dask worker) alike, where atexit does not run
        self._finalizer = mp.util.Finalize(
            self, _kill_all, args=(self._slots,), exitpriority=100
        )

    @property
    def closed(self) -> bool:
        return self._closed

    def map(
        self, tasks: Sequence[tuple], timeouts: Sequence[float | None] | None = None
    ) -> list[TaskOutcome]:
        """One outcome per task, in task order; ``timeouts[i]`` (seconds, None = no limit)
        replaces ``timeout_s`` for task i when given."""
        if self._closed:
            raise WorkerError("the pool is closed; make a new WorkerPool")
        tasks = list(tasks)
        for i, args in enumerate(tasks):
            if not isinstance(args, tuple):
                got = type(args).__name__
                raise WorkerError(f"task {i} must be a tuple of positional arguments, got {got}")
        if timeouts is None:
            limits = [self.timeout_s] * len(tasks)
        else:
            if len(timeouts) != len(tasks):
                raise WorkerError(f"timeouts has {len(timeouts)} entries, tasks has {len(tasks)}")
            limits = [_check_timeout(t, f"timeouts[{i}]") for i, t in enumerate(timeouts)]
        try:
            return self._run(tasks, limits)
        except BaseException:  # Ctrl-C: busy workers would answer the next map with stale results
            self.close()
            raise

    def _run(self, tasks: list[tuple], limits: list[float | None]) -> list[TaskOutcome]:
        results: list[TaskOutcome | None] = [None] * len(tasks)
        pending = deque(range(len(tasks)))
        slots = self._slots
        while pending and len(slots) < self.workers:
            slots.append(_Slot(self._ctx, self._loader))

        def done(slot: _Slot, ok: bool, value: object, error: str | None) -> None:
            wall_s = time.monotonic() - slot.t0
            results[slot.task] = TaskOutcome(ok, value if ok else None, error, wall_s)
            slot.task, slot.deadline = None, math.inf

        def replace(slot: _Slot) -> None:
            slot.kill()
            slots[slots.index(slot)] = _Slot(self._ctx, self._loader)

        while pending or any(s.task is not None for s in slots):
            for slot in slots:  # hand out work to idle, loaded workers
                while slot.ready and slot.task is None and pending:
                    i = pending.popleft()
                    slot.task, slot.t0, slot.limit = i, time.monotonic(), limits[i]
                    try:
                        slot.conn.send(tasks[i])
                    except Exception as exc:  # the worker never saw it and stays idle
                        error = f"arguments could not be pickled: {_one_line(exc)}"
                        done(slot, False, None, error)
                        continue
                    slot.deadline = slot.t0 + limits[i] if limits[i] is not None else math.inf
            if not slots:
                break
            soonest = min(s.deadline for s in slots)
            timeout = None if soonest == math.inf else max(0.0, soonest - time.monotonic())
            wait([s.conn for s in slots] + [s.proc.sentinel for s in slots], timeout)
            for slot in list(slots):
                try:  # read what it sent before looking at whether it died
                    kind, payload = slot.conn.recv() if slot.conn.poll() else (None, None)
                except (EOFError, OSError):
                    kind = None
                if kind == "ready":
                    slot.ready = True
                elif kind is not None:  # True (returned) or False (failed)
                    done(slot, kind, payload, None if kind else payload)
                elif not slot.proc.is_alive():
                    slot.proc.join()
                    code = slot.proc.exitcode
                    if slot.task is not None:
                        done(slot, False, None, f"worker process died (exit code {code})")
                        replace(slot)
                    elif not slot.ready:  # died while loading: not restarted (it would only loop)
                        slot.kill()
                        slots.remove(slot)
                        while not slots and pending:  # no worker left to do the rest
                            slot.task, slot.t0 = pending.popleft(), time.monotonic()
                            done(slot, False, None, f"worker died while loading (exit code {code})")
                    else:
                        replace(slot)
                elif slot.task is not None and time.monotonic() >= slot.deadline:
                    done(slot, False, None, f"timed out after {slot.limit:g} s")
                    replace(slot)
        return results  # type: ignore[return-value]

    def close(self) -> None:
        """Kill and reap every worker; idempotent."""
        self._closed = True
        self._finalizer()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
