"""Channels written as equations against references the code did not produce:

(a) NEURON's hh rewritten as three channels (sodium and potassium in alpha/beta form from
    tests/data/channels/hh_*.yaml, a leak inline) gives the spike times of the built-in hh
    (neuroscape's engine) and of NEURON's hh, at 6.3 and 10 degC; so does the equation model
    hh (library/hh.yaml) taken as one channel;
(b) channels NEURON does not ship, the A-current of Connor & Stevens (1971) and Ih of Huguenard
    & McCormick (1992), against NEURON running the same channels from hand-written NMODL files
    compiled by nrnivmodl (tests/data/channels/*.mod).

Crank-Nicolson, dt 0.0125 ms, a step from 5 ms to the end of 150 ms at soma(0.5), as the spike
bar of issue 22; NEURON runs each row one after another on one built cell."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("neuron")

from neuroscape.core.stimuli import make_stimulus  # noqa: E402
from neuroscape.models.multicomp import load_cell  # noqa: E402
from neuroscape.reference.neuron_cell import load_mod_files, neuron_run_rows  # noqa: E402
from neuroscape.sim.cable_engine import run_cell  # noqa: E402

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "data"
CHANNELS = DATA / "channels"
DT, TSTOP, T_ON = 0.0125, 150.0, 5.0
N_SPIKES = 10
TOL_MS = 1e-9  # spike times: the same equations, so agreement to rounding
REC = [("soma", 0.5), ("dend", 1.0)]

# (values of the built-in cell, amp nA); the channel cell takes soma.na.gbar for soma.hh.gnabar
HH_ROWS = [
    ({"soma.hh.gnabar": 0.12, "dend.L": 400.0, "celsius": 6.3}, 0.5),
    ({"soma.hh.gnabar": 0.15, "dend.L": 700.0, "celsius": 6.3}, 0.6),
    ({"soma.hh.gnabar": 0.18, "dend.L": 250.0, "celsius": 10.0}, 0.4),
]
KA_IH_ROWS = [
    ({"soma.ka.gbar": 0.01, "dend.ih.gbar": 0.0005}, 0.4),
    ({"soma.ka.gbar": 0.03, "dend.ih.gbar": 0.001}, 0.6),
    ({"soma.ka.gbar": 0.005, "dend.ih.gbar": 0.002}, 0.4),
]


def _values(rows, rename=None):
    rename = rename or {}
    return {rename.get(k, k): np.array([v[k] for v, _ in rows]) for k in rows[0][0]}


def _ours(cell, values, amps):
    stim = make_stimulus("step", amp=amps, t_on=T_ON)
    return run_cell(cell, values, stimulus=stim, dt_ms=DT, duration_ms=TSTOP, record=REC)


def _neuron(cell, values, amps, suffixes=None):
    return neuron_run_rows(cell, values, amp_nA=amps, delay_ms=T_ON, dur_ms=1e9, tstop_ms=TSTOP,
                           dt_ms=DT, record=REC, suffixes=suffixes)  # fmt: skip


def _first(spikes) -> np.ndarray:
    assert len(spikes) >= N_SPIKES, f"only {len(spikes)} spikes"
    return np.asarray(spikes[:N_SPIKES])


@pytest.fixture(scope="module")
def hh_runs():
    builtin = load_cell(DATA / "cells" / "ball_stick.yaml")
    chans = load_cell(CHANNELS / "ball_stick_hh_channels.yaml")
    amps = [a for _, a in HH_ROWS]
    vals = _values(HH_ROWS)
    model = load_cell(CHANNELS / "ball_stick_hh_model.yaml")  # hh.yaml's currents
    return (_ours(builtin, vals, amps),
            _ours(chans, _values(HH_ROWS, {"soma.hh.gnabar": "soma.na.gbar"}), amps),
            _neuron(builtin, vals, amps),
            _ours(model, _values(HH_ROWS, {"soma.hh.gnabar": "soma.hhm.g_Na"}), amps))  # fmt: skip


def test_hh_as_channels_gives_the_builtin_hh(hh_runs):
    builtin, chans, _, _ = hh_runs
    for r in range(len(HH_ROWS)):
        d = np.abs(_first(chans.spikes[r]) - _first(builtin.spikes[r])).max()
        assert d <= TOL_MS, (r, d)
        assert len(chans.spikes[r]) == len(builtin.spikes[r])
        assert np.abs(chans.v[r] - builtin.v[r]).max() < 1e-7  # mV, soma and dendrite end


def test_hh_as_channels_gives_neurons_hh(hh_runs):
    _, chans, nrn, _ = hh_runs
    for r in range(len(HH_ROWS)):
        d = np.abs(_first(chans.spikes[r]) - _first(nrn[r].spikes)).max()
        assert d <= TOL_MS, (r, d)
        assert np.abs(chans.v[r] - nrn[r].v).max() < 1e-7


def test_the_equation_model_hh_as_a_channel_gives_neurons_hh(hh_runs):
    """src/neuroscape/models/library/hh.yaml (the point model's equations) as the soma's
    channel: NEURON's hh to rounding."""
    _, _, nrn, model = hh_runs
    for r in range(len(HH_ROWS)):
        d = np.abs(_first(model.spikes[r]) - _first(nrn[r].spikes)).max()
        assert d <= TOL_MS, (r, d)
        assert np.abs(model.v[r] - nrn[r].v).max() < 1e-7


@pytest.fixture(scope="module")
def ka_ih_runs():
    try:
        load_mod_files([CHANNELS / "ka_connor_stevens.mod", CHANNELS / "ih_huguenard.mod"])
    except (RuntimeError, FileNotFoundError) as exc:  # no C compiler for nrnivmodl
        pytest.skip(f"nrnivmodl: {exc}")
    cell = load_cell(CHANNELS / "ball_stick_ka_ih.yaml")
    vals, amps = _values(KA_IH_ROWS), [a for _, a in KA_IH_ROWS]
    nrn = _neuron(cell, vals, amps, suffixes={"ka": "ka_cs", "ih": "ih_hm"})
    return cell, _ours(cell, vals, amps), nrn


def test_channels_neuron_lacks_against_nmodl(ka_ih_runs):
    cell, ours, nrn = ka_ih_runs
    for r in range(len(KA_IH_ROWS)):
        d = np.abs(_first(ours.spikes[r]) - _first(nrn[r].spikes)).max()
        assert d <= TOL_MS, (r, d)
        assert np.abs(ours.v[r] - nrn[r].v).max() < 1e-7


def test_the_channels_change_the_firing(ka_ih_runs):
    """Without the A-current and Ih the same cell fires otherwise (the A-current delays each
    spike: Connor & Stevens' point), so the comparison above tests the channels, not hh."""
    cell, ours, _ = ka_ih_runs
    none = _ours(cell, {"soma.ka.gbar": np.array([0.0]), "dend.ih.gbar": np.array([0.0])}, [0.6])
    assert none.spikes[0][0] < ours.spikes[1][0] - 0.2
    assert np.abs(_first(none.spikes[0]) - _first(ours.spikes[1])).max() > 1.0
