"""Neuron models from Brian2-style equations: YAML equation files and ``equation_model(...)``.

See ``neuroscape.models.equations.model`` for the file's keys and the unit system (time in ms,
every other quantity in the unit declared for it).
"""

from neuroscape.models.equations.model import EquationError, equation_model, load_model_file

__all__ = ["EquationError", "equation_model", "load_model_file"]
