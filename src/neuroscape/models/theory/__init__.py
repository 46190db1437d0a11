"""Theory models as models of the batched engine (simulate, sweep, database): each row of a
batch is one parameter set (and, for stochastic models, one trial with its own noise stream
(seed, row)). Each model's module declares its ``SPEC`` (with its default run settings) and its
``MODEL = TheoryModel(SPEC, run=..., ...)``; the registry finds them through their entry points.

The spiking networks of these studies are network files run by the network engine: ``brunel``
(Brunel 2000; its mean-field theory is ``mean_field``) and ``assembly`` (Hebbian assemblies of LIF
neurons, the spiking counterpart of ``hopfield``), in ``neuroscape/models/network/library``."""

from __future__ import annotations

from neuroscape.models.theory.model import TheoryBatch, TheoryModel, TheoryRun

__all__ = ["TheoryBatch", "TheoryModel", "TheoryRun"]
