"""A lifetime as an instance file writes it (``{model: normal, mean: 12, sd: 3}``) -> a
:class:`~circopt.lifetimes.Lifetime` (also reachable as ``circopt.lifetimes.make_lifetime``)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import InstanceError
from ..lifetimes import CustomPMF, Fixed, FoldedNormal, Lifetime, LogNormal, Normal, Weibull

_MODELS = {
    "fixed": (Fixed, ("mean",)),
    "normal": (Normal, ("mean", "sd")),
    "folded_normal": (FoldedNormal, ("mean", "sd")),
    "lognormal": (LogNormal, ("mean", "sd")),
    "weibull": (Weibull, ("shape", "scale")),
    "custom": (CustomPMF, ("pmf",)),
}


def make_lifetime(spec: Mapping, *, where: str, n_cohorts: int | None = None) -> Lifetime:
    """Build a lifetime from an instance-file mapping.

    Accepted forms (values are numbers or, per cohort, lists of length ``n_cohorts``)::

        {model: fixed, mean: 12}
        {model: normal | folded_normal | lognormal, mean: 12, sd: 3}
        {model: weibull, shape: 2.1, scale: 14}       # or {model: weibull, mean: .., sd: ..}
        {model: custom, pmf: [0.0, 0.1, 0.3, 0.6]}     # or one pmf list per cohort

    Errors name ``where`` plus the key path (e.g. ``f"{where}.sd"``), the value and what was
    expected.
    """
    if not isinstance(spec, Mapping):
        raise InstanceError(where, "must be a mapping", spec, "e.g. {model: lognormal, mean: 12, sd: 4}")
    if "model" not in spec:
        raise InstanceError(f"{where}.model", "is missing", None, f"one of {', '.join(_MODELS)}")
    model = spec["model"]
    key = str(model).strip().lower().replace("-", "_") if isinstance(model, str) else None
    key = {"foldednormal": "folded_normal", "log_normal": "lognormal"}.get(key, key)
    if key not in _MODELS:
        raise InstanceError(f"{where}.model", "is not a known lifetime model", model, f"one of {', '.join(_MODELS)}")
    cls, keys = _MODELS[key]
    given = [k for k in spec if k != "model"]
    if key == "weibull" and ("mean" in spec or "sd" in spec):
        keys = ("mean", "sd")
    for k in given:
        if k not in keys:
            raise InstanceError(
                f"{where}.{k}",
                f"is not a parameter of model '{key}'",
                spec[k],
                f"keys {', '.join(('model',) + keys)}"
                + ("  (or mean, sd)" if key == "weibull" and keys[0] == "shape" else ""),
            )
    for k in keys:
        if k not in spec:
            raise InstanceError(
                f"{where}.{k}",
                f"is missing for model '{key}'",
                None,
                f"keys {', '.join(('model',) + keys)}",
            )
    values = {k: spec[k] for k in keys}
    for k, v in values.items():
        _check_cohort_length(v, f"{where}.{k}", n_cohorts, nested=(key == "custom"))
    try:
        if key == "weibull" and keys == ("mean", "sd"):
            return Weibull.from_mean_sd(values["mean"], values["sd"])
        return cls(**values)
    except InstanceError as e:  # re-anchor "Normal.sd" -> f"{where}.sd"
        sub = e.where.split(".", 1)[1] if "." in e.where else ""
        raise InstanceError(f"{where}.{sub}" if sub else where, e.problem, e.value, e.expected) from None


def _check_cohort_length(value: object, where: str, n_cohorts: int | None, *, nested: bool) -> None:
    if isinstance(value, (str, bytes, Mapping)) or value is None:
        raise InstanceError(
            where,
            "must be a number or a list of numbers",
            value,
            "a list of probabilities by age" if nested else "a number or one number per cohort",
        )
    try:
        ndim = np.ndim(value)
    except ValueError:  # ragged nested lists
        raise InstanceError(where, "is a ragged list", value, "lists of equal length") from None
    per_cohort = ndim == (2 if nested else 1)
    if per_cohort and n_cohorts is not None and len(value) != n_cohorts:
        raise InstanceError(
            where,
            f"has {len(value)} per-cohort values but the model has {n_cohorts} cohorts",
            value,
            f"{n_cohorts} values (one per model year)",
        )
