"""The batched simulation engine."""

from neuroscape.core.settings import Recording, SettingsError, SimSettings
from neuroscape.sim.engine import SimulationResult, run_batch

__all__ = ["Recording", "SettingsError", "SimSettings", "SimulationResult", "run_batch"]
