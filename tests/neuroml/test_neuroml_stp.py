"""Tsodyks-Markram short-term plasticity as `simulate LEMS.xml` steps it (plasticity.py: the
Dynamics read from NeuroML2's Synapses.xml), against the closed forms of its steady state at a
regular presynaptic rate, and the refusals of what has no mapping (one line naming the element,
the file and the line; exit status 2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("pyneuroml")

from lxml import etree  # noqa: E402

from neuroscape.cli.main import main  # noqa: E402
from neuroscape.models.neuroml.plasticity import Plasticity  # noqa: E402


def _mechanism(xml: str) -> Plasticity:
    syn = etree.fromstring('<blockingPlasticSynapse id="s" gbase="1nS" erev="0mV" '
                           f'tauRise="1ms" tauDecay="2ms">{xml}</blockingPlasticSynapse>')
    return Plasticity(syn, 1)


def _drive(p: Plasticity, dt_s: float, every: int, n_events: int) -> list[float]:
    """The factor each event uses, events every ``every`` steps after the synapse's step (as
    from a cell later in jLEMS's order)."""
    out = []
    for k in range(1, every * n_events + 1):
        p.advance(dt_s)
        if k % every == 0:
            out.append(float(p.factor[0]))
            p.event(0)
    return out


def _steady(u0: float, e_rec: float, e_fac: float) -> float:
    """R U before a spike in the steady state (Tsodyks, Pawelzik & Markram 1998): U_b =
    U0 / (1 - (1 - U0) e^{-T/tau_fac}), R_b = (1 - e^{-T/tau_rec}) / (1 - (1 - U_b)
    e^{-T/tau_rec}); depression alone (e_fac = 0): U (1 - e^{-T/tau_rec}) / (1 - (1 - U)
    e^{-T/tau_rec})."""
    ub = u0 / (1 - (1 - u0) * e_fac)
    return ub * (1 - e_rec) / (1 - (1 - ub) * e_rec)


def _steady_euler(u0: float, a: float, b: float | None, n: int) -> float:
    """The same steady state of jLEMS's recursion (forward Euler, a = dt/tau_rec, b =
    dt/tau_fac, None for depression alone; events every n steps). An event in step k uses the
    factor evaluated before that step's Euler step (x = R_{k-1}, u = U_{k-1}) and acts on the
    stepped states (R_k, U_k); n - 1 Euler steps lead to the next factor. Hence, with
    d = (1-a)^(n-1), d' = (1-a)^n, g = (1-b)^(n-1), g' = (1-b)^n:
    u = U0 (1 + (1-U0) b g) / (1 - (1-U0) g'), U_k = u (1-b) + U0 b (u = U_k = U0 for
    depression alone), 1 - x = U_k d / (1 - (1-U_k) d'), factor x u."""
    d, d1 = (1 - a) ** (n - 1), (1 - a) ** n
    if b is None:
        u = uk = u0
    else:
        g, g1 = (1 - b) ** (n - 1), (1 - b) ** n
        u = u0 * (1 + (1 - u0) * b * g) / (1 - (1 - u0) * g1)
        uk = u * (1 - b) + u0 * b
    return (1 - uk * d / (1 - (1 - uk) * d1)) * u


DT = 2e-5  # 0.02 ms
EVERY = 1000  # 20 ms: 50 Hz


def _within_continuous(f: float, u: float, a: float, e_rec: float, e_fac: float) -> bool:
    """Whether ``f`` lies within the continuous closed form at decay factors e (1 +- 2 dt/tau):
    (1 - a)^(n - 1) and (1 - a)^n are e^{-T/tau} e^{a + O(n a^2)}, inside that band."""
    vals = [_steady(u, e_rec * (1 + sr * 2 * a), e_fac * (1 + sf * 2 * a) if e_fac else 0.0)
            for sr in (-1, 1) for sf in (-1, 1)]  # fmt: skip
    return min(vals) <= f <= max(vals)


def test_depression_steady_state_release_closed_form():
    u, tau = 0.5, 0.12
    f = _drive(_mechanism('<plasticityMechanism type="tsodyksMarkramDepMechanism" '
                          f'initReleaseProb="{u}" tauRec="{tau * 1e3}ms"/>'), DT, EVERY, 40)
    assert f[0] == pytest.approx(u, abs=1e-12)  # R = 1 before the first spike
    ss = _steady(u, math.exp(-EVERY * DT / tau), 0.0)
    assert f[-1] == pytest.approx(_steady_euler(u, DT / tau, None, EVERY), rel=1e-12)
    assert _within_continuous(f[-1], u, DT / tau, math.exp(-EVERY * DT / tau), 0.0), (f[-1], ss)
    assert abs(f[-1] / ss - 1) < 1e-3
    assert ss < 0.7 * u  # depressed: the test is not trivial
    assert all(a > b for a, b in zip(f[:5], f[1:6], strict=True))


def test_facilitation_steady_state_closed_form():
    u, tr, tf = 0.1, 0.08, 0.3
    f = _drive(_mechanism('<plasticityMechanism type="tsodyksMarkramDepFacMechanism" '
                          f'initReleaseProb="{u}" tauRec="{tr * 1e3}ms" '
                          f'tauFac="{tf * 1e3}ms"/>'), DT, EVERY, 150)
    ss = _steady(u, math.exp(-EVERY * DT / tr), math.exp(-EVERY * DT / tf))
    assert f[-1] == pytest.approx(_steady_euler(u, DT / tr, DT / tf, EVERY), rel=1e-12)
    assert _within_continuous(f[-1], u, DT / min(tr, tf), math.exp(-EVERY * DT / tr),
                              math.exp(-EVERY * DT / tf)), (f[-1], ss)
    assert abs(f[-1] / ss - 1) < 1e-3 and ss > 1.5 * u  # facilitated at 50 Hz
    assert f[1] > f[0] == pytest.approx(u, abs=1e-12)  # facilitates first


def test_each_instance_has_its_own_state():
    syn = etree.fromstring('<blockingPlasticSynapse id="s" gbase="1nS" erev="0mV" '
                           'tauRise="1ms" tauDecay="2ms"><plasticityMechanism '
                           'type="tsodyksMarkramDepMechanism" initReleaseProb="0.4" '
                           'tauRec="100ms"/></blockingPlasticSynapse>')
    p = Plasticity(syn, 3)
    p.advance(DT)
    p.event(np.array([1]))
    p.advance(DT)  # the factor from the states before this step: R = 0.6 after the event
    assert p.factor[0] == p.factor[2] == pytest.approx(0.4, abs=1e-15)
    assert p.factor[1] == pytest.approx(0.4 * 0.6, abs=1e-15)
    p.advance(DT)  # one Euler step of recovery: R = 0.6 + dt (1 - 0.6)/tau_rec
    assert p.factor[1] == pytest.approx(0.4 * (0.6 + DT * 0.4 / 0.1), rel=1e-14)


LEMS = """<Lems>
<Target component="sim1"/>
<Include file="Cells.xml"/>
<Include file="Networks.xml"/>
<Include file="Simulation.xml"/>
<iafCell id="iaf" leakReversal="-50mV" thresh="-55mV" reset="-70mV" C="0.2nF"
  leakConductance="0.01uS"/>
<spikeGenerator id="sg" period="5ms"/>
{syn}
<network id="net1">
  <population id="s" component="sg" size="1"/>
  <population id="a" component="iaf" size="1"/>
  {conn}
</network>
<Simulation id="sim1" length="10ms" step="0.01ms" target="net1"/>
</Lems>
"""
CONN = '<synapticConnection from="s[0]" to="a[0]" synapse="p" destination="synapses"/>'


def _refused(tmp_path, capsys, syn: str, conn: str = CONN) -> str:
    f = tmp_path / "net.xml"
    f.write_text(LEMS.format(syn=syn, conn=conn))
    assert main(["simulate", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert str(f) in err, err
    return err


def test_block_mechanism_refused(tmp_path, capsys):
    err = _refused(tmp_path, capsys, '<blockingPlasticSynapse id="p" gbase="1nS" erev="0mV" '
                   'tauRise="1ms" tauDecay="2ms">\n<blockMechanism '
                   'type="voltageConcDepBlockMechanism" species="mg" blockConcentration="1.2mM" '
                   'scalingConc="1.9mM" scalingVolt="16mV"/>\n</blockingPlasticSynapse>')
    assert "net.xml:10" in err and "blockMechanism" in err and "plasticityMechanism" in err


def test_unknown_mechanism_type_refused(tmp_path, capsys):
    err = _refused(tmp_path, capsys, '<blockingPlasticSynapse id="p" gbase="1nS" erev="0mV" '
                   'tauRise="1ms" tauDecay="2ms">\n<plasticityMechanism type="stdpMechanism" '
                   'initReleaseProb="0.5" tauRec="100ms"/>\n</blockingPlasticSynapse>')
    assert "net.xml:10" in err and "stdpMechanism" in err and "tsodyksMarkramDepMechanism" in err


def test_plasticity_in_a_poisson_input_refused(tmp_path, capsys):
    syn = ('<blockingPlasticSynapse id="p" gbase="1nS" erev="0mV" tauRise="1ms" '
           'tauDecay="2ms"><plasticityMechanism type="tsodyksMarkramDepMechanism" '
           'initReleaseProb="0.5" tauRec="100ms"/></blockingPlasticSynapse>\n'
           '<poissonFiringSynapse id="pfs" averageRate="50Hz" synapse="p" '
           'spikeTarget="./p"/>')
    err = _refused(tmp_path, capsys, syn, '<explicitInput target="a[0]" input="pfs" '
                   'destination="synapses"/>')
    assert "net.xml:10" in err and "poissonFiringSynapse" in err and "plasticity" in err
