"""NeuroML networks neuroscape cannot map: one line naming the element, the file and the
line; exit status 2."""

from __future__ import annotations

import pytest

pytest.importorskip("pyneuroml")

from neuroscape.cli.main import main  # noqa: E402

LEMS = """<Lems>
<Target component="sim1"/>
<Include file="Cells.xml"/>
<Include file="Networks.xml"/>
<Include file="Simulation.xml"/>
<ionChannelPassive id="passive" conductance="10pS"/>
<pointCellCondBased id="hh" C="10pF" v0="-65mV" thresh="20mV">
  <channelPopulation id="leak" ionChannel="passive" number="300" erev="-54.3mV"/>
</pointCellCondBased>
<iafCell id="iaf" leakReversal="-50mV" thresh="-55mV" reset="-70mV" C="0.2nF"
  leakConductance="0.01uS"/>
{syn}
<network id="net1">
  <population id="a" component="{cell}" size="2"/>
  {conn}
</network>
<Simulation id="sim1" length="10ms" step="0.01ms" target="net1"/>
</Lems>
"""
EXP = '<expOneSynapse id="s" gbase="1nS" erev="0mV" tauDecay="2ms"/>'
CONN = '<synapticConnection from="a[0]" to="a[1]" synapse="s" destination="synapses"/>'


def _refused(tmp_path, capsys, *, syn=EXP, conn=CONN, cell="hh") -> str:
    f = tmp_path / "net.xml"
    f.write_text(LEMS.format(syn=syn, conn=conn, cell=cell))
    assert main(["simulate", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert str(f) in err, err
    return err


def test_electrical_projection_refused(tmp_path, capsys):
    err = _refused(tmp_path, capsys, conn='<electricalProjection id="gj" '
                   'presynapticPopulation="a" postsynapticPopulation="a"/>')
    assert "net.xml:15" in err and "electricalProjection" in err and "gap junctions" in err


def test_unmapped_synapse_type_refused(tmp_path, capsys):
    err = _refused(tmp_path, capsys, syn='<expThreeSynapse id="s" gbase1="1nS" gbase2="1nS" '
                   'erev="0mV" tauRise="1ms" tauDecay1="2ms" tauDecay2="4ms"/>')
    assert "net.xml:12" in err and "expThreeSynapse" in err and "alphaSynapse" in err


def test_plasticity_mechanism_refused(tmp_path, capsys):
    err = _refused(tmp_path, capsys, syn='<expTwoSynapse id="s" gbase="1nS" erev="0mV" '
                   'tauRise="1ms" tauDecay="2ms">\n<plasticityMechanism '
                   'type="tsodyksMarkramDepMechanism" initReleaseProb="0.5" tauRec="120ms"/>'
                   '\n</expTwoSynapse>')
    assert "net.xml:13" in err and "plasticityMechanism" in err


def test_connection_to_missing_cell_refused(tmp_path, capsys):
    err = _refused(tmp_path, capsys, conn=CONN.replace("a[1]", "a[5]"))
    assert "net.xml:15" in err and "a[5]" in err


def test_integrate_and_fire_cells_beside_conductance_based_ones_refused(tmp_path, capsys):
    err = _refused(tmp_path, capsys, conn='<population id="b" component="iaf" size="1"/>'
                   '<synapticConnection from="a[0]" to="b[0]" synapse="s" '
                   'destination="synapses"/>')
    assert "net.xml:15" in err and "integrate-and-fire" in err and "networks of one kind" in err


def test_dimensionless_current_cells_with_synapses_refused(tmp_path, capsys):
    """izhikevichCell takes a dimensionless current (basePointCurrentDL): NeuroML2 attaches no
    current synapse to it."""
    err = _refused(tmp_path, capsys, cell="izh", syn=EXP + '\n<izhikevichCell id="izh" '
                   'v0="-70mV" thresh="30mV" a="0.02" b="0.2" c="-50.0" d="2"/>')
    assert "net.xml:16" in err and "dimensionless current" in err


def test_synapse_onto_a_cell_without_attachments_refused(tmp_path, capsys):
    """iafTauCell has no synaptic attachment in NeuroML2 (Cells.xml)."""
    err = _refused(tmp_path, capsys, cell="tau", syn=EXP + '\n<iafTauCell id="tau" '
                   'leakReversal="-50mV" thresh="-55mV" reset="-70mV" tau="20ms"/>')
    assert "net.xml:16" in err and "no synaptic attachment" in err


def test_connection_onto_a_spike_source_refused(tmp_path, capsys):
    err = _refused(tmp_path, capsys, cell="sg", syn=EXP + '\n<spikeGenerator id="sg" '
                   'period="2ms"/>')
    assert "net.xml:16" in err and "spike source has no synapses" in err


def test_spike_source_beside_conductance_cells_refused(tmp_path, capsys):
    err = _refused(tmp_path, capsys, syn=EXP + '\n<spikeGenerator id="sg" period="2ms"/>',
                   conn='<population id="b" component="sg" size="1"/><synapticConnection '
                   'from="b[0]" to="a[1]" synapse="s" destination="synapses"/>')
    assert "net.xml:13" in err and "<spikeGenerator id='sg'>" in err
    assert "spikeGenerator populations run with integrate-and-fire type cells only" in err


def test_poisson_input_to_a_conductance_cell_refused(tmp_path, capsys):
    err = _refused(tmp_path, capsys, syn=EXP + '\n<poissonFiringSynapse id="pin" '
                   'averageRate="50 Hz" synapse="s" spikeTarget="./s"/>',
                   conn='<explicitInput target="a[0]" input="pin" destination="synapses"/>')
    assert "net.xml:13" in err and "<poissonFiringSynapse id='pin'>" in err
    assert "integrate-and-fire type cells only" in err
