"""The layer-wise spectral learner: layer 1 (spectral features) + readout."""

import numpy as np
from sklearn.base import RegressorMixin, TransformerMixin, _fit_context
from sklearn.utils.validation import check_is_fitted

from ._hermite import low_degree_part, n_hermite_features, quadratic_features
from ._passes import batch_slices, blas_threads_for, is_dask_collection, single_blas_thread
from ._layer2 import solve_joint, solve_residual_readout
from ._readout import refit_low_degree
from ._spectral import fit_readouts
from ._transformer import _BaseHierarchicalSpectral
from ._validation import validate_data


class HierarchicalSpectralRegressor(RegressorMixin, TransformerMixin, _BaseHierarchicalSpectral):
    """Layer-wise spectral learner for hierarchical targets.

    Fits ``y ~ low(x) + g(readout(h(x)))`` in two layers:

    1. the target's degree <= 2 Hermite part ``low(x)`` is removed by least
       squares (``deflate=True``) and the residual ``r`` weights the spectral
       matrix ``C = (1/n) sum r (Z Z^T - I)`` of the degree-2 Hermite features
       ``Z(x)``; its top eigen-directions by ``|eigenvalue|`` define quadratic
       features ``h_k(x) = (x^T A_k x - tr A_k) / sqrt(2)``;
    2. a readout regresses ``r`` on the learned features: a ridge regression
       on their products (``'quadratic'``) or the published moment head
       (``'moment'``), optionally followed by a polynomial link calibration
       ``g`` of degree ``link_degree``.

    With ``n_components='auto'`` the number of features is picked by
    cross-validated readout error, so the learner recovers latent directions
    one after another as the sample size grows.

    Read more in SPEC section 3.

    Parameters
    ----------
    n_components : int or 'auto', default='auto'
        Number of learned features. 'auto' picks it by cross-validated error
        of the readout (layer 1 refitted without each held-out fold, then the
        one-standard-error rule). 0 keeps only the low-degree part.
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
        Second layer. 'quadratic' is ridge regression on
        ``[1, h_i, h_i h_j - delta_ij]``; 'moment' is the published head
        ``B = (1/2n) sum r (h h^T - I)``, ``s = h^T B h - tr B`` with an affine
        calibration.
    alpha : float, default=1e-4
        Ridge penalty of the quadratic readout, added to its per-sample Gram
        matrix (the learned features have unit scale, so it is relative).
    link_degree : int, default=1
        Degree of the polynomial fitted on the readout output to approximate
        a non-identity link (the published code uses 5). 1 is the identity
        link (an affine calibration for the moment head). At most 10: beyond,
        the powers of the output overflow and the calibration is meaningless.
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
    readout_coef_ : ndarray
        Weights of the quadratic design, or the matrix ``B`` of the moment
        head.
    link_coef_ : ndarray of shape (link_degree + 1,) or None
        Polynomial link calibration (on the standardised readout output),
        lowest degree first; None when not used.
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
        Coefficients of the low-degree part on ``[1, x, Z(x)]`` (scaled target).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    HierarchicalSpectralTransformer : Layer 1 alone, for any readout.
    HierarchicalTargetDataset : The target this learner is built for.
    sklearn.kernel_ridge.KernelRidge : The shallow baseline.

    References
    ----------
    .. [1] "Scaling Laws from Sequential Feature Recovery: A Solvable
       Hierarchical Model", arXiv:2605.14567, 2026.
    .. [2] "Deep Learning of Compositional Targets with Hierarchical Spectral
       Methods", arXiv:2602.10867, 2026.

    Examples
    --------
    >>> from sklearn_hierspectral import (
    ...     HierarchicalSpectralRegressor, HierarchicalTargetDataset)
    >>> dataset = HierarchicalTargetDataset(n_features=10, random_state=0)
    >>> X, y = dataset.sample(20_000, random_state=1)
    >>> model = HierarchicalSpectralRegressor(random_state=0).fit(X, y)
    >>> model.n_components_ >= 1
    True
    >>> X_test, y_test = dataset.sample(2_000, random_state=2)
    >>> round(model.score(X_test, y_test), 1) >= 0.8
    True
    """

    # Named in this class, so that TransformerMixin's set_output wraps it
    # (scikit-learn wraps the transform a class defines, not an inherited one).
    transform = _BaseHierarchicalSpectral.transform

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit both layers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs. Dask arrays are reduced chunk by chunk where they
            live (on the cluster when a ``dask.distributed`` client is
            active); only small statistics reach this process.
        y : array-like of shape (n_samples,)
            Target values; a Dask array when ``X`` is one.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, y = self._validate_fit_data(X, y)
        n_features = X.shape[1]
        with blas_threads_for(X.shape[0], 1 + n_features + n_hermite_features(n_features)):
            return self._fit_both_layers(X, y)

    def _fit_both_layers(self, X, y):
        layer1 = self._fit_layer1_threads_set(X, y, final_readout=True)
        self.readout_coef_ = None
        self.link_coef_ = None
        self._readout = None
        if self.n_components_ == 0:
            return self
        final = layer1.readout_statistics
        if final is not None and layer1.low_degree_gram is not None:
            with single_blas_thread():
                low_coef, readout = solve_joint(
                    final, self.n_components_, layer1.low_degree_gram, layer1.low_degree_rhs,
                    layer1.low_degree_penalty, self.alpha, X.shape[0],
                )
        else:
            if final is not None:
                readout = solve_residual_readout(final, self.n_components_, self.alpha)
            else:
                readout = fit_readouts(
                    layer1.samples, [self.components_], None, readout=self.readout,
                    n_components_list=[self.n_components_], alpha=self.alpha,
                    link_degree=self.link_degree,
                )[0][0]
            low_coef = None
            if layer1.low_degree_coef is not None:
                low_coef = refit_low_degree(
                    layer1.samples, readout, self.components_,
                    layer1.low_degree_gram, layer1.low_degree_penalty,
                )
        self.low_degree_coef_ = low_coef
        self._readout = readout
        self.readout_coef_ = readout.coef
        self.link_coef_ = readout.calibration
        return self

    def predict(self, X):
        """Predict with the low-degree part plus the readout of learned features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A Dask array gives a lazy Dask array, computed chunk by chunk.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        if is_dask_collection(X):
            return self._map_chunks(X, self._predict_validated, None)
        X = validate_data(self, X, dtype=[np.float64, np.float32], order="C", reset=False)
        return self._predict_validated(X)

    def _predict_validated(self, X):
        n_samples = X.shape[0]
        scaled = np.zeros(n_samples)
        with np.errstate(over="ignore", invalid="ignore"):
            for rows in batch_slices(n_samples, self._batch_size(X.shape[1])):
                Xpre = self._standardizer.apply(X[rows])
                if self.low_degree_coef_ is not None:
                    scaled[rows] += low_degree_part(Xpre, self.low_degree_coef_)
                if self._readout is not None:
                    scaled[rows] += self._readout.predict(
                        quadratic_features(Xpre, self.components_)
                    )
            prediction = self.y_mean_ + self.y_scale_ * scaled
        self._check_finite_output(X, prediction)
        return prediction
