"""Short-term plasticity of NeuroML2 synapses: the ``plasticityMechanism`` children of a
``blockingPlasticSynapse`` (the only core synapse type with them; Synapses.xml), Tsodyks-Markram
depression (``tsodyksMarkramDepMechanism``; Tsodyks & Markram 1997, PNAS 94:719) and depression
with facilitation (``tsodyksMarkramDepFacMechanism``; Tsodyks, Pawelzik & Markram 1998, Neural
Comput. 10:821).

The mechanisms' Dynamics are read from Synapses.xml (StateVariables, DerivedVariables,
TimeDerivatives, OnStart, the OnEvent of port ``in``), not written here, and evaluated in SI as
jLEMS evaluates them, for the n instances (connections) of one synapse element at once.

jLEMS's order (StateInstance.advance, StateType.eulerAdvance): a synapse's children advance
before it, each evaluating its DerivedVariables (``plasticityFactor = R U``) from its states
before its Euler step, then taking that step; the synapse then evaluates its own
``plasticityFactor`` (the product of its children's exposed ones), so the factor an event uses
(``A += weight plasticityFactor waveformFactor``) is the one its synapse last evaluated: R U
before the Euler step of the step in which the synapse last advanced. The event then reaches the
mechanism (EventOut ``relay``), whose OnEvent acts on its present states (``R = R (1 - U)``...).
"""

from __future__ import annotations

import numpy as np

from neuroscape.models.neuroml.cells import lems_to_brian, names_in
from neuroscape.models.neuroml.core_types import _strip, type_info
from neuroscape.models.neuroml.document import attr_si, error, tag

MECHANISMS = ("tsodyksMarkramDepMechanism", "tsodyksMarkramDepFacMechanism")


def _code(el, text: str, known: set[str]):
    expr = lems_to_brian(text, {})
    unknown = names_in(expr) - known
    if unknown:  # pragma: no cover - the core definitions name only their own quantities
        raise error(el, f"cannot evaluate {text!r}: {', '.join(sorted(unknown))}")
    return compile(expr, "<Synapses.xml>", "eval")


class _Mechanism:
    """One plasticityMechanism element for n instances: its states (SI), derived values."""

    def __init__(self, el, n: int) -> None:
        kind = el.get("type")
        if kind not in MECHANISMS:
            raise error(el, f"plasticityMechanism type {kind!r}; allowed: {', '.join(MECHANISMS)}")
        info = type_info(kind)
        self.params = {}
        for p, dim in info.parameters.items():
            if el.get(p) is None:
                raise error(el, f"{kind} needs {p}")
            self.params[p] = attr_si(el, p, dim)
            if dim == "time" and not self.params[p] > 0:
                raise error(el, f"{p} {el.get(p)!r}; allowed: > 0")
        dyn = info.dynamics
        self.states: dict[str, np.ndarray] = {}
        derived, rates, start, event = [], [], [], []
        for d in dyn:
            t = _strip(d.tag)
            if t == "StateVariable":
                self.states[d.get("name")] = np.zeros(n)
            elif t == "DerivedVariable":
                derived.append((d.get("name"), d.get("value")))
            elif t == "TimeDerivative":
                rates.append((d.get("variable"), d.get("value")))
            elif t == "OnStart":
                start = [(a.get("variable"), a.get("value")) for a in d]
            elif t == "OnEvent" and d.get("port") == "in":
                event = [(a.get("variable"), a.get("value")) for a in d
                         if _strip(a.tag) == "StateAssignment"]
        known = set(self.params) | set(self.states) | {name for name, _ in derived}
        self.derived = [(nm, _code(el, v, known)) for nm, v in derived]
        self.rates = [(nm, _code(el, v, known)) for nm, v in rates]
        self.on_event = [(nm, _code(el, v, known)) for nm, v in event]
        self.values: dict[str, np.ndarray] = {}
        for nm, v in start:
            self.states[nm] = np.full(n, float(eval(_code(el, v, known), {}, self.params)))
        self._derive(self._ns())

    def _ns(self) -> dict:
        return {**self.params, **self.states, **self.values}

    @property
    def n(self) -> int:
        return len(next(iter(self.states.values())))

    def _derive(self, ns: dict) -> None:
        n = self.n
        for nm, code in self.derived:
            v = eval(code, {}, ns)
            ns[nm] = self.values[nm] = (v if isinstance(v, np.ndarray) and v.shape == (n,)
                                        else np.full(n, float(v)))

    def advance(self, dt_s: float) -> np.ndarray:
        """Evaluate the DerivedVariables from the present states, then an Euler step of each
        state (one after the other, as jLEMS's eulerAdvance); the exposed factor (n,)."""
        ns = self._ns()
        self._derive(ns)
        for nm, code in self.rates:
            ns[nm] = self.states[nm] = self.states[nm] + dt_s * eval(code, {}, ns)
        return self.values["plasticityFactor"]

    def event(self, idx: np.ndarray) -> None:
        """The OnEvent of instances ``idx``: the assignments in order, each reading the states
        as the previous ones left them."""
        for nm, code in self.on_event:
            ns = {**self.params, **{k: v[idx] for k, v in self.states.items()},
                  **{k: v[idx] for k, v in self.values.items()}}
            self.states[nm][idx] = eval(code, {}, ns)


class Plasticity:
    """The plasticity mechanisms of one synapse element over its n instances: ``factor`` is
    the synapse's plasticityFactor as last evaluated (the product of its mechanisms' exposed
    factors)."""

    def __init__(self, syn, n: int) -> None:
        self.mechs = [_Mechanism(c, n) for c in syn if tag(c) == "plasticityMechanism"]
        self.factor = np.ones(n)
        for m in self.mechs:
            self.factor = self.factor * m.values["plasticityFactor"]

    def advance(self, dt_s: float) -> None:
        f = np.ones_like(self.factor)
        for m in self.mechs:
            f = f * m.advance(dt_s)
        self.factor = f

    def event(self, idx) -> None:
        idx = np.atleast_1d(np.asarray(idx, dtype=np.int64))
        for m in self.mechs:
            m.event(idx)


def has_plasticity(syn) -> bool:
    return any(tag(c) == "plasticityMechanism" for c in syn)
