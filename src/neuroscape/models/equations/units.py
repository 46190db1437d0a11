"""Units of equation files: the names a file may use, their dimensions and exact SI factors.

Why pint: it is the maintained unit library with the widest use in scientific Python, it knows
every SI unit and prefix, and its dimensionality objects multiply, divide and take powers, which
is all the dimension check needs. Names are restricted to a whitelist (Brian2's unit names with
SI prefixes, plus the scaled forms Brian2 refuses: mV, pA, nS, uA/cm**2, 1/ms), so a typo in a
symbol is reported as unknown instead of being read as one of pint's thousands of units (``a``
is a year, ``b`` a barn). Factors are kept as exact sympy Rationals (SI prefixes are powers of
ten), so scaling the equations to the declared units adds no rounding of its own.

Two spellings beyond Brian2's: ``^`` is a power in unit strings (``mS/cm^2``, as NEURON and most
papers write it; Python's ``**`` works too), and ``degC`` is a temperature in degrees Celsius
taken as a plain number, as NEURON's ``celsius``: rate equations use it as one
(``3**((celsius - 6.3)/10)``, a Q10 factor). It cannot be a temperature dimension: degrees
Celsius are an offset scale (0 degC is 273.15 K), which no unit factor expresses, and Q10
formulas subtract degrees from degrees; so it is dimensionless with factor 1, and mixing it with
kelvin is refused as a dimension mismatch instead of being converted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import pint
import sympy


def _registry() -> pint.UnitRegistry:
    """pint's registry, its parsed definitions cached on disk by pint itself (parsing them takes
    ~0.15 s of every process that loads a model file). pint writes its cache without a lock, so a
    cache another process is still writing falls back to parsing."""
    from neuroscape.core.codegen import cache_dir

    try:
        return pint.UnitRegistry(cache_folder=cache_dir() / "pint")
    except Exception:  # an unreadable or half-written cache: parse the definitions instead
        return pint.UnitRegistry()


_UREG = _registry()

# base names -> pint names (Brian2 spells both the symbol and the full name)
_BASES = {
    "V": "volt", "volt": "volt",
    "A": "ampere", "amp": "ampere", "ampere": "ampere",
    "S": "siemens", "siemens": "siemens",
    "F": "farad", "farad": "farad",
    "ohm": "ohm", "Ohm": "ohm",
    "s": "second", "second": "second",
    "m": "meter", "metre": "meter", "meter": "meter",
    "Hz": "hertz", "hertz": "hertz",
    "C": "coulomb", "coulomb": "coulomb",
    "J": "joule", "joule": "joule",
    "W": "watt", "watt": "watt",
    "mol": "mole", "mole": "mole",
    "M": "molar", "molar": "molar",
    "l": "liter", "L": "liter", "liter": "liter", "litre": "liter",
    "g": "gram", "gram": "gram", "gramme": "gram",
    "K": "kelvin", "kelvin": "kelvin",
}  # fmt: skip
_PREFIXES = {
    "f": "femto", "p": "pico", "n": "nano", "u": "micro", "m": "milli", "c": "centi",
    "d": "deci", "k": "kilo", "M": "mega", "G": "giga",
}  # fmt: skip


# names of plain numbers with a meaning (not pint units): dimensionless, factor 1
_PLAIN = {"degC": "degrees Celsius, a plain number (NEURON's celsius)"}


@lru_cache(maxsize=1)
def unit_names() -> dict[str, str]:
    """Every unit name a file may use -> its pint spelling (a description for ``_PLAIN``)."""
    out = dict(_PLAIN)
    out.update(_BASES)
    for p, pint_p in _PREFIXES.items():
        for b, pint_b in _BASES.items():
            out.setdefault(p + b, pint_p + pint_b)
    # 'ms' must be a millisecond, not a 'm' prefix on 's' read otherwise; 'Ms' would be mega-s
    out["ms"] = "millisecond"
    return out


@dataclass(frozen=True)
class Dim:
    """A dimension (pint UnitsContainer) with the exact factor of a unit of it to SI."""

    dims: object  # pint UnitsContainer
    factor: sympy.Rational  # SI value of one of this unit

    def __mul__(self, other: Dim) -> Dim:
        return Dim(self.dims * other.dims, self.factor * other.factor)

    def __truediv__(self, other: Dim) -> Dim:
        return Dim(self.dims / other.dims, self.factor / other.factor)

    def __pow__(self, k) -> Dim:
        return Dim(self.dims**k, self.factor ** sympy.nsimplify(k))

    @property
    def dimensionless(self) -> bool:
        return not self.dims

    def same(self, other: Dim) -> bool:
        return self.dims == other.dims

    def describe(self) -> str:
        return describe_dims(self.dims)


ONE = Dim(_UREG.Quantity(1, "").dimensionality, sympy.Integer(1))


@cache
def unit_dim(name: str) -> Dim:
    """Dimension and exact SI factor of one whitelisted unit name."""
    if name in _PLAIN:
        return ONE
    q = _UREG.Quantity(1, unit_names()[name]).to_base_units()
    return Dim(q.dimensionality, sympy.Rational(f"{q.magnitude:.12g}"))


_NAMED = ("volt", "ampere", "siemens", "farad", "ohm", "second", "hertz", "coulomb", "volt/second",
          "ampere/second", "ampere/meter**2", "siemens/meter**2", "farad/meter**2", "meter",
          "mole/meter**3", "kelvin", "joule", "watt")  # fmt: skip


def describe_dims(dims) -> str:
    """A readable name of a dimension: an SI unit when one fits, else its base dimensions."""
    if not dims:
        return "1 (dimensionless)"
    for u in _NAMED:
        if _UREG.Quantity(1, u).dimensionality == dims:
            return u.replace("ampere", "amp")
    return str(dims)
