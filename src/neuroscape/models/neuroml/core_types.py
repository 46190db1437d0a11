"""The NeuroML2 core ComponentType definitions and units, read from the files jNeuroML ships.

The definitions (``NeuroML2CoreTypes/*.xml``: Cells.xml, Channels.xml, Inputs.xml,
NeuroMLCoreDimensions.xml...) are read from the jNeuroML jar that pyNeuroML bundles, without
Java: they are the reference the import translates (Cannon et al. 2014, LEMS: a language for
expressing complex biological models in concise and hierarchical form, Front. Neuroinform. 8:79;
Gleeson et al. 2010, NeuroML, PLoS Comput. Biol. 6:e1000815).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import re
import zipfile
from dataclasses import dataclass

from neuroscape.models.contract import ModelError


class NeuroMLError(ModelError):
    """A NeuroML or LEMS file neuroscape cannot import (one line: the file, the line, the
    element and what is allowed)."""


@dataclass(frozen=True)
class Unit:
    symbol: str
    dimension: str
    power: int
    scale: float
    offset: float

    def to_si(self, value: float) -> float:
        return value * self.scale * 10.0**self.power + self.offset


@contextlib.contextmanager
def root_logger_kept():
    """Import pyNeuroML inside this: its import calls ``logging.basicConfig(level=INFO)`` on the
    root logger, after which every INFO record of every library (neuroscape's own model notes
    among them) reached the user's terminal. The root logger's level and handlers are put back."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


def _jar_path() -> str:
    try:
        with root_logger_kept():
            from pyneuroml.utils.misc import get_path_to_jnml_jar
    except ImportError:
        raise NeuroMLError("reading NeuroML needs pyNeuroML (pip install 'neuroscape[neuroml]')"
                           ) from None
    return get_path_to_jnml_jar()


@functools.cache
def core_files() -> dict[str, bytes]:
    """File name (``Cells.xml``) -> content of every NeuroML2 core definition file."""
    out = {}
    with zipfile.ZipFile(_jar_path()) as jar:
        for name in jar.namelist():
            if name.startswith("NeuroML2CoreTypes/") and name.endswith(".xml"):
                out[name.rsplit("/", 1)[1]] = jar.read(name)
    return out


def _strip(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


@functools.cache
def component_types() -> dict:
    """ComponentType name -> its lxml element (every core file)."""
    from lxml import etree

    out = {}
    for data in core_files().values():
        root = etree.fromstring(data)
        for el in root.iter():
            if _strip(el.tag) == "ComponentType":
                out[el.get("name")] = el
    return out


@functools.cache
def units() -> dict[str, Unit]:
    """NeuroML unit symbol -> Unit (NeuroMLCoreDimensions.xml)."""
    from lxml import etree

    root = etree.fromstring(core_files()["NeuroMLCoreDimensions.xml"])
    out = {}
    for el in root.iter():
        if _strip(el.tag) == "Unit":
            out[el.get("symbol")] = Unit(el.get("symbol"), el.get("dimension"),
                                         int(el.get("power", "0")), float(el.get("scale", "1")),
                                         float(el.get("offset", "0")))  # fmt: skip
    return out


_QUANTITY = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z_][\w]*)?\s*$")


def quantity_si(text: str) -> tuple[float, str]:
    """A NeuroML quantity ('-65mV', '0.08 nA', '1per_ms', '3') -> (value in SI, dimension name;
    'none' for a bare number). ValueError (one line) for anything else."""
    m = _QUANTITY.fullmatch(str(text))
    if m is None:
        raise ValueError(f"{text!r} is not a NeuroML quantity like '-65mV' or '0.1 nS'")
    value = float(m.group(1))
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    if m.group(2) is None:
        return value, "none"
    u = units().get(m.group(2))
    if u is None:
        raise ValueError(f"unknown NeuroML unit {m.group(2)!r} in {text!r}")
    return u.to_si(value), u.dimension


@dataclass(frozen=True)
class TypeInfo:
    """A ComponentType with its ``extends`` chain resolved: parameters (name -> dimension),
    constants (name -> (SI value, dimension)), the nearest Dynamics element, and the names of
    its Attachments (name -> type)."""

    name: str
    chain: tuple[str, ...]
    parameters: dict
    constants: dict
    dynamics: object
    attachments: dict
    children: dict


def type_info(name: str) -> TypeInfo:
    types = component_types()
    chain = []
    t = name
    while t is not None:
        if t not in types:
            raise NeuroMLError(f"ComponentType {t!r} is not a NeuroML2 core type")
        chain.append(t)
        t = types[t].get("extends")
    params: dict = {}
    consts: dict = {}
    attach: dict = {}
    children: dict = {}
    dyn = None
    for t in reversed(chain):  # the base first; a derived type overrides
        for el in types[t]:
            tag = _strip(el.tag)
            if tag == "Parameter":
                params[el.get("name")] = el.get("dimension")
            elif tag == "Constant":
                consts[el.get("name")] = quantity_si(el.get("value"))
            elif tag == "Attachments":
                attach[el.get("name")] = el.get("type")
            elif tag in ("Child", "Children"):
                children[el.get("name")] = el.get("type")
            elif tag == "Dynamics":
                dyn = el
    return TypeInfo(name, tuple(chain), params, consts, dyn, attach, children)


def extends(name: str, base: str) -> bool:
    """Whether core type ``name`` is ``base`` or extends it."""
    try:
        return base in type_info(name).chain
    except NeuroMLError:
        return False
