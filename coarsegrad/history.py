"""The run record shared by every training driver.

:class:`History` lives in this small module, below both :mod:`coarsegrad.train` and
:mod:`coarsegrad.population`, so that every driver (SGD, population descent, subspace descent,
joint alpha descent) can import it without an import cycle. ``coarsegrad.train.History`` still
works (re-exported there).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["History"]


@dataclass
class History:
    """What a training run recorded.

    Attributes
    ----------
    step : list of int
        Iteration (``population_descent``, ``ts_sgd``) or epoch (``mlp_train``) of each record.
    values : dict of str -> list of float
        One list per recorded quantity, aligned with ``step`` (``loss``, ``accuracy``, ...).
    stopped : str
        Why the run ended (``"steps"``, ``"tolerance"``, ``"epochs"``).
    """

    step: list = field(default_factory=list)
    values: dict = field(default_factory=dict)
    stopped: str = ""

    def record(self, step: int, **values) -> None:
        """Append one record."""
        self.step.append(int(step))
        for key, value in values.items():
            self.values.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> np.ndarray:
        """``history["loss"]`` as an array."""
        return np.asarray(self.values[key])

    def as_dict(self) -> dict:
        """Plain lists, ready for JSON."""
        return {"step": list(self.step), **{k: list(v) for k, v in self.values.items()}, "stopped": self.stopped}
