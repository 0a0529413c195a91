"""Test configuration: hypothesis profiles.

The default profile, ``ci``, is deterministic (derandomized, no example database,
no deadline) so a run on a clean checkout is reproducible and a failure prints the
blob that replays it. ``HYPOTHESIS_PROFILE=explore`` searches more examples with
fresh randomness, for hunting counterexamples by hand.
"""
import os

import pytest
from hypothesis import HealthCheck, settings


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Under pytest-xdist (``-n auto``), tests marked ``xdist_group`` run on one worker (they share results
    cached in that process); the others are spread as by default. The workers learn it from
    :func:`pytest_configure_node` (they parse the command line, which does not say ``--dist``)."""
    config.addinivalue_line("markers", "xdist_group(name): run on the same pytest-xdist worker as the group")
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"
    if getattr(config, "workerinput", {}).get("coarsegrad_loadgroup"):
        config.option.loadgroup = True


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist's controller, per worker: tell it whether groups are kept together."""
    node.workerinput["coarsegrad_loadgroup"] = node.config.option.dist == "loadgroup"


settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, print_blob=True, max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],  # numeric examples are slow by nature, not by a bad strategy
)
settings.register_profile(
    "explore", derandomize=False, deadline=None, print_blob=True, max_examples=2000,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
