"""The privacy accountant of DP-SGD: Rényi DP of the sampled Gaussian mechanism, then (ε, δ).

Written out here **as a lesson**: it is the mathematical core of the chapter,
and Google's ``dp-accounting`` (the well-kept library for it) requires
``attrs<24``, which this course's pinned Jupyter stack cannot take.  The
numbers are tested against TensorFlow Privacy's published MNIST table.

**What is accounted.**  One DP-SGD step samples each of the ``n`` records
independently with probability ``q = batch_size / n`` (Poisson sampling),
clips each record's gradient to norm ``C``, sums, and adds Gaussian noise of
standard deviation ``sigma * C``.  That step is the *sampled Gaussian
mechanism* with noise multiplier ``sigma``.

**Rényi DP** (Mironov 2017, https://arxiv.org/abs/1702.07476).  A mechanism
is (α, ρ)-RDP when the Rényi divergence of order α between its outputs on two
neighbouring datasets is at most ρ.  RDP composes by addition: ``T`` steps
cost ``T * rho(alpha)`` at every order at once.

**The sampled Gaussian** (Mironov, Talwar & Zhang 2019,
https://arxiv.org/abs/1908.10530).  With ``mu0 = N(0, sigma^2)`` and the
mixture ``mu = (1 - q) mu0 + q N(1, sigma^2)``, ``rho(alpha) = log(A_alpha) /
(alpha - 1)`` with ``A_alpha = E_{z ~ mu0}[(mu(z) / mu0(z))^alpha]``.

* For an integer α the binomial expansion is exact and finite (their eq. 3.3)::

      A_alpha = sum_{k=0}^{alpha} C(alpha, k) (1 - q)^(alpha - k) q^k exp((k^2 - k) / (2 sigma^2))

* For a fractional α the expansion is an infinite series, split at the point
  ``z0`` where the two densities' ratio crosses 1 (their section 3.3); each
  term is a binomial coefficient times a Gaussian tail (``erfc``).  It is
  summed in log space until its terms fall below e^-30.

**From RDP to (ε, δ)**: ``eps = min_alpha T * rho(alpha) + log(1/δ) / (alpha - 1)``
(Mironov 2017, Prop. 3), the conversion TensorFlow Privacy's table used.  The
tighter conversion of Balle et al. 2020 (https://arxiv.org/abs/1905.09982) is
``conversion="balle"``; it gives smaller ε for the same training.

Poisson sampling is what the analysis assumes.  Shuffling the data and
taking fixed-size batches, as most code does, is *not* covered by this
bound (Chua et al. 2024, https://arxiv.org/abs/2403.17673, show the gap can
be large); :mod:`.dpsgd` samples as the accountant assumes.  Used in chapter 07.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from modelsec_edu.validation import check_array, check_choice, check_float, check_int

__all__ = [
    "DEFAULT_ORDERS",
    "dp_epsilon",
    "noise_for_epsilon",
    "rdp_sampled_gaussian",
    "rdp_to_epsilon",
    "steps_for",
]

# Fractional orders near 1 matter for large noise, integer orders for small noise.
DEFAULT_ORDERS = tuple([1 + k / 10 for k in range(1, 100)] + list(range(12, 64)) + [128, 256, 512])


def _logaddexp_signed(acc: tuple[float, int], log_term: float, sign: int) -> tuple[float, int]:
    """``log|a + s*t|`` with its sign (the fractional series alternates)."""
    log_a, sign_a = acc
    if log_a == -math.inf:
        return log_term, sign
    hi, lo = max(log_a, log_term), min(log_a, log_term)
    s_hi = sign_a if log_a >= log_term else sign
    s_lo = sign if log_a >= log_term else sign_a
    if s_hi == s_lo:
        return hi + math.log1p(math.exp(lo - hi)), s_hi
    if hi == lo:
        return -math.inf, 1
    return hi + math.log1p(-math.exp(lo - hi)), s_hi


def _log_half_erfc(x: float) -> float:
    """``log(erfc(x) / 2)``, accurate in both tails."""
    return float(special.log_ndtr(-x * math.sqrt(2.0)))


def _log_a_int(q: float, sigma: float, alpha: int) -> float:
    k = np.arange(alpha + 1, dtype="float64")
    log_binom = special.gammaln(alpha + 1) - special.gammaln(k + 1) - special.gammaln(alpha - k + 1)
    with np.errstate(divide="ignore"):
        terms = (
            log_binom + k * math.log(q) + (alpha - k) * np.log1p(-q) + (k * k - k) / (2 * sigma**2)
        )
    return float(special.logsumexp(terms))


def _log_a_frac(q: float, sigma: float, alpha: float) -> float:
    # Split the integral over z at z0, where (1 - q) mu0 and q mu1 weigh alike; on each side expand
    # (1 - q + q e^{(2z - 1)/(2 sigma^2)})^alpha as a binomial series and integrate term by term.
    z0 = sigma**2 * math.log(1 / q - 1) + 0.5
    left, right = (-math.inf, 1), (-math.inf, 1)
    i = 0
    while True:
        coef = special.binom(alpha, i)
        sign = 1 if coef > 0 else -1
        log_coef = math.log(abs(coef))
        j = alpha - i
        log_t0 = log_coef + i * math.log(q) + j * math.log1p(-q)
        log_t1 = log_coef + j * math.log(q) + i * math.log1p(-q)
        log_s0 = (
            log_t0
            + (i * i - i) / (2 * sigma**2)
            + _log_half_erfc((i - z0) / (math.sqrt(2) * sigma))
        )
        log_s1 = (
            log_t1
            + (j * j - j) / (2 * sigma**2)
            + _log_half_erfc((z0 - j) / (math.sqrt(2) * sigma))
        )
        left = _logaddexp_signed(left, log_s0, sign)
        right = _logaddexp_signed(right, log_s1, sign)
        i += 1
        if max(log_s0, log_s1) < -30 or i > 10_000:
            break
    return float(np.logaddexp(left[0], right[0]))


def rdp_sampled_gaussian(q: float, noise_multiplier: float, orders=DEFAULT_ORDERS) -> np.ndarray:
    """Rényi DP ``rho(alpha)`` of **one** step of the sampled Gaussian mechanism, at each order.

    ``q`` is the sampling rate (``batch_size / n``), ``noise_multiplier`` the
    noise's standard deviation in units of the clipping norm.  Orders must be
    > 1; integer orders use the exact finite sum, the others the series.
    """
    q = check_float(q, "q", min=0.0, max=1.0)
    sigma = check_float(noise_multiplier, "noise_multiplier", min=0.0)
    orders = check_array(np.atleast_1d(orders), "orders", ndim=1, dtype="float64")
    if np.any(orders <= 1):
        raise ValueError(f"orders must all be > 1, got a minimum of {orders.min()}")
    if q == 0:
        return np.zeros(len(orders))
    if sigma == 0:
        return np.full(len(orders), np.inf)
    if q == 1.0:  # no sampling: the plain Gaussian mechanism
        return orders / (2 * sigma**2)
    out = np.empty(len(orders))
    for i, a in enumerate(orders):
        log_a = (
            _log_a_int(q, sigma, int(a))
            if float(a).is_integer()
            else _log_a_frac(q, sigma, float(a))
        )
        out[i] = log_a / (a - 1)
    return out


def rdp_to_epsilon(
    rdp, orders=DEFAULT_ORDERS, *, delta: float, conversion: str = "classic"
) -> tuple[float, float]:
    """``(epsilon, best_order)`` from a total RDP curve, at failure probability ``delta``."""
    rdp = check_array(np.atleast_1d(rdp), "rdp", ndim=1, dtype="float64", finite=False)
    orders = check_array(np.atleast_1d(orders), "orders", ndim=1, dtype="float64")
    if rdp.shape != orders.shape:
        raise ValueError(
            f"rdp and orders must have the same length, got {len(rdp)} and {len(orders)}"
        )
    delta = check_float(delta, "delta", min=0.0, max=1.0, min_open=True, max_open=True)
    conversion = check_choice(conversion, "conversion", ("classic", "balle"))
    if conversion == "classic":
        eps = rdp + math.log(1 / delta) / (orders - 1)
    else:  # Balle et al. 2020, Theorem 21
        eps = rdp + np.log1p(-1 / orders) - (math.log(delta) + np.log(orders)) / (orders - 1)
    eps = np.where(np.isnan(eps), np.inf, eps)
    best = int(np.argmin(eps))
    return float(max(0.0, eps[best])), float(orders[best])


def steps_for(*, n: int, batch_size: int, epochs: float) -> int:
    """Optimizer steps in ``epochs`` passes : ``ceil(epochs * n / batch_size)``."""
    n = check_int(n, "n", min=1)
    batch_size = check_int(batch_size, "batch_size", min=1, max=n)
    epochs = check_float(epochs, "epochs", min=0.0)
    return int(math.ceil(epochs * n / batch_size - 1e-9))


def dp_epsilon(
    *,
    n: int,
    batch_size: int,
    noise_multiplier: float,
    epochs: float,
    delta: float,
    conversion: str = "classic",
    orders=DEFAULT_ORDERS,
) -> float:
    """The ε spent by DP-SGD with Poisson sampling at rate ``batch_size / n``, at ``delta``.

    >>> round(dp_epsilon(n=60000, batch_size=256, noise_multiplier=1.1, epochs=60, delta=1e-5), 2)
    3.01
    """
    steps = steps_for(n=n, batch_size=batch_size, epochs=epochs)
    rdp = rdp_sampled_gaussian(batch_size / n, noise_multiplier, orders) * steps
    return rdp_to_epsilon(rdp, orders, delta=delta, conversion=conversion)[0]


def noise_for_epsilon(
    *,
    target_epsilon: float,
    n: int,
    batch_size: int,
    epochs: float,
    delta: float,
    conversion: str = "classic",
) -> float:
    """The smallest noise multiplier (to 0.01) with ε <= ``target_epsilon``."""
    target = check_float(target_epsilon, "target_epsilon", min=0.0, min_open=True)

    def eps(s):
        return dp_epsilon(
            n=n,
            batch_size=batch_size,
            noise_multiplier=s,
            epochs=epochs,
            delta=delta,
            conversion=conversion,
        )

    lo, hi = 0.3, 1.0
    while eps(hi) > target:
        lo, hi = hi, hi * 2
        if hi > 1000:
            raise ValueError(f"no noise multiplier up to 1000 reaches epsilon {target}")
    while hi - lo > 0.005:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if eps(mid) > target else (lo, mid)
    return math.ceil(hi * 100) / 100
