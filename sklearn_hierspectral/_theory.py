"""Asymptotic predictions of sequential feature recovery (SPEC section 4).

With ``alpha = log n / log d``, latent direction ``i`` (1-based, ordered by
decreasing weight ``|b_i| ~ i^-gamma``) is recovered once ``alpha`` exceeds
``alpha_i``:

* ``gamma = 0``: ``alpha_i = q + eps`` (all directions at once);
* ``0 < gamma < 1/2``: ``alpha_i = q + (1 - 2 gamma) eps + 2 gamma log(i) / log(d)``;
* ``gamma >= 1/2``: ``alpha_i = q + 2 gamma log(i) / log(d)``;

where ``eps = log p / log d`` is the latent exponent and ``q = 2`` the
first-layer Hermite degree. The predicted error is the variance left in the
directions not yet recovered.

Every function here is pure numpy; the dataset object and the displays call
them instead of restating the formulas.
"""

import numbers

import numpy as np

# A threshold reached up to rounding counts as reached: ``floor`` of a value
# that should be the integer ``i`` must not give ``i - 1``.
_ROUNDING_SLACK = 1e-9


def _check_theory_args(n_features, n_latent, decay):
    if not isinstance(n_features, numbers.Integral) or n_features < 2:
        raise ValueError(
            f"The theory needs n_features >= 2 (log d appears in every formula); "
            f"got n_features={n_features!r}."
        )
    if not isinstance(n_latent, numbers.Integral) or n_latent < 1:
        raise ValueError(f"n_latent must be a positive integer; got {n_latent!r}.")
    if not isinstance(decay, numbers.Real) or not np.isfinite(decay) or decay < 0:
        raise ValueError(f"decay must be a finite number >= 0; got {decay!r}.")


def sample_exponent(n_samples, n_features):
    """``alpha = log n / log d``, the sample size on the scale of the theory.

    Parameters
    ----------
    n_samples : float or array-like
    n_features : int

    Returns
    -------
    alpha : float or ndarray
    """
    n_samples = np.asarray(n_samples, dtype=float)
    # Written as "not > 0" so that NaN is refused too.
    if not np.all(n_samples > 0):
        raise ValueError(
            f"n_samples must be positive (and not NaN) to compute log n / log d; "
            f"got {n_samples!r}."
        )
    if not isinstance(n_features, numbers.Real) or not n_features > 1:
        raise ValueError(
            f"n_features must be > 1 to compute log n / log d; got {n_features!r}."
        )
    return np.log(n_samples) / np.log(n_features)


def latent_exponent_of(n_features, n_latent):
    """Effective latent exponent ``eps = log p / log d``."""
    return np.log(n_latent) / np.log(n_features)


def threshold_exponents(n_features, n_latent, decay, *, hermite_degree=2):
    """Recovery threshold ``alpha_i`` of each latent direction.

    Parameters
    ----------
    n_features : int
        Input dimension ``d`` (at least 2).
    n_latent : int
        Number ``p`` of latent features.
    decay : float
        Power-law exponent ``gamma >= 0`` of the weights.
    hermite_degree : int, default=2
        First-layer degree ``q``.

    Returns
    -------
    alphas : ndarray of shape (n_latent,)
        Non-decreasing thresholds on the ``log n / log d`` scale.
    """
    _check_theory_args(n_features, n_latent, decay)
    eps = latent_exponent_of(n_features, n_latent)
    if decay == 0:
        return np.full(n_latent, hermite_degree + eps)
    # decay last: 2 * decay overflows for decay > 8.9e307, and inf * log(1) is
    # NaN, whereas decay * (2 log i / log d) is 0 for i = 1 and large but
    # finite (or +inf: "never recovered") for i > 1.
    with np.errstate(over="ignore"):
        rank_term = decay * (2.0 * np.log(np.arange(1, n_latent + 1)) / np.log(n_features))
    if decay < 0.5:
        return hermite_degree + (1.0 - 2.0 * decay) * eps + rank_term
    return hermite_degree + rank_term


def threshold_samples(n_features, n_latent, decay, *, hermite_degree=2):
    """Sample size ``n_i = d^alpha_i`` at which direction ``i`` is recovered."""
    alphas = threshold_exponents(
        n_features, n_latent, decay, hermite_degree=hermite_degree
    )
    # A threshold beyond the float range is +inf: no finite sample size reaches it.
    with np.errstate(over="ignore"):
        return float(n_features) ** alphas


def predicted_n_recovered(n_samples, n_features, n_latent, decay, *, hermite_degree=2):
    """Predicted number ``m(alpha)`` of recovered directions at ``n_samples``.

    ``m(alpha)`` is the number of thresholds ``alpha_i <= alpha``, i.e.
    ``clip(floor(d^((alpha - alpha_1) / (2 gamma))), 0, p)`` past ``alpha_1``,
    and for ``gamma = 0`` all ``p`` directions at once past ``alpha_1``.

    Returns
    -------
    m : int or ndarray of int, same shape as ``n_samples``
    """
    alphas = threshold_exponents(
        n_features, n_latent, decay, hermite_degree=hermite_degree
    )
    alpha = sample_exponent(n_samples, n_features)
    # Counting the thresholds reached instead of evaluating the closed form:
    # d^((alpha - alpha_1) / (2 gamma)) tends to 1 for a huge gamma on both
    # sides of alpha_1, so the closed form would count direction 1 as
    # recovered before its threshold.
    m = np.searchsorted(alphas, alpha + _ROUNDING_SLACK, side="right")
    m = np.asarray(m, dtype=int)
    return int(m) if m.ndim == 0 else m


def tail_error(n_recovered, n_latent, decay):
    """Fraction of the weights' variance outside the first ``n_recovered``.

    ``R = sum_{j > m} j^(-2 gamma) / sum_{j <= p} j^(-2 gamma)``.
    """
    _check_theory_args(2, n_latent, decay)
    m = np.asarray(n_recovered)
    if np.any(m < 0) or np.any(m > n_latent) or np.any(m != np.floor(m)):
        raise ValueError(
            f"n_recovered must be integers in [0, n_latent={n_latent}]; "
            f"got {n_recovered!r}."
        )
    # -2 * decay may overflow to -inf: then j^-inf is 0 past j = 1, the limit.
    with np.errstate(over="ignore"):
        variances = np.arange(1, n_latent + 1, dtype=float) ** (-2.0 * decay)
    # Tail sums, so that R(m) is one lookup: tails[m] = sum_{j > m}.
    tails = np.concatenate([np.cumsum(variances[::-1])[::-1], [0.0]])
    m = np.asarray(n_recovered, dtype=int)
    result = tails[m] / tails[0]
    return float(result) if result.ndim == 0 else result


def predicted_error(n_samples, n_features, n_latent, decay, *, hermite_degree=2):
    """Predicted normalised test error at ``n_samples`` (SPEC section 4).

    Returns
    -------
    error : float or ndarray, same shape as ``n_samples``
    """
    m = predicted_n_recovered(
        n_samples, n_features, n_latent, decay, hermite_degree=hermite_degree
    )
    return tail_error(m, n_latent, decay)


def predicted_exponent(decay):
    """Exponent ``e`` of the predicted scaling law ``NMSE ~ n^e``.

    For ``gamma > 1/2`` the directions are recovered one after another over the
    window ``q < alpha < q + 2 gamma eps`` and the error decays as
    ``n^-(1 - 1/(2 gamma))`` (``-1/2`` at ``gamma = 1``). At ``gamma = 1/2`` the
    decay is logarithmic (exponent 0). For ``gamma < 1/2`` all directions are
    recovered within a short window, after which the error decays like ``1/n``:
    the exponent returned is then ``-1``.

    Parameters
    ----------
    decay : float
        ``gamma >= 0``.

    Returns
    -------
    exponent : float
    """
    if not isinstance(decay, numbers.Real) or not np.isfinite(decay) or decay < 0:
        raise ValueError(f"decay must be a finite number >= 0; got {decay!r}.")
    if decay > 0.5:
        # 0.5 / decay rather than 1 / (2 decay): 2 decay overflows past 8.9e307.
        return -(1.0 - 0.5 / decay)
    if decay == 0.5:
        return 0.0
    return -1.0


def scaling_window(n_features, n_latent, decay, *, hermite_degree=2):
    """Range of ``alpha`` over which directions are being recovered.

    Returns
    -------
    (alpha_first, alpha_last) : tuple of float
        Thresholds of the strongest and of the weakest direction.
    """
    alphas = threshold_exponents(
        n_features, n_latent, decay, hermite_degree=hermite_degree
    )
    return float(alphas[0]), float(alphas[-1])
