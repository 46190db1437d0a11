"""The ``neuroscape`` command line: a thin wrapper over the Python API.

Every user error (bad name, value, file or setting) ends with one line on stderr and exit status 2;
Ctrl-C ends with one line and exit status 130, keeping every completed result.
"""

from __future__ import annotations

import os
import sys
import warnings

from neuroscape.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CLIError,
    Parser,
)

__all__ = ["CLIError", "build_parser", "main"]


def _is_user_error(exc: BaseException) -> bool:
    """One rule instead of a list: every ValueError subclass that neuroscape defines is a user
    error (bad name, value, file, setting), and so is a file the OS refuses to read or write."""
    if isinstance(exc, ValueError) and type(exc).__module__.startswith("neuroscape"):
        return True
    return isinstance(exc, OSError) and getattr(exc, "filename", None) is not None


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or type(exc).__name__}"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def build_parser() -> Parser:
    from neuroscape import __version__
    from neuroscape.cli import (
        example_cmds,
        explore_cmds,
        export_cmds,
        fit_cmds,
        simulate_cmds,
        surrogate_cmds,
        theory_cmds,
    )

    p = Parser(prog="neuroscape", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"neuroscape {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (simulate_cmds, explore_cmds, surrogate_cmds, fit_cmds, theory_cmds,
                   example_cmds, export_cmds):
        module.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # third-party warnings print as one line without their source paths
    warnings.formatwarning = lambda msg, cat, *a, **k: f"neuroscape: warning: {msg}\n"
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("neuroscape: interrupted; every completed result is kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader (e.g. `| head`) closed the pipe: stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:
        if not _is_user_error(exc):
            raise
        print(f"neuroscape: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
