"""The batched engine on the circuit: determinism, chunk independence, bounds, failures."""

import numpy as np
import pytest

import neuroscape as ns
from neuroscape.core.settings import ChunkResult, Recording, SettingsError, SimSettings
from neuroscape.models.cortical import SPEC, circuit_connectivity
from neuroscape.sim.engine import batch_for, run_batch

SHORT = dict(duration_ms=300.0, window_ms=200.0)


def test_same_seeds_give_bitwise_identical_results(domain_sample):
    a = ns.simulate("cortical", domain_sample, seed=3, **SHORT)
    b = ns.simulate("cortical", domain_sample, seed=3, **SHORT)
    np.testing.assert_array_equal(a.outputs, b.outputs)
    c = ns.simulate("cortical", domain_sample, seed=4, **SHORT)
    assert not np.array_equal(a.outputs, c.outputs)


def test_rows_do_not_depend_on_chunking_workers_or_batch_size(domain_sample):
    ref = ns.simulate("cortical", domain_sample, seed=1, chunk_size=8, workers=2, **SHORT)
    for kw in (dict(chunk_size=1, workers=1), dict(chunk_size=3, workers=2)):
        got = ns.simulate("cortical", domain_sample, seed=1, **kw, **SHORT)
        np.testing.assert_array_equal(ref.outputs, got.outputs)
    # a row keeps its stream when it is simulated in a bigger batch at the same index
    bigger = np.vstack([domain_sample, domain_sample[:2]])
    got = ns.simulate("cortical", bigger, seed=1, **SHORT)
    np.testing.assert_array_equal(ref.outputs, got.outputs[:8])


def test_identical_rows_get_independent_noise():
    # spike trains, not rates: two rows may share a population count by chance (about 1 in 15
    # for four rows of 200 ms), never a spike train
    p = np.tile(SPEC.params_from_mapping({}), (4, 1))
    r = ns.simulate("cortical", p, seed=0, record_spikes=True, **SHORT)
    trains = {(t.tobytes(), i.tobytes()) for t, i in r.spikes}
    assert len(trains) == 4


def test_graph_round_trip_is_bitwise_equal_to_the_seeded_graph(tmp_path, domain_sample):
    path = circuit_connectivity(7).save(tmp_path / "g.npz")
    seeded = ns.simulate("cortical", domain_sample[:3], seed=2, conn_seed=7, **SHORT)
    loaded = ns.simulate("cortical", domain_sample[:3], seed=2, connectivity=path, **SHORT)
    np.testing.assert_array_equal(seeded.outputs, loaded.outputs)
    assert loaded.provenance["connectivity_sha256"] == seeded.provenance["connectivity_sha256"]
    other = ns.simulate("cortical", domain_sample[:3], seed=2, conn_seed=8, **SHORT)
    assert not np.array_equal(seeded.outputs, other.outputs)


def test_weak_drive_is_near_silent_and_strong_drive_fires():
    weak = ns.simulate("cortical", {"eta_ext_E": 25.0}, seed=0)
    strong = ns.simulate("cortical", {"eta_ext_E": 3000.0, "eta_ext_I_rel": 2.0}, seed=0)
    assert weak["r_E"][0] < 0.5 and weak["r_I"][0] < 1.0
    assert strong["r_E"][0] > 20.0 and strong["r_I"][0] > 60.0


def test_recorded_spikes_agree_with_the_rates():
    r = ns.simulate("cortical", {}, seed=0, record_spikes=True, record_v=[0, 230], **SHORT)
    t, i = r.spikes[0]
    in_win = t >= SHORT["duration_ms"] - SHORT["window_ms"]
    r_e = np.count_nonzero(i[in_win] < 225) / 225 / 0.2
    assert r_e == pytest.approx(r["r_E"][0])
    assert r.voltages.shape == (1, 2, 3000)
    v = r.voltages[0]
    assert v.max() < 1.0 and v.min() > -2 / 3  # reset below threshold; above V_I
    # spike steps of neuron 230 are where its trace sits at V_R after a rise
    n230 = np.sort(t[i == 230])
    assert len(n230) > 0 and np.all(v[1, np.round(n230 / 0.1).astype(int)] == 0.0)


@pytest.mark.slow  # four schemes and three steps of the circuit: about a minute
def test_integrators_and_finer_steps_converge_to_the_same_rates():
    # 500 ms transient as before, 500 ms window (was 1000 ms): the bar's noise part is 4 standard
    # errors estimated from the rows themselves, so it widens by ~sqrt(2) with the shorter window;
    # the 5% systematic part is unchanged
    p = np.tile(SPEC.params_from_mapping({"eta_ext_E": 1500.0}), (6, 1))
    ref = ns.simulate("cortical", p, seed=0, duration_ms=1000.0, window_ms=500.0)
    for kw in (dict(integrator="rk4"), dict(dt_ms=0.05), dict(integrator="euler", dt_ms=0.05)):
        got = ns.simulate("cortical", p, seed=10, duration_ms=1000.0, window_ms=500.0, **kw)
        se = np.sqrt(ref.outputs.var(0, ddof=1) / 6 + got.outputs.var(0, ddof=1) / 6)
        diff = np.abs(ref.outputs.mean(0) - got.outputs.mean(0))
        assert np.all(diff < 4 * se + 0.05 * np.abs(ref.outputs.mean(0))), (kw, diff, se)


def test_bad_settings_are_refused():
    with pytest.raises(SettingsError, match=r"dt_ms=0.5 is too coarse .* allowed dt_ms <= 0.2"):
        ns.simulate("cortical", {}, dt_ms=0.5)
    with pytest.raises(SettingsError, match="window_ms=5000"):
        ns.simulate("cortical", {}, window_ms=5000.0)
    with pytest.raises(SettingsError, match="workers=99"):
        ns.simulate("cortical", {}, workers=99, **SHORT)
    with pytest.raises(SettingsError, match="unknown device 'tpu'"):
        ns.simulate("cortical", {}, device="tpu", **SHORT)
    with pytest.raises(SettingsError, match="seed=-1"):
        ns.simulate("cortical", {}, seed=-1, **SHORT)


def test_a_crashing_chunk_is_recorded_as_failed_and_the_rest_completes():
    model = batch_for("cortical", conn_seed=0)
    real = model.run_chunk
    calls = []

    def flaky(params, keys, settings, device, recording):
        calls.append(len(params))
        if len(calls) == 2:
            raise RuntimeError("simulated crash")
        return real(params, keys, settings, device, recording)

    model.run_chunk = flaky
    p = np.tile(SPEC.params_from_mapping({}), (6, 1))
    res = run_batch(model, p, settings=SimSettings(**SHORT), chunk_size=2)
    assert res.ok.tolist() == [True, True, False, False, True, True]
    assert res.errors[2] == "RuntimeError: simulated crash"
    assert np.isnan(res.outputs[2:4]).all() and np.isfinite(res.outputs[[0, 1, 4, 5]]).all()


def test_non_finite_rows_are_flagged(monkeypatch):
    model = batch_for("cortical", conn_seed=0)

    def nan_chunk(params, keys, settings, device, recording):
        out = np.full((len(params), 2), np.nan)
        return ChunkResult(out, np.zeros(len(params), bool), ["non-finite state"] * len(params))

    monkeypatch.setattr(model, "run_chunk", nan_chunk)
    res = run_batch(
        model, SPEC.params_from_mapping({}), settings=SimSettings(**SHORT), recording=Recording()
    )
    assert not res.ok[0] and res.errors[0] == "non-finite state"


def _chunk_sizes(model, n, monkeypatch=None, target_s=None, **kw):
    """The rows of every chunk run_batch gives ``model`` for ``n`` rows of 5 ms."""
    import neuroscape.sim.engine as engine

    if target_s is not None:
        monkeypatch.setattr(engine, "CHUNK_TARGET_S", target_s)
    real, sizes = model.run_chunk, []

    def spy(params, keys, settings, device, recording):
        sizes.append(len(params))
        return real(params, keys, settings, device, recording)

    model.run_chunk = spy
    settings = SimSettings.for_model(model.spec, duration_ms=5.0, window_ms=5.0)
    run_batch(model, np.tile(model.spec.params_from_mapping({}), (n, 1)), settings=settings,
              workers=2, **kw)  # fmt: skip
    return sizes


def test_single_neurons_start_in_wide_chunks_networks_in_narrow_ones_then_chunks_grow(
    monkeypatch,
):
    """A launch on 64 single neurons costs about 25% more per row than one on 1,024 (measured
    on LIF): run_batch's CPU chunk is 1,024 rows for a single-neuron batch (a sweep's batch
    included), and the first one 64 for a network on 2 threads (its per-synapse arrays are per
    row). A network's later chunks take about CHUNK_TARGET_S at the rate of the one before, in
    whole first chunks, up to 16 of them: with no time to fill they stay at the first size, with
    all the time in the world the rest comes in one chunk; a recording run keeps 16-row chunks."""
    from neuroscape.core.settings import Recording
    from neuroscape.core.stimuli import make_stimulus

    def lif():
        return batch_for("lif", stimulus=make_stimulus("step", amp=2.0))

    def circuit():
        return batch_for("cortical", conn_seed=0)

    assert _chunk_sizes(lif(), 2500, monkeypatch, 0.0) == [1024, 1024, 452]
    assert _chunk_sizes(circuit(), 130, monkeypatch, 0.0) == [64, 64, 2]
    assert _chunk_sizes(lif(), 2500, monkeypatch, 1e9) == [1024, 1024, 452]
    assert _chunk_sizes(circuit(), 1100, monkeypatch, 1e9) == [64, 1024, 12]
    assert _chunk_sizes(circuit(), 40, monkeypatch, 1e9,
                        recording=Recording(spikes=True)) == [16, 16, 8]  # fmt: skip
    assert _chunk_sizes(circuit(), 130, monkeypatch, 1e9, chunk_size=50) == [50, 50, 30]


def test_a_chunk_takes_about_the_target_time_in_whole_units():
    from neuroscape.sim.engine import chunk_rows

    assert chunk_rows(0.01, 64, 2.0, 1024) == 192  # 2 s / 10 ms = 200 rows: 3 units
    assert chunk_rows(1e-4, 64, 2.0, 1024) == 1024  # capped
    assert chunk_rows(10.0, 64, 2.0, 1024) == 64  # at least one unit
    assert chunk_rows(0.0, 64, 2.0, 1024) == 1024  # too fast to time: the largest
    assert chunk_rows(float("nan"), 64, 2.0, 1024) == 1024


def test_every_library_batch_declares_the_kind_that_sizes_its_chunks():
    """run_batch reads ``model.kind`` to size its chunks; a batch class without it once made every
    single neuron run in network-sized chunks, silently. Every library model's batch declares it,
    and the batch's kind is the model's (a batch without one fails loudly in run_batch)."""
    import neuroscape.models as models

    seen = set()
    for name in models.names():
        model = models.get_model(name)
        kind = batch_for(name).kind
        assert kind == model.kind, name
        seen.add(kind)
    assert {"neuron", "network", "theory"} <= seen

    class NoKind:
        spec = SPEC

        def check_settings(self, settings):
            pass

        def run_chunk(self, *args):
            raise AssertionError("never reached")

    with pytest.raises(AttributeError, match="kind"):
        run_batch(NoKind(), np.tile(SPEC.params_from_mapping({}), (2, 1)))
