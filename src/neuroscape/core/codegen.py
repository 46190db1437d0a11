"""Generated kernel modules, written to a cache folder so numba can cache their machine code.

numba caches compiled functions only for functions defined in real source files, and keys the
cache on that file. Kernels whose pieces are generated (an integrator's stage code) are therefore
written out as a module, named by a hash of their text *and* of the source files they import, so
a change anywhere gives a new module and a stale cache can never be picked up.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import numba


def cache_dir() -> Path:
    """$NEUROSCAPE_CACHE_DIR, else $XDG_CACHE_HOME/neuroscape/kernels, else ~/.cache/...; a temp
    folder when none is writable."""
    env = os.environ.get("NEUROSCAPE_CACHE_DIR")
    base = (
        Path(env)
        if env
        else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "neuroscape"
        / "kernels"
    )
    try:
        base.mkdir(parents=True, exist_ok=True)
        probe = base / ".write-test"
        probe.touch()
        probe.unlink()
        return base
    except OSError:
        fallback = Path(tempfile.gettempdir()) / "neuroscape-kernels"
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


_LOADED: dict[str, ModuleType] = {}


def load_generated(stem: str, source: str, depends_on: list[str | Path]) -> ModuleType:
    """Import ``source`` as a module from the cache folder (written once, atomically)."""
    h = hashlib.sha256(source.encode())
    h.update(numba.__version__.encode())
    for dep in depends_on:
        h.update(Path(dep).read_bytes())
    name = f"_neuroscape_gen_{stem}_{h.hexdigest()[:16]}"
    if name in _LOADED:
        return _LOADED[name]
    folder = cache_dir()
    path = folder / f"{name}.py"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".py", dir=folder)
        with os.fdopen(fd, "w") as fh:
            fh.write(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _LOADED[name] = module
    return module
