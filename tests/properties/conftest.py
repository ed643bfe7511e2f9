"""Hypothesis settings for the property tests: a modest number of examples, so the suite
stays quick; no deadline (a first example pays for warming up); no example database under
the project. The ``app`` fixture empties the tables after each test, not after each
example, so every example makes its own people and vendors."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "vrm",
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("vrm")
