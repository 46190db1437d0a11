#!/usr/bin/env bash
# The whole neuroscape pipeline on a model of your own, from the command line.
#
#   examples/run_pipeline.sh MODEL_REF OUTDIR NAME=VALUE [NAME=VALUE ...]
#
#   examples/run_pipeline.sh examples/neuron_cell.py:MODEL out/cell rate=80 v_mean=-54
#   examples/run_pipeline.sh examples/brian2_network.py:MODEL out/net rate_e=30 rate_i=25
#
# MODEL_REF is path/to/file.py:NAME, NAME being a neuroscape model object in that file. The
# NAME=VALUE pairs are target values of the model's declared outputs, in their declared units;
# tune and fit look for parameters that produce them. OUTDIR must not exist yet.
#
# How to add your own model: write a Python file that defines
#
#   MODEL = neuroscape.FunctionModel(
#       name="my_cell",
#       parameters=[neuroscape.Parameter("gnabar", 0.12, 0.08, 0.16, "S/cm2"), ...],
#       outputs=[neuroscape.Output("rate", "Hz"), ...],
#       simulate=run_cell,   # run_cell(p: dict[str, float], seed: int) -> dict[str, float]
#       timeout_s=60,        # per row; a row past it is stored as failed
#   )
#
# (see neuron_cell.py and brian2_network.py next to this script), then run this script on
# my_file.py:MODEL. Nothing needs registering: every command takes the file reference. The
# database and the surrogate record the file's SHA-256: a sweep resumed after the file changed
# is refused, and tune --verify refuses to simulate a changed file (give --model to override).
#
# Sizes (environment variables; the defaults are a small demonstration, minutes on 2 cores):
#   N=64 rows in the sweep, WORKERS=2 worker processes, SEED=0 noise seed,
#   HIDDEN=64,64 EPOCHS=1500 of the surrogate, STARTS=16 STEPS=300 TOL=2 of tune,
#   FIT_BUDGET=60 simulations of the fit (CMA-ES over every declared parameter).
# NEUROSCAPE (default: neuroscape) and PYTHON (default: python) name the programs to use.
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: $0 MODEL_REF OUTDIR NAME=VALUE [NAME=VALUE ...]" >&2
    exit 2
fi
MODEL=$1
OUT=$2
shift 2
TARGETS=("$@")
if [ -e "$OUT" ]; then
    echo "$0: $OUT exists; give a new folder" >&2
    exit 2
fi
mkdir -p "$OUT"

NS=${NEUROSCAPE:-neuroscape}
PY=${PYTHON:-python}
N=${N:-64}
WORKERS=${WORKERS:-2}
SEED=${SEED:-0}
HIDDEN=${HIDDEN:-64,64}
EPOCHS=${EPOCHS:-1500}
STARTS=${STARTS:-16}
STEPS=${STEPS:-300}
TOL=${TOL:-2}
FIT_BUDGET=${FIT_BUDGET:-60}

# run one command, echoing it and its wall time (the lines a reader compares with their own)
step() {
    echo "\$ $*"
    local t0 t1
    t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N)
    echo "[$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s]"
}

# 1. the declaration: parameters (units, defaults, bounds) and outputs
step "$NS" params "$MODEL"
"$NS" params "$MODEL" --json > "$OUT/params.json"

# 2. a Sobol sample of the declared box, one row per worker process at a time; rerunning this
#    exact command resumes an interrupted sweep
step "$NS" sweep "$MODEL" --n "$N" --db "$OUT/runs.db" --workers "$WORKERS" --seed "$SEED" \
    --quiet
step "$NS" db summary "$OUT/runs.db"

# 3. a neural-network surrogate of parameters -> outputs, trained on the sweep
step "$NS" surrogate train --db "$OUT/runs.db" --out "$OUT/surrogate" --hidden "$HIDDEN" \
    --activation tanh --epochs "$EPOCHS" --patience 200 --quiet

# 4. tune: gradient descent through the surrogate to the targets, then --verify simulates every
#    candidate with the real model (found again from the file the surrogate records)
step "$NS" tune --surrogate "$OUT/surrogate" --target "${TARGETS[@]}" --starts "$STARTS" \
    --steps "$STEPS" --tol "$TOL" --seed "$SEED" --verify --out "$OUT/candidates.csv" --quiet

# 5. fit the real model to the same targets: {"outputs": {NAME: VALUE, ...}} with the measure
#    "outputs" (relative error of each output, summed)
"$PY" - "$OUT/target.json" "${TARGETS[@]}" <<'EOF'
import json, sys
pairs = dict(a.split("=", 1) for a in sys.argv[2:])
with open(sys.argv[1], "w") as f:
    json.dump({"outputs": {k: float(v) for k, v in pairs.items()}}, f, indent=1)
EOF
FREE=()
for p in $("$PY" -c 'import json, sys; print(" ".join(p["name"] for p in json.load(open(sys.argv[1]))["parameters"]))' "$OUT/params.json"); do
    FREE+=(--free "$p")
done
step "$NS" fit "$MODEL" --target "$OUT/target.json" --measure outputs "${FREE[@]}" \
    --budget "$FIT_BUDGET" --seed "$SEED" --workers "$WORKERS" --out "$OUT/fit"
