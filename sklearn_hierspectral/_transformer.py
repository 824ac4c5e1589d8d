"""Layer 1 as a scikit-learn transformer: supervised spectral quadratic features."""

import numbers
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._hermite import n_hermite_features, quadratic_features
from ._distributed import check_dask_fit_data
from ._passes import batch_slices, blas_threads_for, is_dask_collection, resolve_batch_size
from ._spectral import fit_layer1
from ._validation import IntegerInterval, check_numeric_target, validate_data


#: Highest degree of the link calibration polynomial. Monomials of the
#: standardised readout output beyond it overflow on heavy-tailed outputs and
#: the calibration's normal equations lose all precision (degree 50 on 300
#: samples gave coefficients of 1e-40 to 1e-76, degree 400 gave NaN).
MAX_LINK_DEGREE = 10


class _BaseHierarchicalSpectral(BaseEstimator):
    """Parameters, layer-1 fit and feature map shared by the two estimators."""

    _parameter_constraints: dict = {
        "n_components": [IntegerInterval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "max_components": [IntegerInterval(Integral, 1, None, closed="left")],
        "deflate": ["boolean", StrOptions({"least-squares", "moment"})],
        "finite_size_correction": ["boolean"],
        "whiten": ["boolean"],
        "cv": [IntegerInterval(Integral, 2, None, closed="left")],
        "readout": [StrOptions({"quadratic", "moment"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "link_degree": [IntegerInterval(Integral, 1, MAX_LINK_DEGREE, closed="both")],
        "solver": [StrOptions({"auto", "dense", "matrix-free"})],
        "batch_size": [IntegerInterval(Integral, 1, None, closed="left"), None],
        "precision": [StrOptions({"mixed", "double"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components="auto",
        *,
        max_components=20,
        deflate=True,
        finite_size_correction=True,
        whiten=False,
        cv=5,
        readout="quadratic",
        alpha=1e-4,
        link_degree=1,
        solver="auto",
        batch_size=None,
        precision="mixed",
        random_state=None,
    ):
        self.n_components = n_components
        self.max_components = max_components
        self.deflate = deflate
        self.finite_size_correction = finite_size_correction
        self.whiten = whiten
        self.cv = cv
        self.readout = readout
        self.alpha = alpha
        self.link_degree = link_degree
        self.solver = solver
        self.batch_size = batch_size
        self.precision = precision
        self.random_state = random_state

    def _validate_fit_data(self, X, y):
        if is_dask_collection(X) or is_dask_collection(y):
            # Validated from metadata and one lazy pass; never materialised.
            X, y = check_dask_fit_data(X, y)
            # The minimum sizes of the in-memory path (validate_data below).
            min_samples = 1 if self.n_components == "auto" else 2
            if X.shape[0] < min_samples or X.shape[1] < 1:
                raise ValueError(
                    f"Found a Dask array with {X.shape[0]} sample(s) and {X.shape[1]} "
                    f"feature(s) (shape={X.shape}) while a minimum of {min_samples} "
                    f"sample(s) and 1 feature are required by {type(self).__name__}."
                )
            self.n_features_in_ = X.shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            check_numeric_target(y)
            X, y = validate_data(
                self,
                X,
                y,
                dtype=[np.float64, np.float32],
                # Row batches of a C array are contiguous, and the products
                # of a Fortran copy round differently: same data, same fit.
                order="C",
                y_numeric=True,
                # 'auto' gets its own message below, which says why cv rows.
                ensure_min_samples=1 if self.n_components == "auto" else 2,
            )
            # An object y is cast to float after sklearn's finiteness check,
            # so a None in it arrives here as NaN.
            if not np.all(np.isfinite(y)):
                raise ValueError(
                    "Input y contains NaN or infinity (a missing value, e.g. None in "
                    "an object array); drop or impute those rows before fitting."
                )
        n_samples, n_features = X.shape
        D = n_hermite_features(n_features)
        if isinstance(self.n_components, numbers.Integral) and self.n_components > D:
            raise ValueError(
                f"n_components={self.n_components} is larger than the number of "
                f"quadratic directions D = d(d+1)/2 = {D} of {n_features} input "
                f"feature(s); use at most {D}, or n_components='auto'."
            )
        if self.n_components == "auto" and n_samples < self.cv:
            raise ValueError(
                f"n_components='auto' cross-validates over cv={self.cv} folds and "
                f"needs at least {self.cv} samples; got {n_samples} sample(s). Pass "
                "more samples, a smaller cv, or an integer n_components."
            )
        return X, y

    def _fit_layer1(self, X, y):
        """Fit layer 1, set the fitted attributes and return the fit record."""
        n_features = X.shape[1]
        with blas_threads_for(X.shape[0], 1 + n_features + n_hermite_features(n_features)):
            return self._fit_layer1_threads_set(X, y)

    def _fit_layer1_threads_set(self, X, y, final_readout=False):
        fit = fit_layer1(
            X,
            y,
            n_components=self.n_components,
            max_components=self.max_components,
            deflate=self.deflate,
            finite_size_correction=self.finite_size_correction,
            whiten=self.whiten,
            cv=self.cv,
            readout=self.readout,
            alpha=self.alpha,
            link_degree=self.link_degree,
            batch_size=self.batch_size,
            random_state=self.random_state,
            solver=self.solver,
            final_readout=final_readout,
            precision=self.precision,
        )
        self._standardizer = fit.standardizer
        self.mean_ = fit.standardizer.mean
        self.scale_ = fit.standardizer.scale
        self.whitening_ = fit.standardizer.matrix
        self.y_mean_ = fit.y_mean
        self.y_scale_ = fit.y_scale
        self.deflation_ = fit.deflation
        self.solver_ = fit.solver
        self.low_degree_coef_ = fit.low_degree_coef
        self.low_degree_penalty_ = fit.low_degree_penalty
        self.spectrum_ = fit.spectrum
        self.n_components_ = fit.n_components
        self.components_ = fit.components
        self.eigenvalues_ = fit.spectrum[: fit.n_components]
        self.noise_edge_ = fit.noise_edge
        self.n_iter_ = fit.n_iter
        self.cv_errors_ = fit.cv_errors
        self.cv_errors_se_ = fit.cv_errors_se
        self.n_recovered_outliers_ = int(np.sum(np.abs(fit.spectrum) > fit.noise_edge))
        return fit

    def _batch_size(self, n_features):
        return resolve_batch_size(self.batch_size, n_features * max(1, self.n_components_))

    def _learned_features(self, X):
        """Learned features of validated ``X``, computed in batches."""
        n_samples = X.shape[0]
        out = np.empty((n_samples, self.n_components_), dtype=np.float64)
        for rows in batch_slices(n_samples, self._batch_size(X.shape[1])):
            with np.errstate(over="ignore", invalid="ignore"):
                out[rows] = quadratic_features(
                    self._standardizer.apply(X[rows]), self.components_
                )
        self._check_finite_output(X, out)
        return out

    def _check_finite_output(self, X, out):
        """Refuse inputs whose quadratic features overflow, instead of NaN."""
        if np.all(np.isfinite(out)):
            return
        if not np.all(np.isfinite(X)):
            # Reached by the chunks of a Dask array, which are not validated
            # up front (that would be a pass over the data).
            raise ValueError(
                "Input X contains NaN or infinity; remove or impute those rows "
                "before predicting."
            )
        largest = float(np.max(np.abs(X)))
        raise ValueError(
            f"X has values up to {largest:.3g}, far outside the training data "
            f"(column scales up to {float(np.max(self.scale_)):.3g}): the quadratic "
            "features overflow the float range. Check the units of X or clip it "
            "to the range seen in fit."
        )

    def transform(self, X):
        """Learned quadratic features ``h_k(x) = (x^T A_k x - tr A_k) / sqrt(2)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A Dask array gives a lazy Dask array, computed chunk by chunk.

        Returns
        -------
        H : ndarray of shape (n_samples, `n_components_`)
        """
        check_is_fitted(self)
        if is_dask_collection(X):
            return self._map_chunks(X, self._learned_features, self.n_components_)
        X = validate_data(self, X, dtype=[np.float64, np.float32], order="C", reset=False)
        return self._learned_features(X)

    def _map_chunks(self, X, function, n_outputs):
        """Apply ``function`` to each row chunk of a Dask array, lazily."""
        if X.ndim != 2:
            raise ValueError(
                f"Expected a 2-D Dask array for X, of shape (n_samples, "
                f"{self.n_features_in_}); got {X.ndim} dimension(s), shape {X.shape}."
            )
        if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
            raise TypeError(f"X must hold real numbers; got dtype {X.dtype}.")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[-1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        X = X.rechunk({1: -1})
        if n_outputs is None:
            return X.map_blocks(function, drop_axis=1, dtype=np.float64)
        return X.map_blocks(
            function, chunks=(X.chunks[0], (n_outputs,)), dtype=np.float64
        )

    def get_feature_names_out(self, input_features=None):
        """Names of the learned features, e.g. ``hierarchicalspectraltransformer0``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored; present for API consistency.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{k}" for k in range(self.n_components_)], dtype=object)

    def input_space_components(self):
        """Matrices of the learned quadratic forms in the raw input coordinates.

        ``components_`` act on preprocessed inputs ``x_pre = S^T (x - mean_)``;
        the same forms on raw inputs are ``S A_k S^T`` (not normalised).

        Returns
        -------
        matrices : ndarray of shape (`n_components_`, `n_features_in_`, `n_features_in_`)
        """
        check_is_fitted(self)
        S = self._standardizer.linear_map()
        return np.einsum("ij,kjl,ml->kim", S, self.components_, S)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


class HierarchicalSpectralTransformer(TransformerMixin, _BaseHierarchicalSpectral):
    """Layer 1 of the hierarchical spectral learner, as a supervised transformer.

    Learns quadratic features ``h_k(x) = (x^T A_k x - tr A_k) / sqrt(2)`` from
    the top eigen-directions (by ``|eigenvalue|``) of the spectral matrix
    ``C = (1/n) sum_mu r_mu (Z_mu Z_mu^T - I)`` of the degree-2 Hermite features
    ``Z``, with ``r`` the target after removing its low-degree part. Put any
    readout after it in a :class:`~sklearn.pipeline.Pipeline`;
    :class:`HierarchicalSpectralRegressor` composes it with a quadratic readout.

    Read more in SPEC section 3.

    Parameters
    ----------
    n_components : int or 'auto', default='auto'
        Number of learned features. 'auto' picks it by cross-validated error
        of the readout (layer 1 refitted without each held-out fold, then the
        one-standard-error rule), so that the learner follows the sequential
        recovery of latent directions by itself.
    max_components : int, default=20
        Largest number of features 'auto' considers.
    deflate : bool or {'least-squares', 'moment'}, default=True
        Remove the target's degree <= 2 Hermite part (fitted on
        ``[1, x, Z(x)]``) before forming the spectral matrix; the regressor
        adds it back in its predictions. 'least-squares' is a ridge fit whose
        penalty is chosen by generalised cross-validation (GCV); 'moment'
        is the cheaper estimate ``(1/n) sum y [1, x, Z]``. True picks least
        squares unless its Gram matrix would not fit comfortably in memory.
        False reproduces the published method.
    finite_size_correction : bool, default=True
        Remove from the spectral matrix, for each clear spike, the operator
        ``4 b A V A`` that Gaussian fourth moments add at finite ``d`` (see
        :func:`~sklearn_hierspectral._spectral.correct_finite_size`): it
        creates spurious spikes of order ``b / d`` that outrank and blur weaker
        true directions. False, with ``deflate=False``, reproduces the
        published method.
    whiten : bool, default=False
        Fully whiten the inputs instead of centring and scaling each column.
    cv : int, default=5
        Cross-validation folds over which 'auto' chooses the number of
        components (layer 1 refitted without each fold).
    readout : {'quadratic', 'moment'}, default='quadratic'
        Readout used to score candidate numbers of features under 'auto'.
    alpha : float, default=1e-4
        Ridge penalty of the quadratic readout, added to its per-sample Gram
        matrix (the learned features have unit scale, so it is relative).
    link_degree : int, default=1
        Degree (1 to 10) of the polynomial link calibration used by the
        readout.
    solver : {'auto', 'dense', 'matrix-free'}, default='auto'
        Eigen-solver of the spectral operator. 'dense' forms the ``D x D``
        matrix (``D = d(d+1)/2``, one per fold under 'auto'); 'matrix-free'
        runs a block Krylov method on the operator ``C[V]``, one pass over
        the samples per block product, with memory ``O(k d^2 + batch d k)``,
        and then scores the folds of 'auto' on the same Krylov subspace.
        'auto' picks dense while its matrices take at most 1 GiB (and a
        quarter of the free memory).
    batch_size : int, default=None
        Rows per batch in every pass over the samples; by default sized so
        that the per-batch feature buffer takes about 64 MB (large batches keep
        the per-fold products efficient).
    precision : {'mixed', 'double'}, default='mixed'
        Precision of the heavy products (the Gram matrix of the low-degree
        design, the spectral matrix, the readout statistics) within each batch
        of rows; the batch sums are always added in float64, so rounding does
        not grow with the number of samples. 'mixed' multiplies in float32:
        twice as fast, with a relative rounding of about 1e-6, far below the
        statistical error of any of these sums (about ``1/sqrt(n)``);
        measured at d = 30, n = 147,885: components within cos^2 > 0.9999 and
        predictions within 1e-4 relative of 'double', which multiplies in
        float64.
    random_state : int, RandomState instance or None, default=None
        Seeds the fold assignment and subsampling of 'auto'.

    Attributes
    ----------
    components_ : ndarray of shape (`n_components_`, `n_features_in_`, `n_features_in_`)
        Symmetric, Frobenius-orthonormal matrices ``A_k`` of the learned
        features, by decreasing ``|eigenvalue|``, in the coordinates of the
        preprocessed input.
    eigenvalues_ : ndarray of shape (`n_components_`,)
        Signed eigenvalues of the kept components.
    spectrum_ : ndarray of shape (D,) or (m,)
        Eigenvalues of the (corrected) spectral matrix, by decreasing
        magnitude: all ``D`` with the dense solver, the ``m`` Ritz values of
        the Krylov subspace with the matrix-free one.
    n_components_ : int
        Number of learned features.
    noise_edge_ : float
        Estimated edge of the noise bulk of the spectrum (a diagnostic).
    n_recovered_outliers_ : int
        Number of eigenvalues beyond ``noise_edge_`` (a diagnostic).
    n_iter_ : int or None
        Block products of the spectral operator (each one pass over the
        samples) made by the matrix-free solver; None with the dense solver.
    cv_errors_ : ndarray of shape (max_components + 1,) or None
        Cross-validated mean squared error of the scaled residual for
        ``k = 0, 1, ...`` features, under 'auto'.
    cv_errors_se_ : ndarray of shape (max_components + 1,) or None
        Their standard errors, from the spread of the per-fold errors (as
        in glmnet), for the one-standard-error rule.
    mean_ : ndarray of shape (`n_features_in_`,)
        Column means of the training inputs.
    scale_ : ndarray of shape (`n_features_in_`,)
        Column standard deviations (1 for constant columns).
    whitening_ : ndarray of shape (`n_features_in_`, `n_features_in_`) or None
        Whitening matrix when ``whiten=True``.
    y_mean_, y_scale_ : float
        Mean and standard deviation used to scale the target.
    deflation_ : str
        'least-squares', 'moment' or 'none'.
    solver_ : str
        'dense' or 'matrix-free'.
    low_degree_penalty_ : float or None
        Ridge penalty of the low-degree part chosen by GCV.
    low_degree_coef_ : ndarray of shape (1 + d + D,) or None
        Coefficients of the removed low-degree part on ``[1, x, Z(x)]``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    HierarchicalSpectralRegressor : Layer 1 followed by a readout.
    sklearn.kernel_approximation.PolynomialCountSketch : Non-adaptive
        polynomial features.

    References
    ----------
    .. [1] "Deep Learning of Compositional Targets with Hierarchical Spectral
       Methods", arXiv:2602.10867, 2026.
    .. [2] "Scaling Laws from Sequential Feature Recovery: A Solvable
       Hierarchical Model", arXiv:2605.14567, 2026.

    Examples
    --------
    >>> from sklearn_hierspectral import (
    ...     HierarchicalSpectralTransformer, make_hierarchical_regression)
    >>> X, y = make_hierarchical_regression(4000, 10, random_state=0)
    >>> layer1 = HierarchicalSpectralTransformer(n_components=2, random_state=0)
    >>> layer1.fit_transform(X, y).shape
    (4000, 2)
    """

    # Named in this class, so that TransformerMixin's set_output wraps it
    # (scikit-learn wraps the transform a class defines, not an inherited one).
    transform = _BaseHierarchicalSpectral.transform

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Learn the quadratic features from ``X`` and the target ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs; Dask arrays are reduced chunk by chunk where they
            live, and only small statistics reach this process.
        y : array-like of shape (n_samples,)
            Target values; a Dask array when ``X`` is one.

        Returns
        -------
        self : object
        """
        X, y = self._validate_fit_data(X, y)
        self._fit_layer1(X, y)
        return self
