"""Reading NeuroML2 (.nml) and LEMS (.xml) files: the top-level elements by id, with the file
and line of each (for one-line errors), includes followed, .nml files checked against the
NeuroML schema that libNeuroML ships."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from neuroscape.models.neuroml.core_types import NeuroMLError, core_files, quantity_si

# elements of a LEMS file that are not model components
LEMS_ONLY = ("Target", "Include", "include", "Dimension", "Unit", "Constant", "Simulation",
             "ComponentType", "Assertion", "notes", "annotation", "property")  # fmt: skip


def tag(el) -> str:
    t = el.tag
    return t.rsplit("}", 1)[-1] if isinstance(t, str) else ""


def where(el) -> str:
    """'FILE:LINE' of an element."""
    return f"{el.getroottree().docinfo.URL or '?'}:{el.sourceline}"


def describe(el) -> str:
    """'<tag id="x">' of an element, for messages."""
    i = el.get("id")
    return f"<{tag(el)}{f' id={i!r}' if i else ''}>"


def error(el, msg: str) -> NeuroMLError:
    return NeuroMLError(f"{where(el)}: {describe(el)}: {' '.join(msg.split())}")


def attr_si(el, attr: str, dimension: str) -> float:
    """Attribute ``attr`` of ``el`` as an SI value of ``dimension`` (one line naming the element
    for a missing value, an unreadable one or another dimension)."""
    raw = el.get(attr)
    if raw is None:
        raise error(el, f"missing attribute {attr!r} (a {dimension} quantity)")
    try:
        si, dim = quantity_si(raw)
    except (TypeError, ValueError) as exc:
        raise error(el, f"{attr}={raw!r}: {exc}; allowed: a {dimension} quantity") from None
    if dim != dimension:
        raise error(el, f"{attr}={raw!r} is a {dim} quantity; allowed: a {dimension} quantity")
    return si


@dataclass
class Document:
    """Every top-level element of a file and its includes: ``components`` id -> element,
    ``custom_types`` (ComponentTypes the files define themselves), ``simulations``,
    ``targets`` (LEMS <Target component=...>), ``files`` (each file read)."""

    path: str
    components: dict = field(default_factory=dict)
    custom_types: dict = field(default_factory=dict)
    simulations: dict = field(default_factory=dict)
    targets: list = field(default_factory=list)
    files: list = field(default_factory=list)

    def component(self, cid: str, el_from) -> object:
        if cid not in self.components:
            raise error(el_from, f"refers to {cid!r}, which no element of {self.path} (or its "
                        "includes) defines")
        return self.components[cid]


@functools.cache
def _schema():
    from importlib.resources import files

    from lxml import etree

    xsd = files("neuroml") / "nml" / "NeuroML_v2.3.1.xsd"
    return etree.XMLSchema(etree.parse(str(xsd)))


def _parse(path: Path):
    from lxml import etree

    try:
        return etree.parse(str(path), etree.XMLParser(remove_comments=True))
    except OSError as exc:
        raise NeuroMLError(f"{path}: cannot read: {exc}") from None
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno is not None else "?"
        raise NeuroMLError(f"{path}:{line}: not well-formed XML: {exc.msg}") from None


def validate_nml(path: Path, tree) -> None:
    """Refuse a .nml file that the NeuroML 2.3 schema (libNeuroML's copy) does not accept: the
    first error, with its line."""
    schema = _schema()
    if not schema.validate(tree):
        e = schema.error_log[0]
        msg = e.message.replace("{http://www.neuroml.org/schema/neuroml2}", "")
        raise NeuroMLError(f"{path}:{e.line}: does not validate against the NeuroML 2 schema: "
                           f"{' '.join(msg.split())}")


def read_document(path: str | Path) -> Document:
    """The elements of a NeuroML2 (.nml) or LEMS (.xml) file and of the files it includes."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise NeuroMLError(f"{path}: no such NeuroML/LEMS file")
    doc = Document(str(p))
    _read_into(doc, p.resolve(), set())
    return doc


def _read_into(doc: Document, p: Path, seen: set) -> None:
    if p in seen:
        return
    seen.add(p)
    doc.files.append(str(p))
    tree = _parse(p)
    root = tree.getroot()
    rt = tag(root)
    if rt == "neuroml":
        validate_nml(p, tree)
    elif rt != "Lems":
        raise NeuroMLError(f"{p}:{root.sourceline}: root element <{rt}>; allowed: <neuroml> "
                           "(a NeuroML2 file) or <Lems> (a LEMS file)")
    for el in root:
        t = tag(el)
        if not t:
            continue
        if t in ("Include", "include"):
            ref = el.get("file") or el.get("href")
            if not ref:
                raise error(el, "names no file (attribute file= or href=)")
            target = (p.parent / ref)
            if target.is_file():
                _read_into(doc, target.resolve(), seen)
            elif Path(ref).name in core_files() and not (p.parent / ref).exists():
                continue  # a NeuroML2 core definition file: read from jNeuroML's copy
            else:
                raise NeuroMLError(f"{where(el)}: <{t} {'file' if el.get('file') else 'href'}="
                                   f"{ref!r}>: missing include: no such file {target}")
        elif t == "ComponentType":
            doc.custom_types[el.get("name")] = el
        elif t == "Simulation":
            doc.simulations[el.get("id")] = el
        elif t == "Target":
            doc.targets.append(el)
        elif t in LEMS_ONLY:
            continue
        elif el.get("id") is not None:
            if el.get("id") in doc.components:
                raise error(el, f"id {el.get('id')!r} is defined twice (also at "
                            f"{where(doc.components[el.get('id')])})")
            doc.components[el.get("id")] = el
