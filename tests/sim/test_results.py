"""Batch results as tables."""

import numpy as np

from neuroscape.core.settings import SimSettings
from neuroscape.models import get_model, get_spec
from neuroscape.sim.engine import run_batch


def test_simulation_result_to_pandas_has_one_row_per_batch_row():
    spec = get_spec("ddm")
    p = np.tile(spec.params_from_mapping({"v": 0.5}), (6, 1))
    p[:, 0] = np.linspace(-1.0, 1.0, 6)
    res = run_batch(get_model("ddm"), p, settings=SimSettings(20_000.0, 1.0, 20_000.0, "euler"))
    df = res.to_pandas()
    assert list(df.columns) == [*spec.parameter_names, *spec.output_names, "ok", "error", "label"]
    assert len(df) == 6
    np.testing.assert_array_equal(df["v"].to_numpy(), p[:, 0])
    np.testing.assert_array_equal(df["rt"].to_numpy(), res["rt"])
    assert df["ok"].tolist() == res.ok.tolist() and df["label"].tolist() == res.labels
    assert df["error"].isna().all()
    assert df.attrs["units"] == {
        **{q.name: q.unit for q in spec.parameters},
        "choice": "1",
        "rt": "ms",
    }
    assert df.attrs["model"] == "ddm" and df.attrs["settings"]["duration_ms"] == 20_000.0


def test_failed_rows_keep_their_error_in_the_table():
    from neuroscape.core.stimuli import make_stimulus
    from neuroscape.sim.neuron_engine import NeuronBatch

    res = run_batch(
        NeuronBatch("hh", make_stimulus("step", amp=1e9)),
        [{"g_Na": 120.0}],
        settings=SimSettings(20.0, 0.01, 10.0, "rk4"),
    )
    df = res.to_pandas()
    assert not df["ok"][0] and np.isnan(df["rate"][0])
    assert df["error"][0].startswith("non-finite state: the rk4 step is unstable at dt=0.01 ms")
    assert df["label"][0] is None
