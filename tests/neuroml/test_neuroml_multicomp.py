"""NeuroML2 multi-compartment ``<cell>``s import into neuroscape's cell description: sections
as pyNeuroML's NEURON export makes them, channels as channels written as equations whose rates
are Channels.xml's, the model through the registry and the command line, and every refusal as
one line naming the file, the line and the element."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("pyneuroml")

from neuroscape.cli.main import main  # noqa: E402
from neuroscape.models.multicomp.model import CellModel  # noqa: E402
from neuroscape.models.neuroml import NeuroMLError, load_cell  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "neuroml" / "multicomp"
BALL = DATA / "ball_stick_hh.cell.nml"

NML = '<neuroml xmlns="http://www.neuroml.org/schema/neuroml2" id="d">\n{body}\n</neuroml>\n'
PAS = '<ionChannelHH id="pas_chan" conductance="10pS"/>\n'
BIO = """<biophysicalProperties id="b">
  <membraneProperties>
    {densities}
    <spikeThresh value="0mV"/>
    <specificCapacitance value="1.0 uF_per_cm2"/>
    {more}<initMembPotential value="-65mV"/>
  </membraneProperties>
  <intracellularProperties>{intra}<resistivity value="0.1 kohm_cm"/></intracellularProperties>
</biophysicalProperties>"""
TWO_SEGS = """<morphology id="m">
  <segment id="0" name="soma"><proximal x="0" y="0" z="0" diameter="10"/><distal x="10" y="0" z="0" diameter="10"/></segment>
  <segment id="1" name="dend"><parent segment="0"/><distal x="110" y="0" z="0" diameter="1"/></segment>
  {groups}
</morphology>"""  # noqa: E501
DENSITY = ('<channelDensity id="d1" ionChannel="{chan}" condDensity="1 S_per_m2" erev="-65mV" '
           'ion="non_specific"{group}/>')  # fmt: skip


def _cell(tmp_path, *, channels=PAS, morph=None, groups="", densities=None, more="", intra="",
          name="c.nml") -> Path:
    densities = densities if densities is not None else DENSITY.format(chan="pas_chan", group="")
    body = (channels + '<cell id="c">\n' + (morph or TWO_SEGS.format(groups=groups)) + "\n"
            + BIO.format(densities=densities, more=more, intra=intra) + "\n</cell>")  # fmt: skip
    f = tmp_path / name
    f.write_text(NML.format(body=body))
    return f


def test_the_cell_file_maps_as_the_neuron_export_does():
    m = load_cell(f"{BALL}:ball_stick_hh")
    assert isinstance(m, CellModel) and m.kind == "cell"
    c = m.cell
    assert list(c.sections) == ["soma", "dend", "branch"]  # unbranched segment groups
    soma, dend, branch = c.sections.values()
    assert (soma.L, dend.L, branch.L) == (25.0, 300.0, 250.0)
    assert (soma.nseg, dend.nseg, branch.nseg) == (1, 15, 9)  # numberInternalDivisions
    assert dend.parent == "soma" and dend.parent_x == 1.0
    # branch starts at the end of the dendrite's first segment: 100 of its 300 um
    assert branch.parent == "dend" and branch.parent_x == pytest.approx(1 / 3, rel=1e-15)
    assert dend.pt3d[:, 3].tolist() == [2.0, 1.6000000238418579, 1.2000000476837158, 1.0]  # f32
    assert (c.Ra, c.cm, c.v_init, c.celsius) == (150.0, 1.0, -65.0, 10.0)  # network's 10 degC
    assert dend.cm == branch.cm == 2.0 and soma.cm is None
    assert c.groups == {"soma_group": ("soma",), "dendrite_group": ("dend", "branch")}
    assert c.mechanisms["soma"]["na_chan"] == {"gmax": 0.12, "erev": 50.0}
    assert c.mechanisms["soma"]["leak_chan"] == {"gmax": 0.0003, "erev": -54.3}  # 3 S_per_m2
    assert c.mechanisms["dend"]["leak_chan"] == {"gmax": 0.0001, "erev": -65.0}
    assert set(c.mechanisms["branch"]) == {"leak_chan", "hcn_chan"}
    assert [p.name for p in m.spec.parameters][:2] == ["soma_group.leak_chan.gmax",
                                                       "soma_group.leak_chan.erev"]
    assert c.value("dendrite_group.hcn_chan.gmax") == pytest.approx(2e-4)
    assert m.spec.parameters[-1].name == "Ra"


def _rates(mech, v: float, celsius: float) -> dict[str, float]:
    env = {"v": v, "celsius": celsius, "exp": math.exp, **mech.defaults,
           "_exprel": lambda x: math.expm1(x) / x if x else 1.0}  # fmt: skip
    for name, text in mech.rates:
        env[name] = eval(text, {}, env)  # noqa: S307 - the generated arithmetic
    return env


def test_gates_follow_channels_xml():
    c = load_cell(f"{BALL}:ball_stick_hh").cell
    na, kslow, hcn = c.channels["na_chan"], c.channels["kslow_chan"], c.channels["hcn_chan"]
    assert na.currents[0].e == "erev" and na.unit("gmax") == "S/cm2"
    q10 = 3 ** ((10.0 - 6.3) / 10)  # q10ExpTemp: q10Factor^((T - experimentalTemp)/10 K)
    for v in (-80.0, -40.0, -12.5, 20.0):
        r = _rates(na, v, 10.0)
        x = (v + 40) / 10  # HHExpLinearRate: rate x/(1 - exp(-x)), rate at x = 0
        a = 1.0 if x == 0 else x / (1 - math.exp(-x))
        b = 4 * math.exp((v + 65) / -18)  # HHExpRate
        assert r["m_alpha"] == pytest.approx(a, rel=1e-13)
        assert r["m_inf"] == pytest.approx(a / (a + b), rel=1e-13)
        assert r["m_tau"] == pytest.approx(1 / ((a + b) * q10), rel=1e-13)
        hb = 1 / (1 + math.exp(-(v + 35) / 10))  # HHSigmoidRate
        assert r["h_beta"] == pytest.approx(hb, rel=1e-13)
        k = _rates(kslow, v, 10.0)  # gateHHtauInf: fixedTimeCourse / q10Fixed
        assert k["p_tau"] == pytest.approx(80.0 / 2.0) and k["p_inf"] == pytest.approx(
            1 / (1 + math.exp(-(v + 35) / 10)), rel=1e-13)
        h = _rates(hcn, v, 10.0)  # gateHHratesTau: inf from the rates, tau fixed
        ra, rb = 0.005 * math.exp((v + 80) / -10), 0.005 * math.exp((v + 80) / 10)
        assert h["r_inf"] == pytest.approx(ra / (ra + rb), rel=1e-12) and h["r_tau"] == 40.0


def test_sections_from_segments_and_a_spherical_soma(tmp_path):
    morph = """<morphology id="m">
  <segment id="0" name="soma"><proximal x="0" y="0" z="0" diameter="12"/><distal x="0" y="0" z="0" diameter="12"/></segment>
  <segment id="1"><parent segment="0" fractionAlong="0.5"/><proximal x="0" y="0" z="0" diameter="2"/><distal x="50" y="0" z="0" diameter="2"/></segment>
  <segment id="2" name="tip"><parent segment="1"/><distal x="80" y="0" z="0" diameter="1"/></segment>
</morphology>"""  # noqa: E501
    c = load_cell(f"{_cell(tmp_path, morph=morph)}:c").cell
    assert list(c.sections) == ["soma", "section_1", "tip"]  # jNeuroML's names
    soma = c.sections["soma"]
    assert soma.pt3d is None and soma.L == soma.diam == 12.0  # NeuroML's 4 pi r^2
    assert c.sections["section_1"].parent_x == 0.5
    assert c.sections["tip"].pt3d[0].tolist() == [50.0, 0.0, 0.0, 2.0]  # the parent's distal


def test_the_neuroml2_example_multicompartment_cell(tmp_path):
    """NeuroML2's own example (examples/NML2_MultiCompCellNetwork.nml in jNeuroML's jar)."""
    from neuroscape.models.neuroml.core_types import _jar_path

    with zipfile.ZipFile(_jar_path()) as jar:
        for n in ("NML2_MultiCompCellNetwork.nml", "NML2_SingleCompHHCell.nml"):
            (tmp_path / n).write_bytes(jar.read(f"examples/{n}"))
    c = load_cell(f"{tmp_path / 'NML2_MultiCompCellNetwork.nml'}:MultiCompCell").cell
    assert list(c.sections) == ["soma", "dendSec1", "dendSec2"]
    assert c.sections["dendSec2"].nseg == 9 and c.sections["dendSec2"].L == 30.0
    assert c.Ra == 1e5 and set(c.channels) == {"passiveChan", "naChan", "kChan"}


def test_simulate_and_params_through_the_command_line(tmp_path, capsys):
    """A passive two-section cell (its kernel is the one tests/multicomp/test_channels.py
    compiles: a NeuroML passive channel is gmax (v - erev))."""
    ref = f"{_cell(tmp_path)}:c"
    assert main(["params", ref]) == 0
    assert "all.pas_chan.gmax" in capsys.readouterr().out
    args = ["simulate", ref, "--current", "0.02", "--duration-ms", "60", "--t-on", "5",
            "--record", "dend(1)", "--json"]  # fmt: skip
    assert main(args) == 0
    low = json.loads(capsys.readouterr().out)
    assert low["kind"] == "cell" and low["spike_count"] == 0
    assert main([*args, "--set", "all.pas_chan.gmax=0.00005"]) == 0
    high = json.loads(capsys.readouterr().out)
    assert high["parameters"]["all.pas_chan.gmax"] == 5e-5


def _refused(capsys, f: Path, *words) -> str:
    rc = main(["params", f"{f}:c"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    for w in words:
        assert w in err, err
    with pytest.raises(NeuroMLError):
        load_cell(f"{f}:c")
    return err


def test_refusals_name_file_line_and_element(tmp_path, capsys):
    ks = ('<ionChannelKS id="ks" conductance="10pS"><gateKS id="g" instances="1">'
          '<closedState id="c1"/><openState id="o1"/><forwardTransition id="t1" from="c1" '
          'to="o1"><rate type="HHExpRate" rate="1per_ms" midpoint="0mV" scale="10mV"/>'
          '</forwardTransition><reverseTransition id="t2" from="c1" to="o1"><rate '
          'type="HHExpRate" rate="1per_ms" midpoint="0mV" scale="-10mV"/></reverseTransition>'
          '</gateKS></ionChannelKS>\n')  # fmt: skip
    f = _cell(tmp_path, channels=ks, densities=DENSITY.format(chan="ks", group=""), name="ks.nml")
    _refused(capsys, f, f"{f}:2", "<ionChannelKS id='ks'>", "KineticScheme")

    inst = ('<ionChannelHH id="ic" conductance="10pS"><gateHHInstantaneous id="x" instances="1">'
            '<steadyState type="HHSigmoidVariable" rate="1" midpoint="-40mV" scale="5mV"/>'
            "</gateHHInstantaneous></ionChannelHH>\n")  # fmt: skip
    f = _cell(tmp_path, channels=inst, densities=DENSITY.format(chan="ic", group=""),
              name="inst.nml")
    _refused(capsys, f, "gateHHInstantaneous", "allowed: gateHHrates")

    custom = ('<ionChannelHH id="cu" conductance="10pS"><gateHHrates id="x" instances="1">'
              '<forwardRate type="myRate"/><reverseRate type="HHExpRate" rate="1per_ms" '
              'midpoint="0mV" scale="10mV"/></gateHHrates></ionChannelHH>\n')  # fmt: skip
    f = _cell(tmp_path, channels=custom, densities=DENSITY.format(chan="cu", group=""),
              name="custom.nml")
    _refused(capsys, f, "'myRate'", "HHExpLinearRate")

    nernst = ('<channelDensityNernst id="dn" ionChannel="pas_chan" condDensity="1 S_per_m2" '
              'ion="ca"/>')  # fmt: skip
    f = _cell(tmp_path, densities=nernst, name="nernst.nml")
    _refused(capsys, f, "<channelDensityNernst id='dn'>", "allowed: channelDensity")

    cable = ('<segmentGroup id="s" neuroLexId="sao864921383"><member segment="0"/>'
             '</segmentGroup>')  # fmt: skip
    f = _cell(tmp_path, groups=cable, name="lost.nml")
    _refused(capsys, f, "segment 1 is in no unbranched segmentGroup")

    f = _cell(tmp_path, densities=DENSITY.format(chan="pas_chan", group="")
              + DENSITY.replace('id="d1"', 'id="d2"').format(chan="pas_chan", group=""),
              name="twice.nml")  # fmt: skip
    _refused(capsys, f, "<channelDensity id='d2'>", "already in section")

    f = _cell(tmp_path, more='<initMembPotential value="-70mV" segmentGroup="g"/>\n',
              groups='<segmentGroup id="g"><member segment="1"/></segmentGroup>', name="v0.nml")
    _refused(capsys, f, "second initMembPotential")

    f = _cell(tmp_path, groups='<segmentGroup id="g"><path><from segment="0"/></path>'
              "</segmentGroup>", name="path.nml")  # fmt: skip
    _refused(capsys, f, "<path>")

    two = """<morphology id="m">
  <segment id="0" name="a"><proximal x="0" y="0" z="0" diameter="2"/><distal x="10" y="0" z="0" diameter="2"/></segment>
  <segment id="1" name="b"><parent segment="0"/><distal x="20" y="0" z="0" diameter="2"/></segment>
  <segment id="2" name="c"><parent segment="0"/><distal x="10" y="10" z="0" diameter="1"/></segment>
  <segmentGroup id="ab" neuroLexId="sao864921383"><member segment="0"/><member segment="1"/></segmentGroup>
  <segmentGroup id="cc" neuroLexId="sao864921383"><member segment="2"/></segmentGroup>
  <segmentGroup id="half"><member segment="1"/></segmentGroup>
</morphology>"""  # noqa: E501
    f = _cell(tmp_path, morph=two, densities=DENSITY.format(chan="pas_chan",
              group=' segmentGroup="half"'), name="part.nml")  # fmt: skip
    _refused(capsys, f, "'half'", "covers part of section ab")

    f = _cell(tmp_path, intra='<species id="ca" concentrationModel="cm" ion="ca" '
              'initialConcentration="1e-4 mM" initialExtConcentration="2 mM"/>',
              name="species.nml")  # fmt: skip
    _refused(capsys, f, "<species id='ca'>", "resistivity")


def test_a_cell_without_biophysics(tmp_path, capsys):
    f = tmp_path / "bare.nml"
    f.write_text(NML.format(body='<cell id="c">\n' + TWO_SEGS.format(groups="") + "\n</cell>"))
    _refused(capsys, f, f"{f}:2", "<cell id='c'>", "biophysicalProperties")
