"""Reading parameter tables and writing results (CSV), with errors that name the bad cell.

Every output is written beside its final name and renamed into place, so a reader (or a Ctrl-C)
never sees a partial file; it gets the mode the user's umask gives new files (e.g. 0644), not the
0600 of ``tempfile.mkstemp``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from neuroscape.core.spec import ModelSpec, ParameterError


class InputFileError(ValueError):
    """A parameter file that cannot be read as the model's parameter table."""


def read_params_csv(
    path: str | Path,
    spec: ModelSpec,
    fill: dict[str, float] | None = None,
    filled: list[str] | None = None,
) -> np.ndarray:
    """(B, n_params) array from a CSV whose header holds the model's parameter names; a
    column missing from the file takes its value from ``fill`` where it has one (and its name
    is appended to ``filled`` when that list is given)."""
    path = Path(path)
    if path.is_dir():
        raise InputFileError(f"parameter file {str(path)!r} is a folder; expected a CSV file")
    if not path.is_file():
        raise InputFileError(f"parameter file {str(path)!r} does not exist")
    try:
        # utf-8-sig: spreadsheet programs (Excel) start their CSV files with a byte-order mark
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{path}: not a UTF-8 text file (byte {exc.start}); expected a CSV table"
        ) from None
    except csv.Error as exc:
        raise InputFileError(f"{path}: not a readable CSV table ({exc})") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise InputFileError(
            f"{path}: empty file; expected a header: {','.join(spec.parameter_names)}"
        )
    header = [h.strip() for h in rows[0]]
    for h in header:
        if h not in spec.parameter_names:
            raise ParameterError(
                f"{path}: unknown column {h!r}; allowed: {', '.join(spec.parameter_names)}"
            )
    dup = next((h for i, h in enumerate(header) if h in header[:i]), None)
    if dup is not None:
        raise InputFileError(f"{path}: column {dup!r} appears twice; allowed: once")
    fill = {k: v for k, v in (fill or {}).items() if k not in header}
    missing = [n for n in spec.parameter_names if n not in header and n not in fill]
    if missing:
        raise InputFileError(f"{path}: missing column(s) {', '.join(missing)}")
    if len(rows) == 1:
        raise InputFileError(f"{path}: no data rows")
    order = [header.index(n) if n in header else None for n in spec.parameter_names]
    out = np.empty((len(rows) - 1, len(order)))
    for j, n in enumerate(spec.parameter_names):
        if order[j] is None:
            out[:, j] = fill[n]
            if filled is not None:
                filled.append(n)
    for r, row in enumerate(rows[1:]):
        line = r + 2
        if len(row) != len(header):
            raise InputFileError(f"{path}, line {line}: {len(row)} cells, expected {len(header)}")
        for j, col in enumerate(order):
            if col is None:
                continue
            cell = row[col].strip()
            name = spec.parameter_names[j]
            if cell == "":
                raise InputFileError(
                    f"{path}, line {line}: missing value for {name}; a number is required"
                )
            try:
                out[r, j] = float(cell)
            except ValueError:
                raise InputFileError(
                    f"{path}, line {line}: {name}={cell!r} is not a number"
                ) from None
    return out


def _temp_sibling(path: Path, kind: str = "tmp") -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.{kind}")


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """A temporary name beside ``path`` to write to; renamed to ``path`` when the block ends
    without an error, removed otherwise. Whatever writes it creates the file, so the umask
    applies."""
    path = Path(path)
    tmp = _temp_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(path: str | Path, replaceable: tuple[str, ...] = ()) -> Iterator[Path]:
    """A temporary folder beside ``path`` to fill; it becomes ``path`` when the block ends
    without an error (and is removed otherwise). An existing ``path`` is replaced only when it
    is empty or holds nothing but files named in ``replaceable`` (an earlier result of the same
    kind); the old one is removed only after the new one is in place."""
    path = Path(path)
    check_replaceable_folder(path, replaceable)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(path)
    os.mkdir(tmp)  # mode 0777 less the umask (mkdtemp would give 0700)
    old = None
    try:
        yield tmp
        if path.exists() and any(path.iterdir()):
            old = _temp_sibling(path, "old")
            os.rename(path, old)
        os.replace(tmp, path)  # onto a missing or empty folder
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not path.exists():
            os.rename(old, path)  # interrupted between the two renames: put the old one back
            old = None
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def check_replaceable_folder(path: str | Path, replaceable: tuple[str, ...]) -> None:
    """Refuse (InputFileError) an output folder that is a file, or an existing folder holding
    files other than ``replaceable`` ones: writing there would mix or delete other results."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputFileError(f"output {str(path)!r} is a file; expected a folder")
    if path.is_dir():
        other = sorted(p.name for p in path.iterdir() if p.name not in replaceable)
        if other:
            raise InputFileError(
                f"output folder {str(path)!r} holds other files ({', '.join(other[:3])}"
                f"{', ...' if len(other) > 3 else ''}); allowed: a new or empty folder"
                + (f", or one holding only {', '.join(replaceable)}" if replaceable else "")
            )


def write_csv_atomic(path: str | Path, header: list[str], rows: np.ndarray | list) -> Path:
    """Write a CSV through a temporary file and a rename: readers never see a partial file.
    Floats are written with every digit (``repr``), None as an empty cell."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp, open(tmp, "x", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in rows:
            w.writerow([repr(float(x)) if isinstance(x, float | np.floating) else x for x in row])
    return path


def to_strict_json(obj):
    """A copy of ``obj`` that ``json.dumps(allow_nan=False)`` accepts (RFC 8259): NaN and
    +-inf become null, numpy scalars and arrays Python numbers and lists, paths strings."""
    if isinstance(obj, Mapping):
        return {str(k): to_strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_strict_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_strict_json(obj.tolist())
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def dumps_strict(obj, indent: int | None = 2) -> str:
    """Strict JSON text of ``obj`` (see ``to_strict_json``)."""
    return json.dumps(to_strict_json(obj), indent=indent, allow_nan=False)
