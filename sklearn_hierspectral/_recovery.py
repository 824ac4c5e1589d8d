"""How well learned quadratic features span the true latent ones."""

import numbers
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.utils.validation import check_is_fitted

from ._hermite import sym_to_vec
from ._validation import as_real_array

#: A direction counts as recovered when this much of it lies in the learned span.
RECOVERY_THRESHOLD = 0.5


def _orthonormal_rows(vectors, rtol=1e-10):
    """Orthonormal basis (as rows) of the span of the rows of ``vectors``."""
    if vectors.shape[0] == 0:
        return vectors
    u, s, vt = np.linalg.svd(vectors, full_matrices=False)
    keep = s > rtol * max(s[0], np.finfo(float).tiny)
    return vt[keep]


def direction_cos2(learned_matrices, true_matrices):
    """Squared cosine between each true direction and the learned span.

    Parameters
    ----------
    learned_matrices : array-like of shape (k, d, d)
        Symmetric matrices of the learned quadratic features, any scale or
        basis: only their span matters.
    true_matrices : array-like of shape (p, d, d)
        Symmetric matrices of the true latent features.

    Returns
    -------
    cos2 : ndarray of shape (p,)
        ``||P a_i||^2 / ||a_i||^2`` with ``P`` the projector on the learned
        span, in ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hierspectral._recovery import direction_cos2
    >>> true = np.stack([np.diag([1.0, 0.0]), np.diag([0.0, 1.0])])
    >>> direction_cos2(true[:1], true)
    array([1., 0.])
    """
    learned, true = _check_pair(learned_matrices, true_matrices)
    learned = _orthonormal_rows(sym_to_vec(learned))
    true = sym_to_vec(true)
    norms = np.sum(true**2, axis=1)
    if np.any(norms == 0):
        raise ValueError(
            "true_matrices contains an all-zero matrix, which has no direction; "
            "pass nonzero latent matrices."
        )
    if learned.shape[0] == 0:
        return np.zeros(true.shape[0])
    projected = true @ learned.T
    return np.clip(np.sum(projected**2, axis=1) / norms, 0.0, 1.0)


def learned_input_matrices(estimator):
    """Quadratic forms learned by a fitted estimator, in input coordinates.

    Looks through a :class:`~sklearn.pipeline.Pipeline` (the last step that
    has learned quadratic features) and through a regressor that wraps a
    layer-1 transformer.

    Returns
    -------
    matrices : ndarray of shape (k, d, d) or None
        None when the estimator has no learned quadratic features.
    """
    steps = getattr(estimator, "steps", None)
    if steps is not None:
        for _, step in reversed(steps):
            found = learned_input_matrices(step)
            if found is not None:
                return found
        return None
    getter = getattr(estimator, "input_space_components", None)
    if getter is None:
        return None
    # A learner of quadratic features that was not fitted: an error, not
    # "no learned features" (which a baseline legitimately has).
    check_is_fitted(estimator, "components_")
    return getter()


def recovery_cos2(estimator, dataset):
    """Per-direction cos^2 of a fitted estimator against its dataset.

    Parameters
    ----------
    estimator : fitted estimator
        A :class:`HierarchicalSpectralRegressor`, its layer-1 transformer, or a
        Pipeline containing one.
    dataset : HierarchicalTargetDataset
        The dataset whose samples trained ``estimator``.

    Returns
    -------
    cos2 : ndarray of shape (n_latent,) or None
        None when the estimator learns no quadratic features (a baseline).
    """
    learned = learned_input_matrices(estimator)
    if learned is None:
        return None
    return direction_cos2(learned, _dataset_matrices(dataset, learned))


def n_recovered(cos2, threshold=RECOVERY_THRESHOLD):
    """Number of directions with ``cos^2 > threshold``."""
    return int(np.sum(np.asarray(cos2) > threshold))


# ---------------------------------------------------------------------------
# Principal angles, one-to-one matching, feature overlap and the report.
# ---------------------------------------------------------------------------


def _unit_rows(vectors):
    """Rows scaled to unit norm; all-zero rows stay zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def _as_real_array(name, values):
    """``values`` as a finite float array, with TypeError for non-numbers."""
    if values is None or isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be an array of real numbers; got {type(values).__name__}.")
    array = np.asarray(values)
    # None inside an object array would become NaN below, and dates or
    # strings numbers: both are type errors, not missing values.
    if array.dtype.kind in "USMmV" or (
        array.dtype.kind == "O" and any(value is None for value in array.ravel())
    ):
        raise TypeError(f"{name} must hold real numbers; got dtype {array.dtype}.")
    array = as_real_array(name, array)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinity.")
    return array


def _dataset_matrices(dataset, learned):
    """The dataset's latent matrices, checked against the learned ones."""
    matrices = getattr(dataset, "latent_matrices", None)
    if matrices is None:
        raise TypeError(
            "dataset must be a HierarchicalTargetDataset (an object with "
            f"latent_matrices); got {type(dataset).__name__}."
        )
    matrices = np.asarray(matrices, dtype=float)
    if matrices.ndim == 3 and learned.ndim == 3 and matrices.shape[1:] != learned.shape[1:]:
        raise ValueError(
            f"The estimator was fitted on {learned.shape[1]} features but the dataset "
            f"has n_features={matrices.shape[1]}; pass the dataset whose samples "
            "trained the estimator."
        )
    return matrices


def _check_matrices(name, matrices):
    matrices = _as_real_array(name, matrices)
    if matrices.ndim != 3 or matrices.shape[1] != matrices.shape[2]:
        raise ValueError(
            f"{name} must have shape (n_matrices, d, d); got {matrices.shape}."
        )
    return matrices


def _scaled_to_unit_max(array, axes):
    """``array`` divided by its largest magnitude over ``axes`` (all-zero
    slices stay zero). Every measure here depends on directions only, and
    squares or products of entries of 1e200 overflow (of 1e-200, underflow)."""
    largest = np.max(np.abs(array), axis=axes, keepdims=True, initial=0.0)
    return np.divide(array, largest, out=np.zeros_like(array), where=largest > 0)


def _check_pair(learned_matrices, true_matrices):
    learned = _scaled_to_unit_max(_check_matrices("learned_matrices", learned_matrices), (1, 2))
    true = _scaled_to_unit_max(_check_matrices("true_matrices", true_matrices), (1, 2))
    if learned.shape[1:] != true.shape[1:]:
        raise ValueError(
            "learned_matrices and true_matrices must be matrices of the same size; "
            f"got {learned.shape[1:]} and {true.shape[1:]}."
        )
    return learned, true


def principal_cosines(learned_matrices, true_matrices):
    """Cosines of the principal angles between the learned and the true span.

    With ``Q_L`` and ``Q_T`` orthonormal bases (as rows, in the isometric
    vector form of :func:`~sklearn_hierspectral._hermite.sym_to_vec`) of the
    learned and of the true span, the cosines are the singular values of
    ``Q_L Q_T^T``. Their squares sum to the sum of :func:`direction_cos2`
    over an orthonormal true set; unlike that per-direction measure, they do
    not depend on which basis of the true span is used.

    Parameters
    ----------
    learned_matrices : array-like of shape (k, d, d)
        Symmetric matrices of the learned quadratic features; only their span
        matters.
    true_matrices : array-like of shape (p, d, d)
        Symmetric matrices of the true latent features; only their span
        matters.

    Returns
    -------
    cosines : ndarray of shape (min(rank_learned, rank_true),)
        In ``[0, 1]``, decreasing. Empty when either span is ``{0}``.

    See Also
    --------
    direction_cos2 : Per true direction, how much of it lies in the learned
        span.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hierspectral._recovery import principal_cosines
    >>> e00 = np.diag([1.0, 0.0])
    >>> e11 = np.diag([0.0, 1.0])
    >>> tilted = (e00 + e11) / np.sqrt(2.0)
    >>> principal_cosines(np.stack([e00, e11]), np.stack([e00])).round(6)
    array([1.])
    >>> principal_cosines(np.stack([tilted]), np.stack([e00])).round(6)
    array([0.707107])
    """
    learned, true = _check_pair(learned_matrices, true_matrices)
    learned = _orthonormal_rows(sym_to_vec(learned))
    true = _orthonormal_rows(sym_to_vec(true))
    if learned.shape[0] == 0 or true.shape[0] == 0:
        return np.zeros(0)
    cosines = np.linalg.svd(learned @ true.T, compute_uv=False)
    return np.clip(cosines, 0.0, 1.0)


@dataclass(frozen=True)
class DirectionMatching:
    """One-to-one matching of learned components to true directions.

    Pairs are sorted by true direction. With ``k`` learned components and
    ``p`` true directions there are ``min(k, p)`` pairs: the surplus learned
    components, or the surplus true directions, stay unmatched.

    Attributes
    ----------
    true_index : ndarray of shape (n_pairs,)
        Index of each pair's true direction, increasing.
    learned_index : ndarray of shape (n_pairs,)
        Index of each pair's learned component.
    cosine : ndarray of shape (n_pairs,)
        Signed cosine between the two, as Frobenius-normalised matrices: a
        learned component may come out with either sign.
    cos2 : ndarray of shape (n_pairs,)
        Its square.
    n_true : int
        Number ``p`` of true directions.
    """

    true_index: np.ndarray
    learned_index: np.ndarray
    cosine: np.ndarray
    cos2: np.ndarray
    n_true: int

    def component_of_direction(self):
        """Matched learned component of each true direction, -1 if none.

        Returns
        -------
        index : ndarray of shape (n_true,)
        """
        out = np.full(self.n_true, -1, dtype=int)
        out[self.true_index] = self.learned_index
        return out

    def cos2_of_direction(self):
        """cos^2 of each true direction with its matched component, 0 if none.

        Returns
        -------
        cos2 : ndarray of shape (n_true,)
        """
        out = np.zeros(self.n_true)
        out[self.true_index] = self.cos2
        return out


def match_directions(learned_matrices, true_matrices, *, criterion="cos2"):
    """Match learned components to true directions one to one.

    The assignment maximises the total score between matched pairs with the
    Hungarian algorithm (:func:`scipy.optimize.linear_sum_assignment`), the
    score of a pair being the ``cos^2`` (default) or ``|cos|`` between the
    individual learned component and the individual true direction (each
    normalised in the Frobenius norm; the sign of a component is arbitrary).

    Unlike :func:`direction_cos2`, which credits a true direction with what
    the whole learned span captures of it, this asks which single learned
    feature stands for it: a true direction spread over several learned
    components has a low matched ``cos^2`` but a high ``direction_cos2``.

    Parameters
    ----------
    learned_matrices : array-like of shape (k, d, d)
        Symmetric matrices of the learned quadratic features, any scale.
    true_matrices : array-like of shape (p, d, d)
        Symmetric matrices of the true latent features, any scale.
    criterion : {"cos2", "abs"}, default="cos2"
        Score maximised: the sum of ``cos^2`` or the sum of ``|cos|``.

    Returns
    -------
    matching : DirectionMatching
        The ``min(k, p)`` pairs, sorted by true direction, with their signed
        cosines and ``cos^2``.

    See Also
    --------
    direction_cos2 : cos^2 of each true direction with the whole learned span.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hierspectral._recovery import match_directions
    >>> true = np.stack([np.diag([1.0, 0.0]), np.diag([0.0, 1.0])])
    >>> learned = np.stack([-2.0 * true[1], true[0]])  # permuted, flipped, scaled
    >>> matching = match_directions(learned, true)
    >>> matching.learned_index, matching.cosine
    (array([1, 0]), array([ 1., -1.]))
    """
    if criterion not in ("cos2", "abs"):
        raise ValueError(f"criterion must be 'cos2' or 'abs'; got {criterion!r}.")
    learned, true = _check_pair(learned_matrices, true_matrices)
    learned = _unit_rows(sym_to_vec(learned))
    true = _unit_rows(sym_to_vec(true))
    cosines = np.clip(learned @ true.T, -1.0, 1.0)  # (k, p)
    scores = cosines**2 if criterion == "cos2" else np.abs(cosines)
    rows, cols = linear_sum_assignment(scores, maximize=True)
    order = np.argsort(cols)
    rows, cols = rows[order].astype(int), cols[order].astype(int)
    cosine = cosines[rows, cols]
    return DirectionMatching(
        true_index=cols,
        learned_index=rows,
        cosine=cosine,
        cos2=cosine**2,
        n_true=true.shape[0],
    )


def _column_basis(features):
    """Orthonormal basis of the span of the centred columns of ``features``."""
    centred = features - features.mean(axis=0)
    if centred.shape[1] == 0:
        return centred
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    # Rank tolerance of numpy.linalg.matrix_rank; all-constant columns give 0.
    tol = (s[0] if s.size else 0.0) * max(centred.shape) * np.finfo(float).eps
    return u[:, (s > tol) & (s > 0)]


def canonical_correlations(learned_features, true_features):
    """Canonical correlations between two sets of features.

    Parameters
    ----------
    learned_features : array-like of shape (n_samples, k)
    true_features : array-like of shape (n_samples, p)

    Returns
    -------
    rho : ndarray of shape (min(rank_learned, rank_true),)
        In ``[0, 1]``, decreasing; constant or collinear columns are dropped.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hierspectral._recovery import canonical_correlations
    >>> rng = np.random.default_rng(0)
    >>> H = rng.standard_normal((1000, 2))
    >>> mixed = H @ np.array([[1.0, 2.0], [3.0, -1.0]]) + 5.0
    >>> canonical_correlations(mixed, H).round(6)
    array([1., 1.])
    """
    learned, true = _check_features(learned_features, true_features)
    q_learned, q_true = _column_basis(learned), _column_basis(true)
    if q_learned.shape[1] == 0 or q_true.shape[1] == 0:
        return np.zeros(0)
    return np.clip(np.linalg.svd(q_learned.T @ q_true, compute_uv=False), 0.0, 1.0)


def _check_features(learned_features, true_features):
    learned = _as_real_array("learned_features", learned_features)
    true = _as_real_array("true_features", true_features)
    if learned.ndim != 2 or true.ndim != 2 or learned.shape[0] != true.shape[0]:
        raise ValueError(
            "learned_features and true_features must be 2-d arrays with the same "
            f"number of rows; got shapes {learned.shape} and {true.shape}."
        )
    if learned.shape[0] < 2:
        raise ValueError("The feature overlap needs at least 2 samples.")
    # Centred below; a column's offset must not swamp its spread, so each is
    # centred before the scaling (the mean of finite values can only
    # overflow beyond 1e308, which the scaling of the raw column avoids).
    learned = _scaled_to_unit_max(learned, 0)
    true = _scaled_to_unit_max(true, 0)
    learned = _scaled_to_unit_max(learned - learned.mean(axis=0), 0)
    true = _scaled_to_unit_max(true - true.mean(axis=0), 0)
    return learned, true


_OVERLAP_METHODS = ("cca", "correlation")


def feature_overlap(learned_features, true_features, *, method="cca"):
    """How much of the true latent features the learned features carry.

    Both measures are normalised squared Frobenius norms of a cross-correlation
    matrix, divided by the number ``p`` of true features:

    * ``method="cca"`` (default): ``sum_j rho_j^2 / p``, the mean of the squared
      canonical correlations ``rho_j`` over the ``p`` true features, i.e.
      ``||Corr(W h_hat, V h)||_F^2 / p`` where ``W`` and ``V`` whiten each
      set. Equivalently, the mean over whitened true features of the ``R^2``
      of their least-squares regression on the learned features (with an
      intercept). Always in ``[0, 1]``, invariant to any invertible affine
      map of either set, so redundant, correlated or rescaled learned
      features are neither double counted nor penalised. It is 1 when the
      learned features span the true ones, 0 when they are uncorrelated with
      them.
    * ``method="correlation"``: ``||Corr(h_hat, h)||_F^2 / p``, the plain
      Pearson correlations between each learned and each true feature. It
      equals the ``"cca"`` value when both sets are uncorrelated among
      themselves (Frobenius-orthonormal learned matrices on Gaussian inputs,
      in the limit of many samples), but exceeds 1 when learned features are
      redundant (the same feature twice counts twice).

    For Gaussian inputs, ``Cov(<u, Z>, <v, Z>) = <u, v>`` for the Hermite
    features ``Z``, so the canonical correlations are the principal cosines
    between the learned and the true span: the ``"cca"`` overlap estimates
    ``mean(direction_cos2)`` from samples, up to a positive bias of about
    ``k / n_samples`` with ``k`` learned features.

    Parameters
    ----------
    learned_features : array-like of shape (n_samples, k)
        Learned features on test inputs, e.g. ``estimator.transform(X_test)``.
    true_features : array-like of shape (n_samples, p)
        True latent features on the same inputs,
        ``dataset.latent_features(X_test)``.
    method : {"cca", "correlation"}, default="cca"
        See above.

    Returns
    -------
    overlap : float
        0 when there are no learned features (or all are constant).

    See Also
    --------
    canonical_correlations : The ``rho_j`` themselves.
    recovery_report : Computes it for a fitted estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hierspectral._recovery import feature_overlap
    >>> rng = np.random.default_rng(0)
    >>> H = rng.standard_normal((20_000, 2))
    >>> round(feature_overlap(H[:, ::-1] * [3.0, -1.0], H), 6)  # same features
    1.0
    >>> round(feature_overlap(H[:, :1], H), 2)  # one of two features
    0.5
    >>> round(feature_overlap(rng.standard_normal((20_000, 3)), H), 2)
    0.0
    """
    if method not in _OVERLAP_METHODS:
        raise ValueError(f"method must be one of {_OVERLAP_METHODS}; got {method!r}.")
    learned, true = _check_features(learned_features, true_features)
    n_true = true.shape[1]
    if n_true == 0:
        raise ValueError("true_features has no columns.")
    if method == "cca":
        rho = canonical_correlations(learned, true)
        return float(np.sum(rho**2) / n_true)
    learned_std = learned.std(axis=0)
    true_std = true.std(axis=0)
    z_learned = np.divide(
        learned - learned.mean(axis=0),
        learned_std,
        out=np.zeros_like(learned),
        where=learned_std > 0,
    )
    z_true = np.divide(
        true - true.mean(axis=0), true_std, out=np.zeros_like(true), where=true_std > 0
    )
    corr = z_learned.T @ z_true / learned.shape[0]
    return float(np.sum(corr**2) / n_true)


def _locate_quadratic_step(estimator):
    """``(preceding_steps, step)`` of the step with learned quadratic features.

    Same search as :func:`learned_input_matrices` (the last such step, through
    nested Pipelines); ``preceding_steps`` are the transformers that feed it.
    """
    steps = getattr(estimator, "steps", None)
    if steps is not None:
        for position in range(len(steps) - 1, -1, -1):
            found = _locate_quadratic_step(steps[position][1])
            if found is not None:
                before = [step for _, step in steps[:position]]
                return before + found[0], found[1]
        return None
    if hasattr(estimator, "input_space_components") and hasattr(estimator, "components_"):
        return [], estimator
    return None


def learned_features(estimator, X):
    """Learned quadratic features of a fitted estimator on inputs ``X``.

    ``estimator.transform(X)`` for the spectral estimators; in a Pipeline,
    ``X`` goes through the steps before the one with learned quadratic
    features, then through its ``transform``, so that a readout after it
    (which has no ``transform``) is no obstacle.

    Parameters
    ----------
    estimator : fitted estimator
        A :class:`HierarchicalSpectralRegressor`, a
        :class:`HierarchicalSpectralTransformer` or a Pipeline with one.
    X : array-like of shape (n_samples, n_features)

    Returns
    -------
    H : ndarray of shape (n_samples, `n_components_`) or None
        None when the estimator learns no quadratic features.
    """
    found = _locate_quadratic_step(estimator)
    if found is None:
        return None
    before, step = found
    for transformer in before:
        if transformer is None or transformer == "passthrough":
            continue
        X = transformer.transform(X)
    return np.asarray(step.transform(X), dtype=float)


@dataclass(frozen=True, repr=False)
class RecoveryReport:
    """Recovery of a dataset's latent directions by one fitted estimator.

    Returned by :func:`recovery_report`. Per-direction arrays are ordered as
    the dataset's directions, i.e. by decreasing ``|weight|``; index ``i``
    (0-based) is the theory's direction ``i + 1``.

    Attributes
    ----------
    cos2 : ndarray of shape (p,)
        cos^2 between each true direction and the learned span
        (:func:`direction_cos2`).
    recovered : ndarray of bool of shape (p,)
        ``cos2 > threshold``.
    n_recovered : int
        Number of recovered directions.
    threshold : float
        The recovery threshold on ``cos2``.
    principal_cosines : ndarray
        Cosines of the principal angles between the learned and the true span
        (:func:`principal_cosines`), decreasing.
    matching : DirectionMatching
        One-to-one matching of learned components to true directions
        (:func:`match_directions`).
    feature_overlap : float
        :func:`feature_overlap` (``method="cca"``) between the learned and
        the true features on the test inputs.
    n_components : int
        Number of learned components.
    weights : ndarray of shape (p,)
        The dataset's signed weights ``b_i``.
    threshold_samples : ndarray of shape (p,)
        The theory's sample size ``n_i`` recovering each direction.
    n_samples : int or None
        The estimator's training-set size, when given to
        :func:`recovery_report`.
    predicted_n_recovered : int or None
        The theory's count at ``n_samples``; None without ``n_samples``.
    """

    cos2: np.ndarray
    recovered: np.ndarray
    n_recovered: int
    threshold: float
    principal_cosines: np.ndarray
    matching: DirectionMatching
    feature_overlap: float
    n_components: int
    weights: np.ndarray
    threshold_samples: np.ndarray
    n_samples: int = None
    predicted_n_recovered: int = None

    def __repr__(self):
        cos2 = np.array2string(self.cos2, precision=3, separator=", ")
        predicted = (
            "" if self.predicted_n_recovered is None
            else f" (theory: {self.predicted_n_recovered} at n={self.n_samples})"
        )
        return (
            f"RecoveryReport(n_recovered={self.n_recovered}/{self.cos2.size}"
            f"{predicted}, cos2={cos2}, feature_overlap={self.feature_overlap:.3f}, "
            f"n_components={self.n_components})"
        )

    def to_frame(self):
        """One row per true direction, as a tidy pandas DataFrame.

        Returns
        -------
        frame : pandas DataFrame
            Columns ``direction`` (0-based index, by decreasing ``|weight|``),
            ``weight``, ``cos2``, ``recovered``, ``threshold_n`` (the
            theory's ``n_i``), ``matched_component`` (-1 if none) and
            ``matched_cos2`` (0 if none).
        """
        import pandas as pd

        return pd.DataFrame(
            {
                "direction": np.arange(self.cos2.size),
                "weight": self.weights,
                "cos2": self.cos2,
                "recovered": self.recovered,
                "threshold_n": self.threshold_samples,
                "matched_component": self.matching.component_of_direction(),
                "matched_cos2": self.matching.cos2_of_direction(),
            }
        )


def _threshold_samples_or_nan(dataset):
    """The theory's thresholds, or NaN where the theory is undefined (d = 1)."""
    try:
        return np.asarray(dataset.threshold_samples(), dtype=float)
    except ValueError:
        return np.full(np.shape(dataset.weights), np.nan)


def recovery_report(
    estimator,
    dataset,
    *,
    X_test=None,
    n_test=5000,
    threshold=RECOVERY_THRESHOLD,
    n_samples=None,
    random_state=0,
):
    """Every recovery metric of a fitted estimator against its dataset.

    Parameters
    ----------
    estimator : fitted estimator
        A :class:`HierarchicalSpectralRegressor`, a
        :class:`HierarchicalSpectralTransformer`, or a Pipeline containing one.
        Its learned quadratic forms are taken in input coordinates
        (:func:`learned_input_matrices`).
    dataset : HierarchicalTargetDataset
        The dataset whose samples trained ``estimator``.
    X_test : array-like of shape (n_test, n_features), default=None
        Inputs on which the feature overlap is measured; ``n_test`` fresh
        inputs from ``dataset.sample`` when None.
    n_test : int, default=5000
        Number of test inputs drawn when ``X_test`` is None. The overlap's
        sampling error is of order ``1 / sqrt(n_test)``, its bias about
        ``n_components / n_test``.
    threshold : float, default=0.5
        A direction counts as recovered when its ``cos2 > threshold``.
    n_samples : int, default=None
        The estimator's training-set size; gives the theory's predicted count
        ``dataset.predicted_n_recovered(n_samples)``.
    random_state : int, RandomState or Generator, default=0
        Seed of the test inputs drawn when ``X_test`` is None.

    Returns
    -------
    report : RecoveryReport
        A frozen dataclass; ``report.to_frame()`` gives one row per true
        direction.

    Raises
    ------
    ValueError
        When the estimator has no learned quadratic features (e.g. a kernel
        baseline).

    See Also
    --------
    direction_cos2, principal_cosines, match_directions, feature_overlap

    Examples
    --------
    >>> from sklearn_hierspectral import (
    ...     HierarchicalSpectralRegressor, HierarchicalTargetDataset)
    >>> from sklearn_hierspectral._recovery import recovery_report
    >>> dataset = HierarchicalTargetDataset(n_features=8, n_latent=2, random_state=0)
    >>> X, y = dataset.sample(8000, random_state=1)
    >>> model = HierarchicalSpectralRegressor(n_components=4, random_state=0).fit(X, y)
    >>> report = recovery_report(model, dataset, n_samples=8000)
    >>> report.n_recovered, report.predicted_n_recovered
    (2, 2)
    >>> list(report.to_frame().columns)  # doctest: +NORMALIZE_WHITESPACE
    ['direction', 'weight', 'cos2', 'recovered', 'threshold_n', 'matched_component',
     'matched_cos2']
    """
    learned = learned_input_matrices(estimator)
    if learned is None:
        raise ValueError(
            f"{type(estimator).__name__} has no learned quadratic features to "
            "compare with the latent directions; recovery_report needs a fitted "
            "HierarchicalSpectralRegressor, HierarchicalSpectralTransformer or a "
            "Pipeline containing one."
        )
    true = _dataset_matrices(dataset, learned)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not 0.0 <= threshold < 1.0
    ):
        raise ValueError(f"threshold must be a number in [0, 1); got {threshold!r}.")
    if n_samples is not None and (
        isinstance(n_samples, bool)
        or not isinstance(n_samples, numbers.Real)
        or not np.isfinite(n_samples)
        or n_samples < 1
    ):
        raise ValueError(
            f"n_samples must be None or the training-set size (a number >= 1); "
            f"got {n_samples!r}."
        )
    if X_test is None and (
        isinstance(n_test, bool) or not isinstance(n_test, numbers.Integral) or n_test < 2
    ):
        raise ValueError(f"n_test must be an integer >= 2; got {n_test!r}.")
    cos2 = direction_cos2(learned, true)
    if X_test is None:
        X_test, _ = dataset.sample(n_test, random_state=random_state)
    H_learned = learned_features(estimator, X_test)
    H_true = dataset.latent_features(X_test)
    predicted = None
    if n_samples is not None:
        predicted = int(dataset.predicted_n_recovered(n_samples))
    recovered = cos2 > threshold
    return RecoveryReport(
        cos2=cos2,
        recovered=recovered,
        n_recovered=int(np.sum(recovered)),
        threshold=float(threshold),
        principal_cosines=principal_cosines(learned, true),
        matching=match_directions(learned, true),
        feature_overlap=feature_overlap(H_learned, H_true),
        n_components=int(learned.shape[0]),
        weights=np.asarray(dataset.weights, dtype=float),
        threshold_samples=_threshold_samples_or_nan(dataset),
        n_samples=None if n_samples is None else int(n_samples),
        predicted_n_recovered=predicted,
    )
