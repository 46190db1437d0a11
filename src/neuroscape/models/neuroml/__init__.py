"""NeuroML2 cells imported as equation models, and LEMS simulations mapped onto neuron runs.

``load_cell("cells.nml:CELL_ID")`` gives the NeuronModel of a NeuroML2 cell, or the CellModel
of a multi-compartment ``<cell>`` (``multicomp``: sections, channels written as equations;
the registry resolves that reference wherever a model name is accepted), or with a network's
id the NetworkModel of that network (``network_map``; ``load_network`` for a LEMS file's
Simulation target);
``read_lems_simulation(FILE.xml)`` maps a LEMS ``<Simulation>`` of single cells
(``neuroscape simulate FILE.xml`` runs it).
See docs/neuroml.md for what is supported, refused, and what does not survive.
"""

from __future__ import annotations

from pathlib import Path

from neuroscape.models.neuroml.core_types import NeuroMLError
from neuroscape.models.neuroml.simulation import cell_fields, read_lems_simulation

__all__ = ["NeuroMLError", "cell_fields", "is_nml_ref", "load_cell", "load_network",
           "read_lems_simulation"]


def load_network(path: str, network_id: str | None = None):
    """The NetworkModel of a NeuroML2 network of integrate-and-fire cells: ``network_id`` of a
    NeuroML2 or LEMS file, or a LEMS file's Simulation target (its step and length)."""
    from neuroscape.models.neuroml.network_map import load_network as _load

    return _load(path, network_id)

_CELLS: dict = {}


def is_nml_ref(text: str) -> bool:
    """``text`` has the form ``path/to/file.nml:CELL_ID`` (or a LEMS ``file.xml:CELL_ID``)."""
    path, sep, name = text.rpartition(":")
    return bool(sep) and path.endswith((".nml", ".xml")) and bool(name)


def load_cell(ref: str):
    """The NeuronModel of cell ``CELL_ID`` in ``FILE.nml:CELL_ID`` (neuroscape's own defaults for
    the scheme and spike timing), or the CellModel of a multi-compartment ``<cell>``; the same
    unchanged file gives the same object."""
    from neuroscape.models.contract import ModelSource
    from neuroscape.models.equations import equation_model
    from neuroscape.models.equations.model import EquationError
    from neuroscape.models.neuroml.document import read_document

    path_text, _, cid = ref.rpartition(":")
    p = Path(path_text).expanduser()
    if not p.is_file():
        raise NeuroMLError(f"{path_text}: no such NeuroML file (from {ref!r})")
    source = ModelSource.of(p, cid)
    key = (source.file, source.sha256, cid)
    if key in _CELLS:
        return _CELLS[key]
    doc = read_document(p)
    el = doc.components.get(cid)
    if el is None:
        raise NeuroMLError(f"{path_text}: no element with id {cid!r}; ids: "
                           f"{', '.join(doc.components) or 'none'}")
    from neuroscape.models.neuroml.document import tag

    if tag(el) == "network":  # a network of integrate-and-fire cells on the network engine
        from neuroscape.models.neuroml.network_map import load_network

        return load_network(p, cid)
    from neuroscape.models.neuroml.multicomp import cell_description, is_multicompartment

    if is_multicompartment(el, doc):  # a CellModel (neuroscape.models.multicomp)
        from neuroscape.models.multicomp.model import cell_model

        model = cell_model(cell_description(el, doc))
    else:
        try:
            model = equation_model(**cell_fields(el, doc))
        except EquationError as exc:
            raise NeuroMLError(f"{path_text}: cell {cid}: {exc}") from None
    source.stamp(model)
    _CELLS[key] = model
    return model
