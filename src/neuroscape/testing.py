"""Helpers for testing the command line, in the spirit of ``numpy.testing``: run a command in
process and check the contract every user error keeps (one line on stderr, exit status 2,
nothing written)."""

from __future__ import annotations

from pathlib import Path


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``neuroscape ARGV`` run in this process; ``capsys`` is
    pytest's fixture. argparse's own refusals end in SystemExit, which becomes the status."""
    from neuroscape.cli.main import main

    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def snapshot(*folders: str | Path) -> dict:
    """Every file and folder under ``folders`` with its kind, size and modification time: equal
    snapshots before and after a command mean it wrote nothing."""
    return {
        str(p): (p.is_dir(), p.stat().st_size, p.stat().st_mtime_ns)
        for d in folders
        for p in sorted(Path(d).rglob("*"))
    }


def assert_refused(rc: int, err: str, match: str = "") -> None:
    """A refused user input: exit status 2, exactly one line on stderr containing ``match``,
    no traceback."""
    assert rc == 2, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err and match in err, err


def all_parsers(parser=None) -> list:
    """Every parser of the ``neuroscape`` command line, sub-commands included (depth first)."""
    import argparse

    from neuroscape.cli.main import build_parser

    parser = parser or build_parser()
    out = [parser]
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sub in a.choices.values():
                out += all_parsers(sub)
    return out


def options_without_a_stated_default(parsers) -> list[str]:
    """Options (not flags, not required) of ``parsers`` whose --help states no default."""
    missing = []
    for p in parsers:
        fmt = p.formatter_class(p.prog)
        for a in p._actions:
            if not a.option_strings or a.dest == "help":
                continue
            if not a.help:  # argparse prints no default for an option without help
                missing.append(f"{p.prog} {a.option_strings[0]} (no help)")
            elif not (a.required or a.nargs == 0) and "default" not in fmt._get_help_string(a):
                missing.append(f"{p.prog} {a.option_strings[0]}")
    return missing


def stored_runs(db: str | Path) -> int:
    """How many runs a model database holds now (0 while it is missing or being created), read
    without taking the writer's lock."""
    import sqlite3

    if not Path(db).exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:  # no tables yet
        return 0


def kill_after_runs(proc, db: str | Path, n: int, timeout_s: float = 60.0, group: bool = False):
    """SIGKILL the sweep ``proc`` (a Popen; with ``group``, its whole process group, started
    with ``start_new_session=True``, so its worker processes die too) once ``db`` holds ``n``
    runs, or when it ends or ``timeout_s`` passes; returns its exit status."""
    import os
    import signal
    import time

    deadline = time.time() + timeout_s
    while time.time() < deadline and proc.poll() is None:
        if stored_runs(db) >= n:
            if group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    return proc.wait()


# A neuron model for network tests: it only holds what its synapses add (dv/dt = I/ms with
# I = 0) and never fires, so a test reads the synaptic effects off v.
HOLD_CELL = {
    "name": "hold",
    "equations": "dv/dt = I/(1*ms) : mV\n",
    "current": {"name": "I", "unit": "mV"},
    "threshold": "v > 1000*mV",
    "reset": "v = 0*mV",
    "spike_timing": "grid",
    "initial": {"v": "0 mV"},
}


def strict_json(text: str):
    """Parse RFC 8259 JSON: NaN and Infinity are refused."""
    import json

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def refused_cli(args: list, capsys, needle: str, *folders: str | Path) -> str:
    """Run the CLI on ``args``: one line on stderr naming ``needle``, exit status 2, no traceback,
    nothing written in ``folders``; returns stderr."""
    before = snapshot(*folders)
    rc, _, err = run_cli([str(a) for a in args], capsys)
    assert_refused(rc, err, needle)
    assert err.startswith("neuroscape"), err
    assert snapshot(*folders) == before
    return err


def load_benchmark(name: str):
    """The module ``benchmarks/NAME.py`` of this source tree (scripts, not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
