"""How well learned quadratic features span the true latent ones."""

import numpy as np

from ._hermite import sym_to_vec

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
    learned = _orthonormal_rows(sym_to_vec(np.asarray(learned_matrices, dtype=float)))
    true = sym_to_vec(np.asarray(true_matrices, dtype=float))
    norms = np.sum(true**2, axis=1)
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
    if getter is None or not hasattr(estimator, "components_"):
        return None
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
    return direction_cos2(learned, dataset.latent_matrices)


def n_recovered(cos2, threshold=RECOVERY_THRESHOLD):
    """Number of directions with ``cos^2 > threshold``."""
    return int(np.sum(np.asarray(cos2) > threshold))
