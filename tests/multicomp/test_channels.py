"""Channels written as equations (a cell's ``channels:``): what a declaration becomes (the same
Mechanism data as NEURON's built-in hh and pas), its numbers in NEURON's units, addresses and
values on a cell, one-line refusals, and a run: a leak written as a channel gives the built-in
pas's bits."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from neuroscape.core.stimuli import make_stimulus
from neuroscape.models.multicomp import CellError, load_cell, unit_of
from neuroscape.models.multicomp.mechanisms import HH, Mechanism, channel, load_channel
from neuroscape.sim.cable_engine import generate_source, run_cell

DATA = Path(__file__).resolve().parents[1] / "data" / "channels"


def _na() -> dict:
    return {
        "parameters": {"gbar": {"default": "120 mS/cm2", "description": "Na density"}},
        "rates": {"q10": "3**((celsius - 6.3)/10)"},
        "gates": {
            "m": {"alpha": "q10/exprel(-(v + 40*mV)/(10*mV))/ms",
                  "beta": "q10*4*exp(-(v + 65*mV)/(18*mV))/ms"},
            "h": {"alpha": "q10*0.07*exp(-(v + 65*mV)/(20*mV))/ms",
                  "beta": "q10/(exp(-(v + 35*mV)/(10*mV)) + 1)/ms"},
        },
        "current": "gbar*m**3*h*(v - ena)",
    }  # fmt: skip


def _rates(mech: Mechanism, v: float, celsius: float = 6.3, **inputs) -> dict[str, float]:
    """The mechanism's rates at v, evaluated from its stored source (the kernel's text)."""
    env = {"v": v, "celsius": celsius, **mech.defaults, **inputs, "exp": math.exp,
           "_exprel": lambda x: math.expm1(x) / x if x else 1.0}  # fmt: skip
    for name, text in mech.rates:
        env[name] = eval(text, {}, env)  # noqa: S307 - our own generated arithmetic
    return env


def _vtrap(x: float, y: float) -> float:
    """hh.mod's vtrap, with its guard at the removable singularity."""
    return y * (1.0 - x / y / 2.0) if abs(x / y) < 1e-6 else x / (math.exp(x / y) - 1.0)


def test_a_declaration_becomes_hh_data_in_neurons_units():
    na = channel("na", _na())
    assert na.parameters[0].default == pytest.approx(0.12, rel=1e-15)  # 120 mS/cm2 in S/cm2
    assert na.unit("gbar") == "S/cm2" and na.parameters[0].low == 0.0
    assert na.reversals == ("ena",) and na.ions[0].default == 50.0  # reads ena: NEURON's na_ion
    assert [g.name for g in na.gates] == ["m", "h"]
    (cur,) = na.currents
    assert cur.e == "ena" and set(cur.g.replace("(", " ").replace(")", " ").split()) >= {"gbar",
                                                                                     "m", "h"}
    # alpha/beta -> inf = alpha/(alpha + beta), tau = 1/(alpha + beta) (hh.mod's); the rates
    # against hh.mod's own formulas (the built-in HH's rates) at several potentials
    for v in (-90.0, -65.0, -40.0, -39.999999, 0.0, 35.0):
        ours = _rates(na, v)
        ref = _rates(HH, v, vtrap=_vtrap)
        assert ours["m_inf"] == pytest.approx(ref["minf"], rel=1e-12)
        assert ours["m_tau"] == pytest.approx(ref["mtau"], rel=1e-12)
        assert ours["h_inf"] == pytest.approx(ref["hinf"], rel=1e-12)
        assert ours["h_tau"] == pytest.approx(ref["htau"], rel=1e-12)
    hot = _rates(na, -50.0, celsius=16.3)
    assert hot["q10"] == pytest.approx(3.0, rel=1e-14)


def test_inf_tau_gates_own_reversal_and_unit_conversion():
    ka = load_channel("ka", DATA / "ka_connor_stevens.yaml")
    assert ka.defaults == {"gbar": pytest.approx(0.0477, rel=1e-14), "ea": -75.0}
    assert ka.reversals == () and ka.currents[0].e == "ea"
    r = _rates(ka, -60.0)
    a_inf = (0.0761 * math.exp(0.0314 * 34.22) / (1 + math.exp(0.0346 * -58.83))) ** (1 / 3)
    assert r["a_inf"] == pytest.approx(a_inf, rel=1e-13)
    assert r["a_tau"] == pytest.approx(0.3632 + 1.158 / (1 + math.exp(0.0497 * -4.04)), rel=1e-13)
    # a constant reversal written in the current becomes a rate of the channel
    k = channel("k80", {"parameters": {"g": "2 mS/cm2"}, "current": "g*(v + 80*mV)"})
    assert k.currents[0].e == "e_current" and dict(k.rates)["e_current"] == "-80.0"
    assert k.defaults == {"g": pytest.approx(0.002)}
    # a time constant in seconds is stored in ms; a rate per second in 1/ms
    s = channel("slow", {"parameters": {"g": "1 S/m2", "e": "0 V"},
                         "gates": {"x": {"inf": "0.5", "tau": "0.2*second"}},
                         "current": "g*x*(v - e)"})  # fmt: skip
    assert s.defaults == {"g": pytest.approx(1e-4), "e": 0.0}
    assert _rates(s, 0.0)["x_tau"] == pytest.approx(200.0)


def test_a_cell_with_channels_addresses_values_units(tmp_path):
    cell = load_cell(DATA / "ball_stick_hh_channels.yaml")
    assert list(cell.channels) == ["na", "kdr", "leak"]
    assert cell.mechanisms["soma"]["na"] == {"gbar": 0.12}
    assert cell.ions["soma"] == {"ek": -77.0, "ena": 50.0}  # read by na and kdr
    assert [m.name for m in cell.used_mechanisms()] == ["pas", "na", "kdr", "leak"]
    for a in ("soma.na.gbar", "soma.kdr.gbar", "soma.leak.e", "soma.ena", "soma.ek"):
        assert a in cell.addresses()
    assert cell.value("soma.leak.e") == -54.3
    new = cell.with_values({"soma.na.gbar": 0.2, "soma.leak.g": 1e-4})
    assert new.value("soma.na.gbar") == 0.2 and new.channels == cell.channels
    assert new.digest() != cell.digest()
    assert cell.unit_of("soma.na.gbar") == "S/cm2" and cell.unit_of("soma.leak.e") == "mV"
    assert unit_of("soma.na.gbar") == "S/cm2"  # the module's, for cells loaded in the process
    with pytest.raises(CellError, match="gbar=-0.1"):
        cell.with_values({"soma.na.gbar": -0.1})  # a density's low: 0
    # the same channels inline (a dict) give the same cell
    inline = load_cell({**_cell_dict(), "channels": {"na": _na()}})
    assert inline.channels["na"].rates == channel("na", _na()).rates
    # another declaration of a channel changes the digest (kernels are cached by content)
    other = _na()
    other["gates"]["m"]["beta"] = "q10*4.1*exp(-(v + 65*mV)/(18*mV))/ms"
    assert load_cell({**_cell_dict(), "channels": {"na": other}}).digest() != inline.digest()


def _cell_dict() -> dict:
    return {"name": "one", "sections": {"soma": {"L": 20, "diam": 20}},
            "mechanisms": {"soma": {"na": {"gbar": 0.1}}}}  # fmt: skip


def _refusal(decl_or_mutate, name: str = "na") -> str:
    d = _na()
    if callable(decl_or_mutate):
        decl_or_mutate(d)
    else:
        d = decl_or_mutate
    with pytest.raises(CellError) as info:
        load_cell({**_cell_dict(), "channels": {name: d}})
    msg = str(info.value)
    assert "\n" not in msg and "allowed" in msg, msg
    return msg


def test_bad_channels_get_one_line():
    def gate(**kw):
        return lambda d: d["gates"]["m"].update(kw)

    assert "unknown symbol 'vm'" in _refusal(gate(alpha="exp(vm/(10*mV))/ms"))
    msg = _refusal(lambda d: d.update(current="gbar*m**3*h*n*(v - ena)"))  # gate n undeclared
    assert "unknown symbol 'n'" in msg
    assert "missing beta" in _refusal(lambda d: d["gates"]["m"].pop("beta"))
    assert "missing tau" in _refusal(lambda d: d["gates"].update(x={"inf": "1"}))
    assert "a rate (1/ms)" in _refusal(gate(alpha="4*exp(-(v + 65*mV)/(18*mV))"))
    assert "must be dimensionless" in _refusal(gate(beta="exp(v)/ms"))
    msg = _refusal(lambda d: d["parameters"].update(gbar="120 mS"))  # a conductance, no area
    assert "current density" in msg and "gbar in mS" in msg
    assert "not ohmic" in _refusal(lambda d: d.update(current="gbar*m**3*h*(v - ena)**2/mV"))
    assert "does not read the gate 'h'" in _refusal(lambda d: d.update(
        current="gbar*m**3*(v - ena)"))  # fmt: skip
    assert "read only by the current" in _refusal(lambda d: d["rates"].update(x="2*m"))
    assert "'power'" in _refusal(gate(power=3))
    assert "'units'" in _refusal(lambda d: d.update(units="mV"))
    assert "reserved" in _refusal(lambda d: d["parameters"].update(celsius="6.3"))
    assert "also a parameter" in _refusal(lambda d: d["rates"].update(gbar="1"))
    assert "unknown function 'vtrap'" in _refusal(gate(alpha="vtrap(v/mV, 10)/ms"))
    assert "no current" in _refusal(lambda d: d.pop("current"))
    assert "below its low" in _refusal(lambda d: d["parameters"].update(gbar="-1 S/cm2"))
    assert "built-in hh" in _refusal(_na(), name="hh")
    assert "no such file" in _refusal("nowhere.yaml")
    msg = _refusal(lambda d: d.update(current="gbar*(v - m*h*ena)"))
    assert "reversal potential depends" in msg
    # a parameter of the channel that the section sets must exist
    with pytest.raises(CellError, match="unknown parameter 'gnabar' of na"):
        load_cell({**_cell_dict(), "channels": {"na": _na()},
                   "mechanisms": {"soma": {"na": {"gnabar": 0.1}}}})  # fmt: skip


def test_a_channel_file_relative_to_the_cell(tmp_path):
    (tmp_path / "chan").mkdir()
    (tmp_path / "chan" / "leak.yaml").write_text(
        "parameters: {g: 0.0002 S/cm2, e: -70 mV}\ncurrent: g*(v - e)\n")
    (tmp_path / "cell.yaml").write_text(
        "sections: {soma: {L: 10, diam: 10}}\nchannels: {lk: chan/leak.yaml}\n"
        "mechanisms: {soma: {lk: {}}}\n")
    cell = load_cell(tmp_path / "cell.yaml")
    assert cell.mechanisms["soma"]["lk"] == {"g": 0.0002, "e": -70.0}
    (tmp_path / "chan" / "leak.yaml").write_text("parameters: {g: 0.0002 S/cm2}\ncurrent: g*mV\n")
    with pytest.raises(CellError, match=r"cell.yaml: channel 'lk' \(.*leak.yaml\)"):
        load_cell(tmp_path / "cell.yaml")


def test_a_leak_written_as_a_channel_runs_as_pas_bit_for_bit():
    """The kernel generated from a channel: a leak g (v - e) declared in the cell against
    NEURON's pas, same values: the same generated arithmetic, so the same bits."""
    secs = {"soma": {"L": 20, "diam": 20}, "dend": {"L": 300, "diam": 1, "nseg": 9,
                                                     "parent": "soma"}}  # fmt: skip
    # (declared as a NeuroML passive channel imports, so that tests/neuroml share the kernel)
    pas = load_cell({"sections": secs, "mechanisms": {"all": {"pas": {"g": 2e-4, "e": -70}}}})
    lk = load_cell({"sections": secs, "mechanisms": {"all": {"pas_chan": {"gmax": 2e-4,
                                                                          "erev": -70}}},
                    "channels": {"pas_chan": {"parameters": {"gmax": "0 S/cm2", "erev": "0 mV"},
                                              "current": "gmax * (v - erev)"}}})  # fmt: skip
    assert "m0_pas_chan" in generate_source(lk.used_mechanisms())
    stim = make_stimulus("step", amp=np.array([0.05, 0.1]), t_on=1.0)
    kw = dict(stimulus=stim, dt_ms=0.025, duration_ms=20.0, record=[("soma", 0.5), ("dend", 1)])
    a = run_cell(pas, {"dend.pas.g": np.array([1e-4, 3e-4])}, **kw)
    b = run_cell(lk, {"dend.pas_chan.gmax": np.array([1e-4, 3e-4])}, **kw)
    np.testing.assert_array_equal(a.v, b.v)
    assert a.v[1, 0, -1] > -70.0 + 1.0  # the step depolarised it


def test_groups_of_sections_stand_for_their_sections():
    """``groups:`` (NEURON's SectionLists; NeuroML's segment groups import as them) in
    mechanisms: and in addresses."""
    cell = load_cell({"sections": {"soma": {"L": 20, "diam": 20},
                                   "a": {"L": 100, "diam": 1, "parent": "soma"},
                                   "b": {"L": 100, "diam": 1, "parent": "soma"}},
                      "groups": {"tree": ["b", "a"]},
                      "mechanisms": {"all": {"pas": {"g": 1e-4}}, "tree": {"pas": {"g": 2e-4}}},
                      "parameters": {"tree.pas.g": {"low": 0, "high": 1e-3}}})  # fmt: skip
    assert cell.groups == {"tree": ("a", "b")}  # in the cell's order
    assert cell.mechanisms["soma"]["pas"]["g"] == 1e-4 and cell.value("tree.pas.g") == 2e-4
    new = cell.with_values({"tree.pas.g": 5e-4, "tree.cm": 2.0})
    assert new.value("a.pas.g") == new.value("b.pas.g") == 5e-4 and new.value("b.cm") == 2.0
    assert new.groups == cell.groups and new.digest() != cell.digest()
    for groups, word in [({"soma": ["a"]}, "name of a section"), ({"t": ["x"]}, "'x'"),
                         ({"t": []}, "non-empty"), ({"t.u": ["a"]}, "without '.'")]:
        with pytest.raises(CellError, match=word) as info:
            load_cell({"sections": {"soma": {"L": 20, "diam": 20},
                                    "a": {"L": 100, "diam": 1, "parent": "soma"}},
                       "groups": groups})  # fmt: skip
        assert "allowed" in str(info.value)
    with pytest.raises(CellError, match="L is set per section"):
        cell.with_values({"tree.L": 50})


def test_an_equation_models_currents_as_a_channel():
    """``{model: hh}``: the currents of the shipped equation model hh (its dV/dt's currents
    per area, its gates, its sub-expressions), in NEURON's units, with hh.mod's rates."""
    m = channel("hhm", {"model": "hh"})
    assert m.defaults == {"g_Na": pytest.approx(0.12), "g_K": pytest.approx(0.036),
                          "g_L": pytest.approx(0.0003), "E_Na": 50.0, "E_K": -77.0,
                          "E_L": -54.3}  # no C (the section's cm), no celsius (the cell's)
    assert sorted(c.e for c in m.currents) == ["E_K", "E_L", "E_Na"]
    for v in (-80.0, -55.0, -40.0, 10.0):
        ours = _rates(m, v, celsius=16.3)
        ref = _rates(HH, v, celsius=16.3, vtrap=_vtrap)
        for g in "mhn":
            assert ours[f"{g}_inf"] == pytest.approx(ref[f"{g}inf"], rel=1e-12)
            assert ours[f"{g}_tau"] == pytest.approx(ref[f"{g}tau"], rel=1e-12)
    cs = channel("cs", {"model": "connor_stevens"})  # per mm2 in the file: S/cm2 here
    assert cs.defaults["g_A"] == pytest.approx(0.0477) and len(cs.currents) == 4
    for model, words in [("lif", "threshold"), ("wang_buzsaki", "instantaneous gate"),
                         ("fhn", "membrane potential"), ("nothere", "shipped model")]:
        with pytest.raises(CellError, match=words) as info:
            channel("x", {"model": model})
        assert "allowed" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(CellError, match="model: alone"):
        channel("x", {"model": "hh", "current": "g*(v - e)"})
