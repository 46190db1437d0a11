"""The default box of NeuroML2 parameters (``cells.default_bounds``): a strictly positive
quantity (a slope factor, a time constant, a capacitance, a conductance, a rate) gets x/2 to 2x
and a hard low of 0 whatever its unit, so that no sweep or fit of the default box gives
adExIaFCell's slope factor delT (Brette & Gerstner 2005) a negative or zero value, as the old
+-20 mV of every voltage did ([-18, 22] mV for delT = 2 mV); a voltage that may have either
sign keeps +-20 mV, and a quantity that may be negative (adExIaFCell's a, Naud et al. 2008;
izhikevich2007Cell's b, Izhikevich 2007) keeps x/2 to 2x without a hard low. The expected boxes
are computed here from the files' text and the rule, not from neuroscape's model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from neuroscape.cli.main import main
from neuroscape.models.neuroml import NeuroMLError
from neuroscape.models.neuroml.cells import default_bounds
from neuroscape.models.registry import resolve

DATA = Path(__file__).resolve().parents[1] / "data" / "neuroml"
ADEX = DATA / "LEMS_NML2_Ex8_AdEx.xml"
# the file's unit of each adExIaFCell attribute -> (the declared unit, factor to it)
ADEX_UNITS = {"C": ("pF", 1.0), "gL": ("nS", 1.0), "EL": ("mV", 1.0), "reset": ("mV", 1.0),
              "VT": ("mV", 1.0), "thresh": ("mV", 1.0), "delT": ("mV", 1.0),
              "tauw": ("ms", 1.0), "a": ("nS", 1.0), "b": ("pA", 1000.0)}  # b in nA  # fmt: skip
POSITIVE = {"C", "gL", "delT", "tauw"}
SIGNED_VOLTAGES = {"EL", "reset", "VT", "thresh"}


def _adex_cells() -> dict[str, dict[str, float]]:
    """The adExIaFCells of the Ex8 file, read with a regular expression: {id: {attr: number}}."""
    cells = {}
    for m in re.finditer(r"<adExIaFCell\s+id=\"(\w+)\"(.*?)/>", ADEX.read_text(), re.S):
        attrs = dict(re.findall(r"(\w+)\s*=\s*\"(-?[\d.]+)[A-Za-z]*\"", m.group(2)))
        cells[m.group(1)] = {k: float(v) for k, v in attrs.items()}
    return cells


def test_adex_slope_factor_and_other_positive_quantities_get_a_factor_box():
    cells = _adex_cells()
    assert len(cells) == 4 and all(c["delT"] == 2.0 for c in cells.values())
    spec = resolve(str(ADEX)).spec
    for cid, attrs in cells.items():
        for attr, (unit, factor) in ADEX_UNITS.items():
            x = attrs[attr] * factor
            p = spec.parameter(f"{cid}_{attr}")
            assert p.unit == unit and p.default == pytest.approx(x)
            if attr in POSITIVE:
                want = (x / 2, 2 * x, 0.0)
            elif attr in SIGNED_VOLTAGES:
                want = (x - 20.0, x + 20.0, float("-inf"))
            else:  # a and b: x/2 to 2x (both positive in this file), no hard low
                want = (x / 2, 2 * x, float("-inf"))
            assert (p.low, p.high, p.hard_low) == pytest.approx(want), (cid, attr)
        # the slope factor: 1 to 4 mV, not the old -18 to 22 mV
        assert (spec.parameter(f"{cid}_delT").low, spec.parameter(f"{cid}_delT").high) == (
            pytest.approx(1.0), pytest.approx(4.0))


IZH = """<?xml version="1.0" encoding="UTF-8"?>
<neuroml xmlns="http://www.neuroml.org/schema/neuroml2" id="izh">
    <izhikevich2007Cell id="rs" v0="-60mV" C="100pF" k="{k}nS_per_mV" vr="-60mV" vt="-40mV"
        vpeak="35mV" a="0.03per_ms" b="-2nS" c="-50mV" d="100pA"/>
</neuroml>
"""


def test_izhikevich2007_k_and_a_are_positive_b_keeps_its_sign(tmp_path):
    """Izhikevich (2007)'s regular-spiking cell: k 0.7 nS/mV and a 0.03/ms strictly positive
    (x/2 to 2x, hard low 0), b = -2 nS may be negative (-4 to -1 nS, no hard low), C 100 pF
    (50 to 200 pF, hard low 0), the voltages +-20 mV."""
    p = tmp_path / "izh.nml"
    p.write_text(IZH.format(k="0.7"))
    spec = resolve(f"{p}:rs").spec
    want = {"k": (0.35, 1.4, 0.0), "a": (0.015, 0.06, 0.0), "C": (50.0, 200.0, 0.0),
            "b": (-4.0, -1.0, float("-inf")), "vr": (-80.0, -40.0, float("-inf")),
            "vpeak": (15.0, 55.0, float("-inf")), "d": (50.0, 200.0, float("-inf"))}
    for name, box in want.items():
        q = spec.parameter(name)
        assert (q.low, q.high, q.hard_low) == pytest.approx(box), name


def test_a_negative_strictly_positive_quantity_is_refused_in_one_line(tmp_path, capsys):
    p = tmp_path / "izh.nml"
    p.write_text(IZH.format(k="-0.7"))
    with pytest.raises(NeuroMLError, match=r"k='-0.7nS_per_mV' is negative; allowed: > 0"):
        resolve(f"{p}:rs")
    rc = main(["sweep", f"{p}:rs", "--n", "2", "--db", str(tmp_path / "x.db")])
    err = capsys.readouterr().err
    assert rc == 2 and "k='-0.7nS_per_mV' is negative" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args, box", [
    ((2.0, "voltage", True), (1.0, 4.0, 0.0)),  # a slope factor
    ((-65.0, "voltage"), (-85.0, -45.0, None)),  # a potential of either sign
    ((0.0, "voltage"), (-20.0, 20.0, None)),
    ((0.0, "voltage", True), (0.0, 1.0, 0.0)),
    ((10.0, "conductance", True), (5.0, 20.0, 0.0)),
    ((-2.0, "conductance"), (-4.0, -1.0, None)),
    ((0.0, "current"), (-1.0, 1.0, None)),
    ((20.0, "time"), (10.0, 40.0, 0.0)),  # times and capacitances by their dimension
    ((0.0, "time"), (0.0, 1.0, 0.0)),
    ((100.0, "capacitance"), (50.0, 200.0, 0.0)),
])  # fmt: skip
def test_default_bounds_rule(args, box):
    assert default_bounds(*args) == pytest.approx(box)
