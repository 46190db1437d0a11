"""Reading NeuroML imports pyNeuroML, whose import configures the root logger at INFO (a
``logging.basicConfig`` call): every library's INFO records then reached the user's terminal. The
import must leave the root logger as it found it."""

import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parents[1] / "data" / "neuroml"

SCRIPT = """
import logging, sys
from neuroscape.models import resolve
before = (logging.getLogger().level, len(logging.getLogger().handlers))
resolve(sys.argv[1])
from neuroscape.models.neuroml.export import _lems_xml
_lems_xml("x", "x.nml", 10.0, 0.01)
after = (logging.getLogger().level, len(logging.getLogger().handlers))
print(before, after)
"""


def test_reading_and_writing_neuroml_leave_the_root_logger_alone():
    ref = f"{DATA / 'LEMS_NML2_Ex8_AdEx.xml'}:adExBurst2"
    p = subprocess.run([sys.executable, "-c", SCRIPT, ref], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    before, after = p.stdout.strip().rsplit(") (", 1)
    assert before + ")" == "(" + after, p.stdout
    assert "INFO:" not in p.stderr, p.stderr
