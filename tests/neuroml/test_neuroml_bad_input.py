"""Bad NeuroML/LEMS input: one line naming the element, the file and the line; exit status 2."""

from __future__ import annotations

import pytest

pytest.importorskip("pyneuroml")

from neuroscape.cli.main import main  # noqa: E402

NML = '<neuroml xmlns="http://www.neuroml.org/schema/neuroml2" id="d">\n{body}\n</neuroml>\n'
LEMS = """<Lems>
<Target component="sim1"/>
<Include file="Cells.xml"/>
<Include file="Networks.xml"/>
<Include file="Simulation.xml"/>
{body}
<network id="net1">
  <population id="pop" component="{cell}" size="1"/>
</network>
<Simulation id="sim1" length="10ms" step="0.01ms" target="net1"/>
</Lems>
"""


def _run(capsys, args) -> tuple[int, str]:
    rc = main(args)
    err = capsys.readouterr().err.strip()
    return rc, err


def test_file_that_does_not_validate(tmp_path, capsys):
    f = tmp_path / "bad.nml"
    f.write_text(NML.format(body='<iafCell id="c" leakReversal="-50mV" thresh="-55mV" '
                                 'reset="-70mV" C="1pF" bogus="1"/>'))  # fmt: skip
    rc, err = _run(capsys, ["params", f"{f}:c"])
    assert rc == 2 and len(err.splitlines()) == 1
    assert f"{f}:2" in err and "does not validate" in err and "bogus" in err


def test_custom_lems_dynamics(tmp_path, capsys):
    f = tmp_path / "custom.xml"
    f.write_text(LEMS.format(cell="mine", body=(
        '<ComponentType name="myCell" extends="baseCellMembPot">\n'
        '  <Dynamics><StateVariable name="v" dimension="voltage"/></Dynamics>\n'
        "</ComponentType>\n"
        '<Component id="mine" type="myCell"/>')))
    rc, err = _run(capsys, ["simulate", str(f)])
    assert rc == 2 and len(err.splitlines()) == 1
    assert f"{f}:9" in err and "<Component id='mine'>" in err and "custom LEMS" in err


def test_kinetic_scheme_channel(tmp_path, capsys):
    f = tmp_path / "ks.xml"
    f.write_text(LEMS.format(cell="cellKS", body=(
        '<ionChannelKS id="ks" conductance="10pS">\n'
        '  <gateKS id="g" instances="1"><closedState id="c"/></gateKS>\n'
        "</ionChannelKS>\n"
        '<pointCellCondBased id="cellKS" C="10pF" v0="-65mV" thresh="20mV">\n'
        '  <channelPopulation id="p" ionChannel="ks" number="10" erev="50mV"/>\n'
        "</pointCellCondBased>")))
    rc, err = _run(capsys, ["simulate", str(f)])
    assert rc == 2 and len(err.splitlines()) == 1
    assert f"{f}:6" in err and "<ionChannelKS id='ks'>" in err and "KineticScheme" in err


def test_multi_compartment_cell_without_biophysics(tmp_path, capsys):
    """A multi-compartment cell imports into the cell description; without its
    biophysicalProperties it cannot be simulated: one line naming the cell's element."""
    f = tmp_path / "mc.nml"
    f.write_text(NML.format(body="""<cell id="mc">
  <morphology id="m">
    <segment id="0" name="soma"><proximal x="0" y="0" z="0" diameter="10"/><distal x="10" y="0" z="0" diameter="10"/></segment>
    <segment id="1" name="dend"><parent segment="0"/><distal x="20" y="0" z="0" diameter="2"/></segment>
  </morphology>
</cell>"""))  # noqa: E501
    rc, err = _run(capsys, ["params", f"{f}:mc"])
    assert rc == 2 and len(err.splitlines()) == 1
    assert f"{f}:2" in err and "<cell id='mc'>" in err and "biophysicalProperties" in err


def test_missing_include(tmp_path, capsys):
    f = tmp_path / "inc.xml"
    f.write_text(LEMS.format(cell="c", body='<Include file="nowhere.nml"/>'))
    rc, err = _run(capsys, ["simulate", str(f)])
    assert rc == 2 and len(err.splitlines()) == 1
    assert f"{f}:6" in err and "nowhere.nml" in err and "missing include" in err


def test_refused_input_named(tmp_path, capsys):
    f = tmp_path / "sine.xml"
    body = ('<iafCell id="c" leakConductance="0.2nS" leakReversal="-53mV" thresh="-55mV" '
            'reset="-70mV" C="3.2pF"/>\n<sineGeneratorDL id="s" delay="1ms" duration="5ms" '
            'amplitude="1" period="2ms" phase="0"/>')  # fmt: skip
    text = LEMS.format(cell="c", body=body).replace(
        "</network>", '<explicitInput target="pop[0]" input="s"/>\n</network>')
    f.write_text(text)
    rc, err = _run(capsys, ["simulate", str(f)])
    assert rc == 2 and "<sineGeneratorDL id='s'>" in err and f"{f}:7" in err


def test_nml_cell_is_a_model(tmp_path, capsys):
    """FILE.nml:CELL_ID where a model name is accepted: its parameters in physiological units,
    converted from the file's SI-prefixed values (0.2 nS, 3.2 pF, -0.053 V)."""
    from neuroscape.models import resolve

    f = tmp_path / "cells.nml"
    f.write_text(NML.format(body='<iafRefCell id="c" leakConductance="0.0002uS" '
                                 'leakReversal="-0.053V" thresh="-55mV" reset="-70mV" '
                                 'C="0.0032nF" refract="5ms"/>'))  # fmt: skip
    m = resolve(f"{f}:c")
    p = {q.name: q for q in m.spec.parameters}
    assert p["leakConductance"].default == pytest.approx(0.2) and p["leakConductance"].unit == "nS"
    assert p["C"].default == pytest.approx(3.2) and p["C"].unit == "pF"
    assert p["leakReversal"].default == pytest.approx(-53.0) and p["leakReversal"].unit == "mV"
    assert (p["leakReversal"].low, p["leakReversal"].high) == pytest.approx((-73.0, -33.0))
    assert m.refractory_param == "refract" and m.ref == f"{f.resolve()}:c"
