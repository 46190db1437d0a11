"""Reading parameter tables and writing results (CSV), with errors that name the bad cell."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import numpy as np

from neuroscape.models.base import ModelSpec, ParameterError


class InputFileError(ValueError):
    """A parameter file that cannot be read as the model's parameter table."""


def read_params_csv(path: str | Path, spec: ModelSpec) -> np.ndarray:
    """(B, n_params) array from a CSV whose header holds the model's parameter names."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"parameter file {str(path)!r} does not exist")
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
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
    missing = [n for n in spec.parameter_names if n not in header]
    if missing:
        raise InputFileError(f"{path}: missing column(s) {', '.join(missing)}")
    if len(rows) == 1:
        raise InputFileError(f"{path}: no data rows")
    order = [header.index(n) for n in spec.parameter_names]
    out = np.empty((len(rows) - 1, len(order)))
    for r, row in enumerate(rows[1:]):
        line = r + 2
        if len(row) != len(header):
            raise InputFileError(f"{path}, line {line}: {len(row)} cells, expected {len(header)}")
        for j, col in enumerate(order):
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


def write_csv_atomic(path: str | Path, header: list[str], rows: np.ndarray | list) -> Path:
    """Write a CSV through a temporary file and a rename: readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for row in rows:
                w.writerow(
                    [repr(float(x)) if isinstance(x, float | np.floating) else x for x in row]
                )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
