"""Exploration: parameter spaces, samplers, sweeps into the model database."""

from neuroscape.explore.space import SAMPLERS, ParameterSpace, SpaceError
from neuroscape.explore.store import ModelStore, StoreError, open_for_reading
from neuroscape.explore.sweep import SchedulerError, SweepReport, run_sweep

__all__ = [
    "SAMPLERS",
    "ParameterSpace",
    "SpaceError",
    "ModelStore",
    "StoreError",
    "open_for_reading",
    "SchedulerError",
    "SweepReport",
    "run_sweep",
]
