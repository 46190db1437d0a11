"""Pavlovian conditioning by STDP (the shipped network ``pavlov``): the same as
``neuroscape example pavlov --out DIR``; see ``neuroscape.analysis.pavlov``.

    python examples/pavlov/pavlov.py --out out/pavlov
"""

from __future__ import annotations

import argparse
import json
import sys

from neuroscape.cli.example_cmds import run_pavlov as run

__all__ = ["run"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, metavar="DIR", help="folder for the figure and tables")
    ap.add_argument("--offset-ms", type=float, default=7.0,
                    help="food arrival after the bell's, ms (its reverse is run too; default 7)")
    args = ap.parse_args(argv)
    try:
        summary = run(args.out, args.offset_ms)
    except ValueError as exc:
        if not type(exc).__module__.startswith("neuroscape"):
            raise
        print(f"pavlov: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
