"""Test configuration: hypothesis profiles.

The default profile, ``ci``, is deterministic (derandomized, no example database,
no deadline) so a run on a clean checkout is reproducible and a failure prints the
blob that replays it. ``HYPOTHESIS_PROFILE=explore`` searches more examples with
fresh randomness, for hunting counterexamples by hand.
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, print_blob=True, max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],  # numeric examples are slow by nature, not by a bad strategy
)
settings.register_profile(
    "explore", derandomize=False, deadline=None, print_blob=True, max_examples=2000,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
