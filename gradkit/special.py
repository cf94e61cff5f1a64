"""The error function on arrays of any backend: the array API standard has no ``erf``, so it is built here from
``xp``'s arithmetic and ``exp`` (for ``gradkit.erf`` and the exact GELU).

Two polynomial pieces, each to the precision of the dtype (float64: within 1e-15 of ``math.erf``; float32:
within about one ulp):

* ``|x| < 1``: ``erf(x) = x P(x^2)``, ``P`` interpolating ``erf(sqrt(t)) / sqrt(t)`` for ``t`` in ``[0, 1]``;
* ``1 <= |x|``: ``erf(x) = 1 - exp(-x^2) Q(1/x)``, ``Q`` interpolating the scaled complement
  ``erfcx(x) = exp(x^2) erfc(x)`` (smooth and slowly varying in ``u = 1/x``) for ``x`` in ``[1, cut]``; beyond
  ``cut`` (6 in float64, 4 in float32) ``erf`` rounds to +-1, and nan stays nan.

``P`` and ``Q`` are Chebyshev interpolants fitted once, on first use, to ``math.erf``/``math.erfc`` at Chebyshev
nodes (``numpy.polynomial.chebyshev``), then written in powers of the mapped variable for Horner's rule: no table
of coefficients is copied in. Source: Trefethen, "Approximation Theory and Approximation Practice", ch. 4 and 8.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

# dtype name -> (degree of P, degree of Q, cut): the smallest that reach the dtype's precision.
_PLAN = {"float64": (13, 22, 6.0), "float32": (6, 8, 4.0)}
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _nodes(degree: int) -> np.ndarray:
    n = 4 * degree + 8
    return np.cos(np.pi * (np.arange(n) + 0.5) / n)


@functools.cache
def _near(degree: int) -> tuple[float, ...]:
    """Power coefficients (lowest first) in ``t = x^2`` of ``erf(x) / x`` on ``|x| <= 1`` (fitted in ``s = 2t - 1``,
    then written in ``t``: the coefficients stay below 1.2, so nothing is lost)."""
    s = _nodes(degree)
    t = (s + 1.0) / 2.0
    y = [math.erf(math.sqrt(v)) / math.sqrt(v) if v > 0 else TWO_OVER_SQRT_PI for v in t]
    in_s = np.polynomial.Polynomial(np.polynomial.chebyshev.cheb2poly(np.polynomial.chebyshev.chebfit(s, y, degree)))
    return tuple(float(c) for c in in_s(np.polynomial.Polynomial([-1.0, 2.0])).coef)


@functools.cache
def _far(degree: int, cut: float) -> tuple[float, ...]:
    """Power coefficients (lowest first) of ``erfcx(x)`` in ``s``, ``1/x = 1/cut + (1 - 1/cut) (s + 1) / 2``."""
    s = _nodes(degree)
    x = 1.0 / (1.0 / cut + (1.0 - 1.0 / cut) * (s + 1.0) / 2.0)
    y = [math.erfc(v) * math.exp(v * v) for v in x]
    return tuple(float(c) for c in np.polynomial.chebyshev.cheb2poly(np.polynomial.chebyshev.chebfit(s, y, degree)))


def _horner(xp: Any, s: Any, coefficients: tuple[float, ...]) -> Any:
    out = xp.full_like(s, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        out *= s
        out += c
    return out


def erf_array(xp: Any, x: Any) -> Any:
    """``erf(x)`` for a real floating array ``x`` of namespace ``xp``, in ``x``'s dtype (see the module doc)."""
    near_degree, far_degree, cut = _PLAN["float64" if x.dtype == xp.float64 else "float32"]
    a = xp.abs(x)
    small = xp.minimum(a, 1.0)  # each piece is evaluated where it is finite, then one is chosen
    near = _horner(xp, small * small, _near(near_degree))
    near *= small
    big = xp.clip(a, 1.0, cut)  # at the cut, 1 - exp(-cut^2) erfcx(cut) rounds to 1; nan stays nan
    u = 1.0 / big
    u -= 1.0 / cut
    u *= 2.0 / (1.0 - 1.0 / cut)
    u -= 1.0
    far = _horner(xp, u, _far(far_degree, cut))
    big *= big
    far *= xp.exp(-big)
    far = 1.0 - far
    near *= xp.astype(a < 1.0, x.dtype)  # the choice as exact arithmetic (numpy's where is ten times slower)
    far *= xp.astype(a >= 1.0, x.dtype)  # (both pieces are finite everywhere, so 0 * piece is 0)
    near += far
    return xp.copysign(near, x)
