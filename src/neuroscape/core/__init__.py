"""The toolkit below the models: declarations (``spec``), run settings and the engine contract
(``settings``), counter-based random streams (``rng``), integration schemes (``integrators``),
stimuli, connectivity, kernel code generation, and worker processes (``workers``).

Nothing here imports a model, an engine or any later stage: models build on this package, and
the engines in ``neuroscape.sim`` build on the models.
"""
