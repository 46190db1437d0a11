"""Fitting methods, one per file; each is ``run(problem, **options) -> FitResult``."""
