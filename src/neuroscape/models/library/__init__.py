"""Neuron models shipped as equation files (the YAML format of ``neuroscape.models.equations``).

Each file cites its paper in ``description``. ``model(name)`` loads one; the zero-argument
functions (``eif``, ``qif``, ...) are what the ``neuroscape.models`` entry points name.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent

# name -> shipped file (the name is the file's stem and its ``name`` key)
FILES: dict[str, Path] = {p.stem: p for p in sorted(_HERE.glob("*.yaml"))}
# the AdEx file of the equation compiler's own tests and docs
FILES["adex"] = _HERE.parent / "equations" / "models" / "adex.yaml"


class UnknownLibraryModelError(ValueError):
    """A name that is not one of the shipped equation files."""


def model(name: str):
    """The model of the shipped equation file ``name`` (a key of ``FILES``)."""
    if name not in FILES:
        raise UnknownLibraryModelError(
            f"no shipped equation model {name!r}; allowed: {', '.join(FILES)}"
        )
    # imported here: loading the equation compiler (sympy, pint) only when a model is asked for
    from neuroscape.models.equations import load_model_file

    return load_model_file(FILES[name])


def adex():
    """Adaptive exponential integrate-and-fire (Brette and Gerstner 2005)."""
    return model("adex")


def lif():
    """Leaky integrate-and-fire, current-based (Lapicque 1907; Fung's lecture parameters)."""
    return model("lif")


def cond_if():
    """Conductance-based integrate-and-fire of the circuit of Zhang, Young and Lai (2020)."""
    return model("cond_if")


def fhn():
    """FitzHugh-Nagumo relaxation oscillator (FitzHugh 1961; Nagumo et al. 1962)."""
    return model("fhn")


def izhikevich():
    """Izhikevich (2003) simple model with the presets of its Fig. 2."""
    return model("izhikevich")


def eif():
    """Exponential integrate-and-fire (Fourcaud-Trocme et al. 2003)."""
    return model("eif")


def qif():
    """Quadratic integrate-and-fire (Latham et al. 2000)."""
    return model("qif")


def izhikevich2007():
    """Izhikevich (2007) simple model in physical units, regular spiking."""
    return model("izhikevich2007")


def morris_lecar():
    """Morris-Lecar (1981), class II parameters of Rinzel and Ermentrout (1989)."""
    return model("morris_lecar")


def wang_buzsaki():
    """Wang-Buzsaki (1996) fast-spiking interneuron."""
    return model("wang_buzsaki")


def hindmarsh_rose():
    """Hindmarsh-Rose (1984) bursting neuron, dimensionless (one time unit = tau)."""
    return model("hindmarsh_rose")


def connor_stevens():
    """Connor-Stevens (1971) cell with an A-current, as in Dayan and Abbott (2001)."""
    return model("connor_stevens")


__all__ = [
    "FILES",
    "UnknownLibraryModelError",
    "cond_if",
    "connor_stevens",
    "eif",
    "fhn",
    "hindmarsh_rose",
    "izhikevich",
    "izhikevich2007",
    "lif",
    "model",
    "morris_lecar",
    "qif",
    "wang_buzsaki",
]
