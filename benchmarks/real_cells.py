"""AdEx fitted to real step families: held-out spike counts, per cell and seed.

Runs ``neuroscape example fit-real-cell`` (``neuroscape.cli.example_cmds.fit_real_cell``, the
defaults a user gets: CMA-ES, budget 2,000) on each recording, seeds 0, 1, 2 by default, one
fit at a time, and tallies the held-out spiking sweeps whose spike count is within max(1 spike,
15%) of the recording's (issue 20's bar: at least 80% of them, over real cells).

The recordings: the shipped tests/data/recordings/171116sh_0018.abf and four more of pyABF's
sample recordings (Scott W. Harden, MIT licence; github.com/swharden/pyABF, data/abfs/), which
are not shipped: give the folder holding them.

    python benchmarks/real_cells.py --abfs DIR [--cells a.abf,b.abf] [--seeds 0,1,2]
        [--budget 2000] [--method cmaes] [--set NAME=JSON ...] [--json OUT.json]
        [--markdown OUT.md]

Measured (2 shared cores, one fit at a time; held-out spiking sweeps within max(1, 15%) at seeds
0-2; wall per fit), first with eFEL's peak rule for the recorded spikes:

    defaults                                   101/129 = 78%  (117 outside block: 86%), 40 s
    --set FIT_REAL_CELL_BIAS=true               99/129 = 77%, 45 s
    spike_count scale (1 spike, 15%)            95/129 = 74%, 39 s
    voltage features scaled by the SD of the
      baselines across the fitted sweeps        97/129 = 75%, 45 s
    objectives spike_count, fI, subthreshold
      (no spike_timing)                        102/129 = 79%, 38 s
    seeds 3-5 on 17o05028, 171116sh_0019 and the fast-spiking cell: defaults 50/78, bias 50/78,
      no spike_timing 49/78 (over seeds 0-5 of those three: 100, 98 and 100 of 156)

then with ``detect_peaks`` dropping crossings under 10 mV high (171116sh_0019 sits in block at
-20 mV from 1100 pA, and eFEL's rule counted its noise crossings: 48 and 47 "spikes" where it
fires 14 and 12; the other four cells' spikes are unchanged):

    defaults                                   103/129 = 79.8%  (0019: 4, 3, 4 of 10,
                                                 was 2, 4, 3; seeds 3-5: 4, 4, 4, was 3, 3, 3)
    seeds 3-5 on fsi, 17o05028 and 0019: 21 + 20 + 12 = 53/78 (was 50/78); seeds 0-5 of
      those three: 105 of 156 (was 100)
    on fsi, 17o05028 and 0019 (defaults there: 21 + 20 + 11 = 52/78):
    --set neuroscape.fit.protocols.MISSING_SD=5  47/78, measured with 17o05028's E_L starting
                                                 at -55 mV (defaults in that setting: 50/78):
                                                 0019 5, 5, 4 (+3), 17o05028 4, 4, 4 (was 6, 5,
                                                 7): the 250 penalty for a missing ISI_CV is
                                                 what makes the model fire spontaneously, as
                                                 17o05028 does
    spike_count and fI_rate weighted 3x
      (FIT_REAL_CELL_TOLERANCES spike_count
      (0.333, 0), fI_rate (0.333, 0.0333))      50/78
    IPOP (FIT_REAL_CELL_METHOD_OPTIONS {"popsize_growth": 2, "first_share": 0.25})
                                                46/78 (17o05028: 6, 4, 3)
    CMA-ES best-of-3 (FIT_REAL_CELL_METHOD_OPTIONS {"runs": 3}, eFEL's rule, the rest below
      from the baselines): 100/129 against 99/129 in the same setting; no narrower spread
      (17o05028: 5, 6, 7)

On a Zen 4 host (2 cores, 15-33 s per fit) the defaults give the same 103/129 = 79.8% (0018 6, 6,
6 of 6; fsi 7, 7, 7 of 8; 17o05028 6, 6, 8 of 8; 0019 4, 3, 4 of 10; 18711001 11, 11, 11 of 11).
There, on fsi, 17o05028 and 0019 (defaults 52/78):

    --budget 4000                               48/78 (17o05028: 6, 5, 5), 28 s per fit

and on 17o05028 the seed that predicts best (8/8) has the worst fitted-sweep error (121 against
92 and 101): a better optimum of this objective does not predict the held-out sweeps better.

The rest read from the baselines of every sweep (``passive_properties``; 17o05028: -45 mV)
rather than from the sweeps without a spontaneous spike (-59 mV) moves only E_L's start on
17o05028 (its box is [-70, -55] mV either way): over seeds 0-5 it gives 33 of 48 (E_L starting
at -55 mV) or 35 (starting at the box's centre, -60 mV) against 40 from -59 mV, so E_L comes
from the quiet sweeps (``PassiveEstimate.quiet_rest_mV``) and the rest is reported as read.

Cells not in the pool, seed 0, defaults (pyABF's other sample recordings; most of its 83 files
are voltage clamp, gap-free or single sweeps, which are refused in one line): 18713001 11 of 11
held-out spiking sweeps; 190619B_0003 (an ABF1 file, readable since its protocol is rebuilt by
pyabf; shipped in tests/data/recordings) 1 of 3 (1 of 2 outside block: its f-I curve falls
from 180 pA, 6 then 5 spikes, and it is in block from 300 pA); File_axon_6 16 of 16 (sixteen
repeats of one 2-nA pulse, one spike each); 2020_03_02_0000 5 of 8, a cell that rests at
-3.4 mV (now flagged by ``passive_properties``), not a living neuron's recording.

With ``onset_rise`` in the subthreshold objective (the charging in the first 20 ms of a step,
ahead of its first spike; ``fit.protocols.ONSET_SKIP_MS``), on the same Zen 4 host: 104/129 =
80.6% (0018 6, 6, 6 of 6; fsi 7, 7, 7 of 8; 17o05028 7, 6, 7 of 8; 0019 4, 4, 4 of 10; 18711001
11, 11, 11 of 11); seeds 3-5 on fsi, 17o05028 and 0019: 21 + 18 + 14 = 53/78 (the same as
without it); over seeds 0-5 of those three 106 of 156 (was 105). Its point is the passive
membrane: 0019's fitted half has no hyperpolarising step (its -100 pA sweep is held out), and
without the feature the fit put g_L at 33 nS and C at 417 pF against the 9.4 nS and 336 pF of
that held-out step; with it 14 nS and 215 pF, and the 100-pA sweep's model count rises from 0
to 1 (recorded 3). The unseen cells at seed 0 are unchanged (18713001 11/11, 190619B_0003 1/3,
File_axon_6 16/16, 2020_03_02_0000 5/8). A 50-ms window (``--set
neuroscape.fit.protocols.ONSET_WINDOW_MS=50``) on fsi, 17o05028 and 0019, seeds 0-2: 53/78, as
with 20 ms (fsi 7, 7, 7; 17o05028 7, 6, 5; 0019 4, 5, 5).

The misses: 171116sh_0019's depolarisation-block sweeps (4 per seed, beyond AdEx), its rheobase
(3 spikes at 100 pA, the model 0) and its f-I curve falling before the block (16 spikes at
1000 pA, 14 at 1100 pA, the model 17-19); the fast-spiking cell's 0-pA sweep (10 spontaneous
spikes where its neighbours fire 2 and 18 with the step); 17o05028's near-rheobase sweeps (the
model 2-4 spikes over at 10 and 30 pA; its baseline drifts from -44 to -61 mV over the family).
Those are after the step (seed 0): the cell, spontaneously firing before the step, is silent
for the 500 ms after steps of 10 pA and more (a slow afterhyperpolarisation), where the model
fires 3-4 spontaneous spikes again; in the step the counts agree (6 and 10 at 10 and 30 pA).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import neuroscape.cli.example_cmds as ex
from neuroscape.cli.example_cmds import FIT_REAL_CELL_BUDGET, SHIPPED_RECORDING

CELLS = (
    "171116sh_0018.abf",
    "2019_07_24_0055_fsi.abf",
    "17o05028_ic_steps.abf",
    "171116sh_0019.abf",
    "18711001.abf",
)


def run(paths, seeds, budget, method) -> list[dict]:
    rows = []
    for path in paths:
        for seed in seeds:
            with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                d = ex.fit_real_cell(out, path, budget=budget, seed=seed, method=method)
                wall = time.perf_counter() - t0
            row = {
                "cell": Path(path).name,
                "seed": seed,
                "within": d["held_out_spiking_within"],
                "spiking": d["held_out_spiking"],
                "within_outside_block": d["held_out_spiking_within_outside_block"],
                "spiking_outside_block": d["held_out_spiking_outside_block"],
                "misses": [
                    (e["sweep"], round(e["current_pA"]), e["spikes_recorded"], e["spikes_model"])
                    for e in d["held_out"]
                    if e["spikes_recorded"] > 0
                    and not (
                        e["spikes_model"] is not None
                        and abs(e["spikes_model"] - e["spikes_recorded"])
                        <= max(1.0, 0.15 * e["spikes_recorded"])
                    )
                ],
                "best": d["best"],
                "error_sd": d["error_sd"],
                "wall_s": wall,
            }
            rows.append(row)
            print(
                f"{row['cell']} seed {seed}: {row['within']}/{row['spiking']} within "
                f"(misses: sweep, pA, recorded, model {row['misses']}), {wall:.0f} s",
                flush=True,
            )
    return rows


def table(rows) -> str:
    lines = [
        "| cell | seeds | held-out spiking within max(1, 15%) | outside block | wall per fit (s) |",
        "|---|---|---|---|---:|",
    ]
    for cell in dict.fromkeys(r["cell"] for r in rows):
        rr = [r for r in rows if r["cell"] == cell]
        per = ", ".join(f"{r['within']}/{r['spiking']}" for r in rr)
        per_nb = ", ".join(f"{r['within_outside_block']}/{r['spiking_outside_block']}" for r in rr)
        wall = sum(r["wall_s"] for r in rr) / len(rr)
        seeds = ",".join(str(r["seed"]) for r in rr)
        lines.append(f"| {cell} | {seeds} | {per} | {per_nb} | {wall:.0f} |")
    w, s = sum(r["within"] for r in rows), sum(r["spiking"] for r in rows)
    wb = sum(r["within_outside_block"] for r in rows)
    sb = sum(r["spiking_outside_block"] for r in rows)
    lines.append(
        f"| all | | {w}/{s} = {100 * w / max(s, 1):.1f}% | {wb}/{sb} = "
        f"{100 * wb / max(sb, 1):.1f}% | {sum(r['wall_s'] for r in rows) / len(rows):.0f} |"
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--abfs", default=None, help="folder with pyABF's sample recordings")
    ap.add_argument("--cells", default=",".join(CELLS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--budget", type=int, default=FIT_REAL_CELL_BUDGET)
    ap.add_argument("--method", default="cmaes")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=JSON",
                    help="an experiment: set a constant of neuroscape.cli.example_cmds (e.g. "
                    "FIT_REAL_CELL_BIAS=true, FIT_REAL_CELL_TOLERANCES='{\"spike_count\": "
                    "[1, 0.15]}'), or of another module's "
                    "(neuroscape.fit.protocols.MISSING_SD=20)")  # fmt: skip
    ap.add_argument("--json", default=None)
    ap.add_argument("--markdown", default=None)
    a = ap.parse_args(argv)
    paths = []
    for name in a.cells.split(","):
        p = Path(a.abfs) / name if a.abfs else None
        if p is None or not p.is_file():
            if name == SHIPPED_RECORDING.name:
                p = SHIPPED_RECORDING
            else:
                print(f"{name}: not found in --abfs {a.abfs!r}; allowed: a folder holding it",
                      file=sys.stderr)  # fmt: skip
                return 2
        paths.append(p)
    for item in a.set:
        name, _, value = item.partition("=")
        mod, attr = ex, name
        if "." in name:  # a constant of another module: neuroscape.fit.protocols.MISSING_SD
            import importlib

            mod_name, _, attr = name.rpartition(".")
            try:
                mod = importlib.import_module(mod_name)
            except ImportError:
                mod = None
        if mod is None or not hasattr(mod, attr):
            print(f"--set {name}: not a constant of neuroscape.cli.example_cmds, nor a "
                  "module's (allowed: NAME or package.module.NAME)", file=sys.stderr)  # fmt: skip
            return 2
        v = json.loads(value)
        if isinstance(v, dict):  # tolerances: pairs as tuples
            v = {k: tuple(x) if isinstance(x, list) else x for k, x in v.items()}
        setattr(mod, attr, v)
        print(f"{name} = {v!r}", flush=True)
    seeds = [int(s) for s in a.seeds.split(",")]
    rows = run(paths, seeds, a.budget, a.method)
    md = table(rows)
    print(md)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    if a.markdown:
        Path(a.markdown).write_text(md + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
