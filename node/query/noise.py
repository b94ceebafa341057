"""Differential-privacy noise for released aggregates, drawn by OpenDP.

OpenDP (the OpenDP project's vetted library) rather than hand-written sampling: floating-point
Laplace noise written naively leaks through the gaps between doubles (Mironov 2012), and OpenDP
samples exactly and states each measurement's privacy loss, which is checked here against the ε
share before any noise is drawn. It samples from the operating system's secure generator and
takes no seed, on purpose: noise a consumer could replay would protect no one.

Counts get discrete Laplace noise (sensitivity 1: one person is one row) and are rounded to whole
numbers at least 0; clamped sums get continuous Laplace noise with sensitivity the larger bound's
magnitude. One measurement covers every group of an aggregate: the groups are disjoint, so a
person changes one of them (parallel composition) and the vector's L1 sensitivity is the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import opendp.prelude as dp

from node.query.budget import MICRO

dp.enable_features("contrib")

DELTA = 1e-6
"""The chance, at most, that a group of one person's rows alone passes :func:`release_threshold`:
which groups exist depends on who is in the data, so releasing a group at all is bounded so."""


def _checked(build: Callable[[float], Any], sensitivity: float, epsilon: int) -> tuple[Any, float]:
    """The measurement ``build(scale)`` (and its scale) whose privacy loss at ``sensitivity`` is within
    ``epsilon`` micro-ε, by OpenDP's own map (widening the scale past float rounding if needed)."""
    share = epsilon / MICRO
    scale = sensitivity / share
    measurement = build(scale)
    while measurement.map(sensitivity) > share:
        scale = scale * (1 + 1e-12) + 1e-300
        measurement = build(scale)
    return measurement, scale


@lru_cache(maxsize=256)
def _counts(epsilon: int) -> tuple[Any, float]:
    domain, metric = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    return _checked(lambda scale: dp.m.make_laplace(domain, metric, scale=scale), 1, epsilon)


@lru_cache(maxsize=256)
def _sums(epsilon: int, sensitivity: float) -> tuple[Any, float]:
    domain, metric = dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.l1_distance(T=float)
    return _checked(lambda scale: dp.m.make_laplace(domain, metric, scale=scale), sensitivity, epsilon)


def count_scale(epsilon: int) -> float:
    """The scale of the discrete Laplace noise on counts released with ``epsilon`` micro-ε."""
    return _counts(epsilon)[1]


def noisy_counts(counts: list[int], epsilon: int) -> list[int]:
    """``counts`` (one per group) with discrete Laplace noise for ``epsilon`` micro-ε, at least 0."""
    if not counts:
        return []
    return [max(int(value), 0) for value in _counts(epsilon)[0](counts)]


def noisy_sums(sums: list[float], epsilon: int, bounds: tuple[float, float]) -> list[float]:
    """Clamped ``sums`` (one per group, each value within ``bounds``) with Laplace noise for
    ``epsilon`` micro-ε."""
    if not sums:
        return []
    sensitivity = max(abs(bounds[0]), abs(bounds[1])) or 1.0
    return [float(value) for value in _sums(epsilon, float(sensitivity))[0](sums)]


def release_threshold(min_group_size: int, epsilon: int) -> int:
    """τ: the noisy row count (drawn with ``epsilon`` micro-ε) a group must reach to be released.

    At least k, and high enough that a group holding one person alone passes with chance at most
    :data:`DELTA` (discrete Laplace tails: ``1 + scale · ln(1 / 2δ)``). It depends on k and ε
    only, never on the data, so releasing it tells nothing; deciding on the noisy count, never on
    the true one, is what keeps a group of exactly k rows and one of k − 1 (one person in or out)
    alike to whoever asks."""
    return max(min_group_size, math.ceil(1 + count_scale(epsilon) * math.log(1 / (2 * DELTA))))
