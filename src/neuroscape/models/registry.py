"""The one model registry: names -> model objects.

Models come from three places, looked up in this order:
1. ``register(model)`` in the running process;
2. Python entry points of the group ``neuroscape.models`` (neuroscape's own models are declared
   there in its ``pyproject.toml``, so another package ships models exactly the same way:
   ``[project.entry-points."neuroscape.models"] my_cell = "my_pkg.cells:MODEL"``);
3. a reference ``path/to/file.py:NAME`` to an object in a Python file;
4. an equation file ``path/to/model.yaml`` (``neuroscape.models.equations``);
5. a NeuroML2 cell ``path/to/cells.nml:CELL_ID`` (``neuroscape.models.neuroml``), or a NeuroML2
   network of integrate-and-fire cells ``path/to/net.nml:NETWORK_ID`` or ``LEMS_FILE.xml`` (the
   network its Simulation runs; ``neuroscape.models.neuroml.network_map``);
6. a multi-compartment cell ``path/to/cell.yaml`` with ``sections`` or a ``morphology``
   (``neuroscape.models.multicomp``).

An entry point or ``NAME`` may name a model object or a function of no arguments returning one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path

from neuroscape.models.contract import Model, ModelError, ModelSource

ENTRY_POINT_GROUP = "neuroscape.models"

_registered: dict[str, Model] = {}
_loaded: dict[str, Model] = {}  # entry points already imported
_entry_points: dict | None = None


class UnknownModelError(ModelError):
    """A model name that no registry entry, entry point or file provides."""


def _eps() -> dict:
    global _entry_points
    if _entry_points is None:
        _entry_points = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return _entry_points


def available() -> list[str]:
    """Every model name this process can resolve (registered first, then entry points)."""
    return list(dict.fromkeys([*_registered, *_eps()]))


def register(model: Model, *, replace: bool = False) -> Model:
    """Make ``model`` resolvable by its name in this process (and return it)."""
    if not isinstance(model, Model):
        raise ModelError(f"{model!r} is not a neuroscape model (a neuroscape.Model object)")
    name = model.name
    if not replace and (name in _registered or name in _eps()):
        raise ModelError(f"a model named {name!r} is registered already; pass replace=True")
    _registered[name] = model
    return model


def unregister(name: str) -> None:
    _registered.pop(name, None)


def is_file_ref(text: str) -> bool:
    """``text`` has the form ``path/to/file.py:NAME``."""
    path, sep, name = text.rpartition(":")
    return bool(sep) and path.endswith(".py") and bool(name)


def _as_model(obj, where: str) -> Model:
    if not isinstance(obj, Model) and callable(obj) and not isinstance(obj, type):
        try:
            obj = obj()
        except TypeError as exc:
            raise ModelError(f"{where} is a function, but calling it failed: {exc}") from None
    if not isinstance(obj, Model):
        raise ModelError(
            f"{where} is a {type(obj).__name__}, not a neuroscape model (e.g. a "
            "neuroscape.FunctionModel)"
        )
    return obj


def load_file(ref: str) -> Model:
    """The model ``NAME`` of the Python file in ``path/to/file.py:NAME`` (imported afresh)."""
    path_text, _, name = ref.rpartition(":")
    path = Path(path_text).expanduser()
    if not is_file_ref(ref):
        raise ModelError(f"model reference {ref!r}; allowed: path/to/file.py:NAME")
    if not path.is_file():
        raise ModelError(f"model file {str(path)!r} does not exist (from {ref!r})")
    source = ModelSource.of(path, name)
    # a module name unique to this file and content, so two files of the same name (or two
    # versions of one file) never share a module; registered in sys.modules so that dataclasses
    # and pickling by reference work inside this process
    digest = hashlib.sha256(source.file.encode()).hexdigest()[:12]
    mod_name = f"neuroscape_user_{path.stem}_{digest}_{source.sha256[:12]}"
    module = sys.modules.get(mod_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise ModelError(f"cannot import {str(path)!r} as Python")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        # as Python does for a script: the file's folder first on the path, so that the model
        # file imports the modules beside it (now, or later inside its function)
        folder = str(Path(source.file).parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[mod_name]
            raise ModelError(
                f"importing {str(path)!r} failed: {type(exc).__name__}: {exc}"
            ) from None
    if not hasattr(module, name):
        found = [k for k, v in vars(module).items() if isinstance(v, Model)]
        raise ModelError(
            f"{str(path)!r} has no {name!r}; models in it: {', '.join(found) or 'none'}"
        )
    model = _as_model(getattr(module, name), f"{name!r} in {str(path)!r}")
    source.stamp(model)
    return model


def resolve(model: Model | str) -> Model:
    """A model object from a model object, a registered or entry-point name, or
    ``path/to/file.py:NAME``."""
    if isinstance(model, Model):
        return model
    if not isinstance(model, str):
        raise ModelError(f"model={model!r}; allowed: a model object, a name or FILE.py:NAME")
    if model in _registered:
        return _registered[model]
    if model in _loaded:
        return _loaded[model]
    eps = _eps()
    if model in eps:
        m = _as_model(eps[model].load(), f"entry point {model!r} ({eps[model].value})")
        if m.name != model:
            raise ModelError(f"entry point {model!r} gives a model named {m.name!r}")
        if m.ref != model:
            # a shipped file (an equation model) is found again by its name, as any entry point,
            # not by its path inside the installed package; its package version pins it
            import copy

            m = copy.copy(m)
            object.__setattr__(m, "_ref", model)
            object.__setattr__(m, "_source", None)
        _loaded[model] = m
        return m
    if is_file_ref(model):
        return load_file(model)
    if _is_nml_ref(model):  # a NeuroML2 cell: FILE.nml:CELL_ID (neuroscape.models.neuroml)
        from neuroscape.models.neuroml import load_cell

        return load_cell(model)
    if model.endswith(".xml"):  # a LEMS file: the network its Simulation runs, on the engine
        from neuroscape.models.neuroml import load_network

        return load_network(model)
    if model.endswith(".json"):  # a SONATA circuit (or simulation) config of point neurons
        from neuroscape.models.network.sonata import load_sonata

        return load_sonata(model)
    if model.endswith((".yaml", ".yml")):
        # a network description (it has populations) or a neuron's equation file
        if _is_network_file(model):
            if _is_cell_network_file(model):  # populations of multi-compartment cells
                from neuroscape.models.multicomp.network import load_cell_network_model

                return load_cell_network_model(model)
            from neuroscape.models.network import load_network_file

            return load_network_file(model)
        if _is_cell_file(model):  # a multi-compartment cell (sections or an SWC morphology)
            from neuroscape.models.multicomp.model import load_cell_model

            return load_cell_model(model)
        from neuroscape.models.equations import load_model_file

        return load_model_file(model)
    hint = ("; or path/to/file.py:NAME, an equation file MODEL.yaml, a network NET.yaml, a "
            "NeuroML2 cell CELLS.nml:CELL_ID, a NeuroML2 network NET.nml:NETWORK_ID or LEMS.xml, "
            "or a SONATA circuit_config.json")
    raise UnknownModelError(f"unknown model {model!r}; allowed: {', '.join(available())}{hint}")


def _is_nml_ref(text: str) -> bool:
    """``text`` has the form ``path/to/cells.nml:CELL_ID`` (or a LEMS ``file.xml:CELL_ID``)."""
    path, sep, name = text.rpartition(":")
    return bool(sep) and path.endswith((".nml", ".xml")) and bool(name)


def _is_cell_file(path: str) -> bool:
    """Whether a YAML file holds a multi-compartment cell (``sections`` or ``morphology``)."""
    import re

    try:
        text = Path(path).expanduser().read_text()
    except (OSError, UnicodeDecodeError):
        return False
    return re.search(r"^(sections|morphology)\s*:", text, flags=re.M) is not None


def _is_network_file(path: str) -> bool:
    """Whether a YAML file holds a network description (a top-level ``populations`` key)."""
    import re
    from pathlib import Path

    try:
        text = Path(path).expanduser().read_text()
    except (OSError, UnicodeDecodeError):
        return False
    return re.search(r"^populations\s*:", text, flags=re.M) is not None


def _is_cell_network_file(path: str) -> bool:
    """Whether a network file's populations are multi-compartment cells."""
    from pathlib import Path

    import yaml

    from neuroscape.models.multicomp.network import is_cell_network

    try:
        data = yaml.safe_load(Path(path).expanduser().read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False  # the network loader reports what is wrong with the file
    return is_cell_network(data, Path(path).expanduser().parent)
