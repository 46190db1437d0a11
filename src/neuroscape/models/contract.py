"""The one model contract that every stage reads.

A model is its declaration (``spec``: parameters with units, defaults and bounds; outputs;
default run settings; an optional output domain) plus a batched run (``batch(**options)``, an
object of the engine's ``BatchModel`` protocol, whose row r draws its noise from the stream
(seed, r)). Sweeps, the database, surrogates, tuning and fitting take any such object, whether it
ships with neuroscape, comes from another package's entry point, or from the user's own file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from neuroscape.core.settings import BatchModel
from neuroscape.core.spec import ModelSpec


class ModelError(ValueError):
    """A model object or model reference that cannot be used."""


@dataclass(frozen=True)
class ModelSource:
    """Where a model's code lives, and its content hash: stored with every sweep and surrogate so
    a resumed sweep or a verification can tell whether the code has changed since."""

    file: str  # absolute path
    sha256: str
    name: str | None = None  # the object's name in the file, for FILE.py:NAME references

    @classmethod
    def of(cls, file: str | Path, name: str | None = None) -> ModelSource:
        path = Path(file).resolve()
        return cls(str(path), file_sha256(path), name)

    @property
    def ref(self) -> str:
        return f"{self.file}:{self.name}" if self.name else self.file

    def stamp(self, model: Model) -> Model:
        """``model`` marked as loaded from this source (its reference and its hash; the model
        objects are frozen, hence the setattr); returns it."""
        object.__setattr__(model, "_ref", self.ref)
        object.__setattr__(model, "_source", self)
        return model

    def changed(self) -> bool:
        """The file now differs from (or no longer is) what was hashed."""
        try:
            return file_sha256(self.file) != self.sha256
        except OSError:
            return True

    def as_dict(self) -> dict:
        return {"file": self.file, "sha256": self.sha256, "name": self.name}


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Model:
    """Base of every model object.

    Subclasses set ``spec`` and implement ``batch``; ``run_options`` names the keyword options
    their ``batch`` takes (the circuit: ``conn_seed``, ``connectivity``; single neurons:
    ``stimulus``). ``ref`` is how another process finds the model again: its registered name,
    or ``FILE.py:NAME`` for a model loaded from a file.
    """

    spec: ModelSpec
    run_options: tuple[str, ...] = ()
    kind: str = "model"
    # set by the registry when the model is loaded from a file or registered under a name
    _ref: str | None = None
    _source: ModelSource | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def ref(self) -> str:
        return self._ref or self.spec.name

    @property
    def source(self) -> ModelSource | None:
        """The file the model was loaded from (FILE.py:NAME), with its hash; None for models
        that ship with an installed package (their version identifies them)."""
        return self._source

    def batch(self, **options) -> BatchModel:
        """The runnable batch of this model under ``options`` (see ``run_options``)."""
        raise NotImplementedError(f"{type(self).__name__} does not define batch()")

    def describe(self) -> dict:
        """What a database or surrogate records about the model (declaration and identity)."""
        src = self.source
        return {
            "ref": self.ref,
            "kind": self.kind,
            "spec": self.spec.to_dict(),
            "source": None if src is None else src.as_dict(),
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.ref!r}>"
