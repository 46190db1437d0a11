"""What every command shares: the one error type, the parsing of NAME=VALUE options, ranges and
stimuli, output-path checks, the one rule for printing numbers with units, and strict JSON."""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import sys
from pathlib import Path

import numpy as np

from neuroscape.io import dumps_strict

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CLIError(ValueError):
    """A user error found by the CLI itself; printed as one line, exit status 2."""


class _DefaultsFormatter(argparse.HelpFormatter):
    """Shows every option's default in --help (skipping unset and flag defaults)."""

    def _get_help_string(self, action):
        text = action.help or ""
        d = action.default
        if "%(default)" in text or d is None or d is False or d is argparse.SUPPRESS:
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``neuroscape: error: ...`` and exit 2 (argparse's own
    prints the usage block first, which buries the reason), and defaults shown in --help."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*args, **kwargs)
        # values like "-65,-50" or "-1:3:1" are numbers, not options (argparse only knows "-1")
        self._negative_number_matcher = re.compile(r"^-\.?\d[\d.,:eE+-]*$")

    def add_argument(self, *args, **kwargs):
        # argparse prints no help line, hence no default, for an option without help text
        d = kwargs.get("default")
        if "help" not in kwargs and d is not None and d is not False:
            kwargs["help"] = "(default: %(default)s)"
        return super().add_argument(*args, **kwargs)

    def error(self, message: str):
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


# --- numbers and units -------------------------------------------------------------------------


def format_value(value: float, unit: str, fmt: str = ".4g") -> str:
    """``value`` with its declared unit: "12.5 Hz", "0.42" for a dimensionless ("1") quantity,
    "nan" for a missing value (never a bare number with another quantity's unit)."""
    v = float(value)
    text = "nan" if math.isnan(v) else format(v, fmt)
    return text if unit in ("1", "") else f"{text} {unit}"


def column_name(name: str, unit: str) -> str:
    """A CSV column for a quantity: ``current_nA``; a dimensionless one keeps its bare name."""
    return name if unit in ("1", "") else f"{name}_{unit}"


def print_json(obj) -> None:
    """Strict JSON (RFC 8259) on stdout."""
    print(dumps_strict(obj))


# --- typed option values -------------------------------------------------------------------------


def _typed(kind, check, allowed: str):
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {allowed}") from None
        if not check(v):
            raise argparse.ArgumentTypeError(f"{text!r}: allowed {allowed}")
        return v

    parse.__name__ = allowed  # argparse names the type in its messages
    return parse


def _finite(v: float) -> bool:
    return math.isfinite(v)


positive_float = _typed(float, lambda v: _finite(v) and v > 0, "a finite number > 0")
nonneg_float = _typed(float, lambda v: _finite(v) and v >= 0, "a finite number >= 0")
finite_float = _typed(float, _finite, "a finite number")
positive_int = _typed(int, lambda v: v > 0, "an integer > 0")
nonneg_int = _typed(int, lambda v: v >= 0, "an integer >= 0")


def parse_number(raw: str, what: str) -> float:
    """A finite float from ``raw``; ``what`` names the option in the error."""
    try:
        v = float(raw)
    except ValueError:
        raise CLIError(f"{what}={raw!r}: the value is not a number") from None
    if not math.isfinite(v):
        raise CLIError(f"{what}={raw!r}: allowed a finite number")
    return v


def parse_set(items: list[str] | None, spec, option: str = "--set") -> dict[str, float]:
    """NAME=VALUE options of a model's parameters (names checked against the declaration)."""
    values = {}
    for item in items or []:
        if "=" not in item:
            raise CLIError(f"{option} {item!r}: expected NAME=VALUE")
        name, raw = item.split("=", 1)
        p = spec.parameter(name.strip())  # raises with the allowed names
        if p.name in values:
            raise CLIError(f"{option} {p.name} is given twice; allowed: once")
        values[p.name] = parse_number(raw, f"{option} {p.name}")
    return values


def spike_list(spikes, n: int = 5) -> str:
    """The first ``n`` spike times (ms, 2 decimals) and how many more there are."""
    first = ", ".join(f"{t:.2f}" for t in spikes[:n])
    more = f" (+{len(spikes) - n} more)" if len(spikes) > n else ""
    return f"{first or 'none'}{more}"


def parse_pairs(items: list[str] | None, option: str) -> dict[str, float]:
    """NAME=NUMBER options whose names the caller checks."""
    out = {}
    for item in items or []:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise CLIError(f"{option} {item!r}: expected NAME=NUMBER")
        if name.strip() in out:
            raise CLIError(f"{option} {name.strip()} is given twice; allowed: once")
        out[name.strip()] = parse_number(raw, f"{option} {name.strip()}")
    return out


def parse_range(text: str, what: str) -> np.ndarray:
    """The one range syntax of the CLI: ``START:STOP:STEP`` (STOP included when on the grid,
    STEP > 0) or a comma list ``a,b,c``."""
    try:
        if ":" in text:
            a, b, c = (float(x) for x in text.split(":"))
            if not all(map(math.isfinite, (a, b, c))) or c <= 0 or b < a:
                raise ValueError
            if (b - a) / c > 1e6:
                raise CLIError(f"{what} {text!r}: more than a million values")
            return np.round(np.arange(a, b + c / 2, c), 10)
        vals = np.array([float(x) for x in text.split(",")])
        if not np.isfinite(vals).all():
            raise ValueError
        return vals
    except ValueError:
        raise CLIError(
            f"{what} {text!r}: expected START:STOP:STEP (STOP >= START, STEP > 0) or a,b,c"
        ) from None


# --- stimuli of single neurons ---------------------------------------------------------------

STIMULUS_KINDS = ("step", "ramp", "noisy", "poisson", "poisson_conductance")
STIMULUS_HELP = (
    "stimulus kind, parameters with --stim NAME=VALUE: step (amp, t_on, t_off), "
    "ramp (amp0, amp1, t_on, t_off), noisy (mean, sigma, t_on, t_off), "
    "poisson (rate_hz, weight, tau_syn), poisson_conductance (rate_hz, weight, tau_syn, E_rev)"
)
# a step starts after a baseline, so that traces show the resting state before it
DEFAULT_T_ON_MS = 100.0


def add_stimulus_args(p: argparse.ArgumentParser) -> None:
    """--current/--t-on/--t-off (a step) or --stimulus KIND with --stim NAME=VALUE."""
    p.add_argument(
        "--current",
        type=finite_float,
        help="step current amplitude in the model's current unit (default: no stimulus)",
    )
    p.add_argument(
        "--t-on",
        type=nonneg_float,
        help=f"step onset in ms (default {DEFAULT_T_ON_MS:g}: a baseline before the step)",
    )
    p.add_argument(
        "--t-off", type=positive_float, default=None, help="step offset in ms (default: none)"
    )
    p.add_argument(
        "--stimulus", choices=STIMULUS_KINDS, help=STIMULUS_HELP + " (default: a step, --current)"
    )
    p.add_argument(
        "--stim",
        action="append",
        metavar="NAME=VALUE",
        help="a parameter of --stimulus, repeatable (default: t_on 0, t_off none)",
    )


def stimulus_from_args(args):
    """The stimulus of a single-neuron command; None when the command names none (the caller
    decides whether that is allowed)."""
    from neuroscape.core.stimuli import make_stimulus

    if args.stimulus is None:
        if args.stim:
            raise CLIError("--stim needs --stimulus KIND")
        if args.current is None:
            if args.t_on is not None or args.t_off is not None:
                raise CLIError("--t-on/--t-off need --current (a step)")
            return None
        t_on = DEFAULT_T_ON_MS if args.t_on is None else args.t_on
        t_off = math.inf if args.t_off is None else args.t_off
        return make_stimulus("step", amp=args.current, t_on=t_on, t_off=t_off)
    if args.current is not None or args.t_on is not None or args.t_off is not None:
        raise CLIError(
            "--current/--t-on/--t-off make a step; with --stimulus give --stim NAME=VALUE"
        )
    return make_stimulus(args.stimulus, **parse_pairs(args.stim, "--stim"))


def neuron_values(args, model) -> dict[str, float]:
    """--preset then --set values of a single-neuron model."""
    values = {}
    preset = getattr(args, "preset", None)
    if preset:
        if preset not in model.presets:
            allowed = ", ".join(model.presets) or "none for this model"
            raise CLIError(f"unknown preset {preset!r} for {model.name}; allowed: {allowed}")
        values.update(model.presets[preset])
    values.update(parse_set(getattr(args, "set", None), model.spec))
    return values


# --- files ---------------------------------------------------------------------------------------

FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def check_output_file(path: str | None, suffixes: tuple[str, ...], option: str) -> None:
    """Refuse, before any work, an output file whose folder is missing or not writable, or
    whose suffix is not one of ``suffixes``."""
    if path is None:
        return
    if not str(path).strip():
        raise CLIError(f"{option} is empty; expected a file name")
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise CLIError(f"{option} {path!r}: allowed suffixes {', '.join(suffixes)}")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise CLIError(f"{option} {path!r}: folder {str(folder)!r} does not exist")
    if p.is_dir():
        raise CLIError(f"{option} {path!r} is a folder; expected a file")
    _check_writable(folder, f"{option} {path!r}")


def _check_writable(folder: Path, what: str) -> None:
    # a probe file, not os.access: root passes os.access on read-only file systems like /proc
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        raise CLIError(f"{what}: folder {str(folder)!r} is not writable") from None


def check_output_dir(path: str | None, option: str = "--out") -> None:
    """Refuse an output folder that exists as a file or cannot be created."""
    if path is None:
        return
    if not str(path).strip():
        raise CLIError(f"{option} is empty; expected a folder")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise CLIError(f"{option} {path!r} is a file; expected a folder")
    anc = p
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise CLIError(f"{option} {path!r}: {str(anc)!r} is not a folder")
    _check_writable(anc, f"{option} {path!r}")


# --- the first run of a kernel ---------------------------------------------------------------


@contextlib.contextmanager
def compile_notice(key: str):
    """Say on stderr that the first run of ``key`` (a model and scheme) compiles its kernels:
    numba compiles for seconds before the first step, and a silent pause looks like a hang.
    Kernels are cached afterwards, which a marker beside the kernel cache records."""
    import threading

    from neuroscape import __version__
    from neuroscape.core.codegen import cache_dir

    marker = cache_dir() / f".ran-{__version__}-{key}"
    timer = None
    if not marker.exists():
        # said only if the call lasts: a refused input ends before, with its one line alone
        timer = threading.Timer(
            1.0,
            print,
            (
                f"neuroscape: first run of {key}: compiling its kernels (a few seconds; "
                "cached for later runs)",
            ),
            {"file": sys.stderr},
        )
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
    try:
        marker.touch()
    except OSError:  # a read-only cache only costs the notice next time
        pass


def sweep_list(text: str | None, option: str) -> list[int] | None:
    """--sweeps 1,3,5 or START:STOP:STEP (file indices, 0-based)."""
    if text is None:
        return None
    vals = parse_range(text, option)
    if not np.all(vals == np.round(vals)) or np.any(vals < 0):
        raise CLIError(f"{option} {text!r}: allowed: sweep indices (whole numbers >= 0)")
    out = [int(v) for v in vals]
    if len(set(out)) != len(out):
        raise CLIError(f"{option} {text!r} names a sweep twice; allowed: once each")
    return out
