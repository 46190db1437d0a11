"""A Brian2 network as a neuroscape model: a small excitatory-inhibitory network of LIF neurons.

Copy this file, replace ``simulate`` by your own Brian2 script, and declare your parameters and
outputs. Every neuroscape command then takes the model as ``path/to/brian2_network.py:MODEL``:

    neuroscape params examples/brian2_network.py:MODEL
    neuroscape sweep examples/brian2_network.py:MODEL --n 64 --db net.db --workers 2
    neuroscape surrogate train --db net.db --out net_surrogate
    neuroscape tune --surrogate net_surrogate --target rate_e=30 rate_i=25 --verify
    neuroscape fit examples/brian2_network.py:MODEL --target target.json --measure outputs

(``examples/run_pipeline.sh`` runs all of them.)

The network: a sparse, randomly connected network of leaky integrate-and-fire neurons in the
style of Brunel (2000): 80 excitatory (E) and 20 inhibitory (I) neurons, connection probability
0.2, delta synapses with a 1.5 ms delay: a spike of an E neuron moves the potential of an E
target by w_e and of an I target by 3 w_e; a spike of an I neuron moves its target by -g w_e.
Each neuron also receives 100 independent Poisson inputs of rate ``nu_ext`` and weight w_e.
Potentials are in mV relative to rest; threshold 20 mV, reset 10 mV, refractory period 2 ms;
membrane time constant 20 ms (E) and 10 ms (I). The outputs are the population rates of E and
I over 100-400 ms (the first 100 ms are a transient). The seed draws the connections, the
initial potentials and the Poisson inputs, so each row is one realisation of the network.

How neuroscape runs it: each row calls ``simulate(params, seed)`` in a separate worker process.
``start_scope()`` makes every call build a fresh network, and ``seed(...)`` makes it
reproducible: the same (parameters, seed) gives the same outputs in any process. Brian2 runs
with its pure-numpy code generation target here, so no worker waits for a C++/Cython compile
(measured on this network on a busy 2-core machine: about 0.3 s a row with numpy; about the
same with Cython once compiled, but its first compile into a fresh cache took about 50 s).
"""

from __future__ import annotations

from neuroscape import FunctionModel, Output, Parameter

N_E, N_I = 80, 20
P_CONNECT = 0.2
N_EXT = 100  # Poisson inputs per neuron
DURATION_MS = 400.0
WINDOW_MS = (100.0, 400.0)  # rates are counted here (after the transient)
DT_MS = 0.1
DELAY_MS = 1.5
EI_GAIN = 3.0  # an E spike moves an I neuron 3x as far as an E neuron


def simulate(p: dict[str, float], seed: int) -> dict[str, float]:
    """One row: the E and I population rates (Hz) of one realisation of the network.

    p: w_e (mV), g (1, inhibitory weight / excitatory weight), nu_ext (Hz); seed: the row's
    seed (a uint64 that neuroscape derives from the sweep seed and the row index).
    """
    import brian2 as b2  # imported here: the parent process only needs the declaration
    from brian2 import Hz, ms, mV

    b2.prefs.codegen.target = "numpy"  # no compiler run in any worker process
    b2.BrianLogger.suppress_name("brian2.codegen")  # keep the workers' stderr quiet
    b2.start_scope()  # a fresh set of objects for every row
    b2.defaultclock.dt = DT_MS * ms
    b2.seed(int(seed) % 2**32)  # Brian2 takes a 32-bit seed

    eqs = "dv/dt = -v / tau : volt (unless refractory)\ntau : second"
    neurons = b2.NeuronGroup(
        N_E + N_I,
        eqs,
        threshold="v > 20*mV",
        reset="v = 10*mV",
        refractory=2 * ms,
        method="exact",
    )
    exc, inh = neurons[:N_E], neurons[N_E:]
    exc.tau = 20 * ms
    inh.tau = 10 * ms
    neurons.v = "10*mV * rand()"  # random start below threshold (from the seed)

    w_e = p["w_e"] * mV
    s_ee = b2.Synapses(exc, exc, on_pre="v_post += w_e", delay=DELAY_MS * ms)
    s_ee.connect(p=P_CONNECT)
    s_ei = b2.Synapses(exc, inh, on_pre="v_post += EI_GAIN * w_e", delay=DELAY_MS * ms)
    s_ei.connect(p=P_CONNECT)
    s_i = b2.Synapses(inh, neurons, on_pre="v_post -= g * w_e", delay=DELAY_MS * ms)
    s_i.connect(p=P_CONNECT)
    drive = b2.PoissonInput(neurons, "v", N=N_EXT, rate=p["nu_ext"] * Hz, weight=w_e)
    spikes = b2.SpikeMonitor(neurons)

    net = b2.Network(neurons, s_ee, s_ei, s_i, drive, spikes)
    net.run(DURATION_MS * ms, namespace={"w_e": w_e, "g": p["g"], "EI_GAIN": EI_GAIN})

    t = spikes.t / ms
    i = spikes.i[:]
    inside = (t >= WINDOW_MS[0]) & (t < WINDOW_MS[1])
    seconds = (WINDOW_MS[1] - WINDOW_MS[0]) / 1000.0
    n_e = int((inside & (i < N_E)).sum())
    n_i = int((inside & (i >= N_E)).sum())
    return {"rate_e": n_e / (N_E * seconds), "rate_i": n_i / (N_I * seconds)}


MODEL = FunctionModel(
    name="brian2_ei_network",
    parameters=[
        # name, default, low, high, unit
        Parameter("w_e", 0.5, 0.4, 0.6, "mV", "excitatory jump of the membrane potential"),
        Parameter("g", 5.0, 3.0, 8.0, "1", "relative strength of inhibition (Brunel 2000)"),
        Parameter("nu_ext", 20.0, 15.0, 25.0, "Hz", "rate of each of the 100 Poisson inputs"),
    ],
    outputs=[
        Output("rate_e", "Hz", "mean rate of the 80 E neurons over 100-400 ms"),
        Output("rate_i", "Hz", "mean rate of the 20 I neurons over 100-400 ms"),
    ],
    simulate=simulate,
    batched=False,
    timeout_s=60,  # a row takes 0.3-1 s; one past 60 s is ended and stored as failed
    description="Brian2 E-I network of LIF neurons with Poisson drive (Brunel 2000 style)",
)
