"""The hierarchical target: latent quadratic features with power-law weights."""

import math
import numbers

import numpy as np
import scipy.sparse as sp

from . import _theory
from ._hermite import n_hermite_features, quadratic_features, vec_to_sym
from ._memory import check_allocation

_LINKS = ("identity", "tanh", "quadratic")
# Rows per batch when evaluating the target: the temporary is n x d x p floats.
_TARGET_BATCH_ELEMENTS = 2**22
#: Most chunks :meth:`HierarchicalTargetDataset.to_dask` makes: beyond this the
#: task graph alone (a few kB per chunk) takes gigabytes and minutes to build.
_MAX_CHUNKS = 2**17


def _seed_sequence(random_state):
    """Turn any sklearn-style ``random_state`` into a numpy ``SeedSequence``."""
    if random_state is None:
        return np.random.SeedSequence()
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(
                f"random_state must be a non-negative integer; got {random_state}."
            )
        return np.random.SeedSequence(int(random_state))
    if isinstance(random_state, np.random.RandomState):
        return np.random.SeedSequence(int(random_state.randint(2**31 - 1)))
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2**63 - 1)))
    if isinstance(random_state, np.random.SeedSequence):
        # A copy: spawning advances a SeedSequence, so the caller's object
        # would give another target (or sample) the next time it is passed.
        return np.random.SeedSequence(
            random_state.entropy,
            spawn_key=random_state.spawn_key,
            pool_size=random_state.pool_size,
        )
    raise TypeError(
        "random_state must be None, a non-negative int, a numpy RandomState or "
        f"Generator; got {type(random_state).__name__}."
    )


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return int(value)


def _check_real(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}.")
    if not np.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum}; got {value}.")
    return float(value)


def _check_theory_n_samples(n_samples):
    """``n_samples`` of the theory methods: positive finite number(s)."""
    values = np.asarray(n_samples)
    if values.dtype.kind == "O" and isinstance(n_samples, numbers.Integral):
        # A Python int beyond int64 (10**20 is one): fine as a float, unless
        # it is beyond the float range too (10**400).
        try:
            n_samples = float(n_samples)
        except OverflowError:
            raise ValueError(
                f"n_samples is an integer of {len(str(abs(n_samples)))} digits, beyond "
                "the float range of the theory's formulas (about 1.8e308)."
            ) from None
        values = np.asarray(n_samples)
    if values.dtype == bool or values.dtype.kind not in "iuf":
        raise TypeError(
            "n_samples must be a positive number or an array of positive numbers; "
            f"got {n_samples!r}."
        )
    if values.size and (not np.all(np.isfinite(values)) or np.any(values <= 0)):
        raise ValueError(
            "n_samples must be positive and finite (the theory is in log n / log d); "
            f"got {n_samples!r}."
        )
    return n_samples


def _callable_name(function):
    return repr(getattr(function, "__name__", type(function).__name__))


def _check_dtype(dtype):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64; got {dtype!r}.") from None
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64; got {dtype}.")
    return dtype


class HierarchicalTargetDataset:
    """A fixed hierarchical target and a source of fresh samples from it.

    The target is drawn once from ``random_state``:
    ``y = g(s(x)) + noise * xi`` with ``x ~ N(0, I_d)``,
    ``s(x) = sum_i b_i (h_i(x)^2 - 1)`` and latent quadratic features
    ``h_i(x) = (x^T A_i x - tr A_i) / sqrt(2)``. The ``A_i`` are Frobenius-
    orthonormal symmetric matrices and the weights decay as a power law,
    ``b_i = sigma_i i^-gamma / sqrt(2 sum_j j^-2gamma)`` with random signs.

    Read more in SPEC section 2; the theory of section 4 is available as
    methods.

    Parameters
    ----------
    n_features : int, default=30
        Input dimension ``d``.
    n_latent : int, default=None
        Number ``p`` of latent features; ``round(d ** latent_exponent)`` when
        None. At most ``D = d (d + 1) / 2``.
    latent_exponent : float, default=0.5
        ``eps`` in ``p = round(d ** eps)``; used only when ``n_latent`` is None.
    decay : float, default=1.0
        Power-law exponent ``gamma >= 0`` of the weights.
    link : {'identity', 'tanh', 'quadratic'} or callable, default='identity'
        Output link ``g``. 'quadratic' is ``s^2 + s - 1``. A callable must map
        an array of ``s`` values to an array of the same shape.
    noise : float, default=0.0
        Standard deviation of the Gaussian label noise.
    random_state : int, RandomState or Generator, default=None
        Draws the latent matrices and signs, and seeds the stream of inputs
        that :meth:`sample` uses when it is called without a seed.

    Attributes
    ----------
    latent_matrices : ndarray of shape (n_latent, d, d)
        The ``A_i``, symmetric and Frobenius-orthonormal.
    latent_directions : ndarray of shape (n_latent, D)
        The same as unit vectors of the degree-2 Hermite feature space.
    weights : ndarray of shape (n_latent,)
        The signed second-layer weights ``b_i``, by decreasing magnitude.
    n_latent : int
        Resolved ``p``.

    See Also
    --------
    make_hierarchical_regression : Function form returning ``X, y``.
    HierarchicalSpectralRegressor : The learner this target is built for.

    References
    ----------
    .. [1] "Scaling Laws from Sequential Feature Recovery: A Solvable
       Hierarchical Model", arXiv:2605.14567, 2026.

    Examples
    --------
    >>> from sklearn_hierspectral import HierarchicalTargetDataset
    >>> dataset = HierarchicalTargetDataset(n_features=10, random_state=0)
    >>> dataset.n_latent
    3
    >>> X, y = dataset.sample(500, random_state=1)
    >>> X.shape, y.shape
    ((500, 10), (500,))
    >>> dataset.predicted_n_recovered(500)
    2
    """

    def __init__(
        self,
        n_features=30,
        *,
        n_latent=None,
        latent_exponent=0.5,
        decay=1.0,
        link="identity",
        noise=0.0,
        random_state=None,
    ):
        self.n_features = _check_int("n_features", n_features, 1)
        self.latent_exponent = _check_real("latent_exponent", latent_exponent, 0.0)
        self.decay = _check_real("decay", decay, 0.0)
        self.noise = _check_real("noise", noise, 0.0)
        if not (callable(link) or (isinstance(link, str) and link in _LINKS)):
            raise ValueError(
                f"link must be one of {_LINKS} or a callable; got {link!r}."
            )
        self.link = link
        self.random_state = random_state
        D = n_hermite_features(self.n_features)
        if n_latent is None:
            try:
                raw = float(self.n_features) ** self.latent_exponent
            except OverflowError:
                raw = math.inf
            if raw > D:
                shown = f"{raw:.3g}" if math.isfinite(raw) and raw >= 1e15 else (
                    f"{int(round(raw))}" if math.isfinite(raw) else "inf"
                )
                raise ValueError(
                    f"round(n_features ** latent_exponent) = {shown} latent features "
                    f"cannot be orthonormal in the D = d(d+1)/2 = {D} dimensional space "
                    f"of symmetric {self.n_features}x{self.n_features} matrices; use a "
                    "smaller latent_exponent or pass n_latent (at most "
                    f"{D})."
                )
            n_latent = max(1, int(round(raw)))
            source = f"round(n_features ** latent_exponent) = {n_latent}"
        else:
            n_latent = _check_int("n_latent", n_latent, 1)
            source = f"n_latent={n_latent}"
        if n_latent > D:
            raise ValueError(
                f"{source} latent features cannot be orthonormal in the "
                f"D = d(d+1)/2 = {D} dimensional space of symmetric {self.n_features}"
                f"x{self.n_features} matrices; use at most {D} latent features or a "
                "larger n_features."
            )
        self.n_latent = n_latent
        # The Gaussian frame, its QR factor and the matrices, before any of it
        # is allocated: HierarchicalTargetDataset(10**5) must fail fast.
        check_allocation(
            8.0 * n_latent * (3.0 * D + 2.0 * self.n_features**2),
            f"A target with n_features={self.n_features} and {n_latent} latent "
            f"features (D = {D} dimensional latent directions)",
            "use a smaller n_features or fewer latent features",
        )
        if callable(link):
            self._check_link_callable(link)

        target_seed, sample_seed = _seed_sequence(random_state).spawn(2)
        rng = np.random.default_rng(target_seed)
        gaussian = rng.standard_normal((D, n_latent))
        # QR of a Gaussian matrix: a uniformly random orthonormal frame.
        q, r = np.linalg.qr(gaussian)
        q *= np.sign(np.diag(r))
        self.latent_directions = np.ascontiguousarray(q.T)
        self.latent_matrices = vec_to_sym(self.latent_directions, self.n_features)
        signs = rng.choice(np.array([-1.0, 1.0]), size=n_latent)
        powers = np.arange(1, n_latent + 1, dtype=float) ** (-self.decay)
        self.weights = signs * powers / np.sqrt(2.0 * np.sum(powers**2))
        self._sample_rng = np.random.default_rng(sample_seed)

    @staticmethod
    def _check_link_callable(link):
        try:
            probe = np.asarray(link(np.zeros(3)))
        except Exception as exc:
            raise ValueError(
                "The link callable failed on a probe array of shape (3,) with "
                f"{type(exc).__name__}: {exc}. A callable link must map an array of "
                "s values to an array of the same shape."
            ) from exc
        if probe.shape != (3,):
            raise ValueError(
                "A callable link must map an array of shape (n,) to one of "
                f"shape (n,); on shape (3,) it returned shape {probe.shape}."
            )
        if probe.dtype == bool or probe.dtype.kind not in "iuf":
            raise TypeError(
                "A callable link must return real numbers; on a probe array it "
                f"returned dtype {probe.dtype}."
            )

    def __repr__(self):
        link = self.link if isinstance(self.link, str) else getattr(
            self.link, "__name__", "callable"
        )
        return (
            f"HierarchicalTargetDataset(n_features={self.n_features}, "
            f"n_latent={self.n_latent}, decay={self.decay}, link={link!r}, "
            f"noise={self.noise})"
        )

    # ------------------------------------------------------------------ target
    def _check_X(self, X):
        if sp.issparse(X):
            raise TypeError(
                "X is a sparse matrix, but the target needs dense inputs; pass "
                "X.toarray()."
            )
        X = np.asarray(X)
        if X.dtype.kind == "c":
            raise TypeError("X must hold real numbers; got complex values.")
        if X.dtype.kind not in "biuf":
            try:
                X = X.astype(np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"X must hold real numbers; got dtype {X.dtype}."
                ) from None
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X must have shape (n_samples, {self.n_features}); got {X.shape}."
            )
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        if not np.all(np.isfinite(X)):
            raise ValueError(
                "X contains NaN or infinity; the target is defined for finite inputs "
                "only. Remove or impute those rows."
            )
        return X

    def _batch_rows(self):
        return max(1, _TARGET_BATCH_ELEMENTS // (self.n_features * self.n_latent))

    def latent_features(self, X):
        """Latent features ``h_i(x)`` of each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        H : ndarray of shape (n_samples, n_latent)
        """
        X = self._check_X(X)
        matrices = self.latent_matrices.astype(X.dtype, copy=False)
        out = np.empty((X.shape[0], self.n_latent), dtype=X.dtype)
        batch = self._batch_rows()
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, X.shape[0], batch):
                out[start : start + batch] = quadratic_features(
                    X[start : start + batch], matrices
                )
        self._check_finite_values(out, "latent features h_i(x)")
        return out

    def _link(self, s):
        if self.link == "identity":
            return s
        if self.link == "tanh":
            return np.tanh(s)
        if self.link == "quadratic":
            return s**2 + s - 1.0
        try:
            out = np.asarray(self.link(s))
        except Exception as error:  # a user's function: say whose error it is
            raise ValueError(
                f"The link callable {_callable_name(self.link)} raised "
                f"{type(error).__name__}: {error}. It must map a float array of "
                "hidden values to an array of the same shape."
            ) from error
        if not np.issubdtype(out.dtype, np.number) or np.iscomplexobj(out):
            raise ValueError(
                f"The link callable {_callable_name(self.link)} returned an array of "
                f"dtype {out.dtype}; it must return real numbers."
            )
        if out.shape != s.shape:
            raise ValueError(
                f"The link callable returned shape {out.shape} for an input of shape "
                f"{s.shape}; it must keep the shape."
            )
        return out.astype(s.dtype, copy=False)

    def second_layer(self, X):
        """The pre-link hidden value ``s(x) = sum_i b_i (h_i(x)^2 - 1)``."""
        X = self._check_X(X)
        out = np.empty(X.shape[0], dtype=X.dtype)
        batch = self._batch_rows()
        weights = self.weights.astype(X.dtype)
        matrices = self.latent_matrices.astype(X.dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, X.shape[0], batch):
                H = quadratic_features(X[start : start + batch], matrices)
                out[start : start + batch] = (H**2 - 1.0) @ weights
        self._check_finite_values(out, "hidden value s(x)")
        return out

    def _check_finite_values(self, values, what):
        """Refuse inputs whose quadratic forms overflow ``values.dtype``."""
        finite = np.isfinite(values)
        if not np.all(finite):
            n_bad = int(np.sum(~finite.reshape(values.shape[0], -1).all(axis=1)))
            raise ValueError(
                f"The {what} overflow {values.dtype} for {n_bad} of {values.shape[0]} "
                "input rows: the target is of degree 4 in x, so inputs far from the "
                "unit scale of N(0, I) do not fit. Pass inputs of moderate size"
                + (", or float64 instead of float32." if values.dtype == np.float32 else ".")
            )

    def target(self, X):
        """Noiseless target ``g(s(x))`` of each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        hidden = self.second_layer(X)
        with np.errstate(over="ignore", invalid="ignore"):
            y = self._link(hidden)
        self._check_finite_target(y, "link")
        return y

    def _check_finite_target(self, y, stage):
        finite = np.isfinite(y)
        if np.all(finite):
            return
        count = f"{int(np.size(y) - np.sum(finite))} of {np.size(y)} inputs"
        if stage == "noise":
            raise ValueError(
                f"Adding the label noise (noise={self.noise:g}) overflows {y.dtype} for "
                f"{count}. Use a smaller noise"
                + (", or float64." if y.dtype == np.float32 else ".")
            )
        if callable(self.link):
            kinds = "NaN" if np.all(np.isnan(y[~finite])) else "NaN or infinity"
            raise ValueError(
                f"The link callable {_callable_name(self.link)} returned {kinds} for "
                f"{count}, on finite hidden values s(x). Use a link that is finite on "
                "the whole real line (the hidden value is unbounded)."
            )
        raise ValueError(
            f"The target overflows {y.dtype} for {count} (link={self.link!r}): the "
            "link of the hidden value is too large. Pass inputs of moderate size, or "
            "float64."
        )

    def _sample_bytes(self, n_samples, itemsize):
        """Peak bytes of ``sample(n_samples)``: X, y, the noise and the hidden
        value, plus the batched temporaries of the target."""
        batch_elements = min(float(n_samples) * self.n_features * self.n_latent,
                             _TARGET_BATCH_ELEMENTS)
        return float(n_samples) * (self.n_features + 4) * itemsize + 4.0 * batch_elements * 8

    def sample(self, n_samples, random_state=None, *, dtype=np.float64):
        """Draw fresh inputs ``x ~ N(0, I_d)`` and their noisy targets.

        Parameters
        ----------
        n_samples : int
        random_state : int, RandomState or Generator, default=None
            Seed of this draw. When None, the draw continues the dataset's own
            stream, so successive calls give fresh, reproducible samples.
        dtype : {np.float64, np.float32}, default=np.float64

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)

        Raises
        ------
        MemoryBudgetError
            Before allocating, when the sample would not fit in the available
            memory (use :meth:`to_dask` for data larger than memory).
        ValueError
            When the target overflows (a link or a noise level whose values
            are not finite).
        """
        n_samples = _check_int("n_samples", n_samples, 1)
        dtype = _check_dtype(dtype)
        check_allocation(
            self._sample_bytes(n_samples, dtype.itemsize),
            f"sample({n_samples}) of {self.n_features} features",
            "draw fewer samples at a time, or use to_dask(n_samples, chunk_size) "
            "for data larger than memory",
        )
        if random_state is None:
            rng = self._sample_rng
        else:
            rng = np.random.default_rng(_seed_sequence(random_state))
        X = rng.standard_normal((n_samples, self.n_features), dtype=dtype)
        y = self.target(X)
        if self.noise > 0:
            with np.errstate(over="ignore", invalid="ignore"):
                y += self.noise * rng.standard_normal(n_samples, dtype=dtype)
            self._check_finite_target(y, "noise")
        return X, y

    def _chunk_seeds(self, n_samples, chunk_size, random_state):
        n_samples = _check_int("n_samples", n_samples, 1)
        chunk_size = _check_int("chunk_size", chunk_size, 1)
        n_chunks = -(-n_samples // chunk_size)
        if n_chunks > _MAX_CHUNKS:
            raise ValueError(
                f"n_samples={n_samples} in chunks of chunk_size={chunk_size} makes "
                f"{n_chunks} chunks, more than {_MAX_CHUNKS} (the task graph alone "
                "would not fit in memory); use a larger chunk_size."
            )
        if random_state is None:
            random_state = int(self._sample_rng.integers(2**63 - 1))
        sizes = [min(chunk_size, n_samples - start) for start in range(0, n_samples, chunk_size)]
        return sizes, _seed_sequence(random_state).spawn(len(sizes))

    def sample_chunks(self, n_samples, chunk_size, random_state=None, *, dtype=np.float64):
        """Draw ``n_samples`` in memory, chunk by chunk, as :meth:`to_dask` does.

        Chunk ``i`` is ``sample(size_i, random_state=seed_i)`` with seeds
        spawned from ``random_state``, so the result equals
        ``to_dask(n_samples, chunk_size, random_state)`` computed.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
        """
        n_samples = _check_int("n_samples", n_samples, 1)
        dtype = _check_dtype(dtype)
        check_allocation(
            2.0 * n_samples * (self.n_features + 1) * dtype.itemsize,
            f"sample_chunks({n_samples}) of {self.n_features} features (the chunks "
            "and their concatenation)",
            "draw fewer samples, or use to_dask(n_samples, chunk_size) for data "
            "larger than memory",
        )
        sizes, seeds = self._chunk_seeds(n_samples, chunk_size, random_state)
        parts = [self.sample(size, random_state=seed, dtype=dtype) for size, seed in zip(sizes, seeds)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def to_dask(self, n_samples, chunk_size, random_state=None, *, dtype=np.float64):
        """Lazily generated Dask arrays of ``n_samples`` fresh samples.

        Each chunk is generated where it is computed (on a worker) from its
        own seed, so a fit on 10^8 samples never materialises the data
        anywhere. Equal to :meth:`sample_chunks` with the same arguments.

        Parameters
        ----------
        n_samples : int
        chunk_size : int
            Rows per chunk.
        random_state : int, RandomState or Generator, default=None
            When None, continues the dataset's own stream.
        dtype : {np.float64, np.float32}, default=np.float64

        Returns
        -------
        X : dask.array.Array of shape (n_samples, n_features)
        y : dask.array.Array of shape (n_samples,)

        Raises
        ------
        MemoryBudgetError
            When one chunk would not fit in this machine's available memory
            (workers are assumed to be no larger).
        ValueError
            When there would be more than 131,072 chunks.

        Examples
        --------
        >>> from sklearn_hierspectral import HierarchicalTargetDataset
        >>> dataset = HierarchicalTargetDataset(6, random_state=0)
        >>> X, y = dataset.to_dask(10_000, chunk_size=4_000, random_state=1)
        >>> X.chunks[0], y.shape
        ((4000, 4000, 2000), (10000,))
        """
        import dask

        from ._distributed import import_dask_array

        dask_array = import_dask_array()
        dtype = _check_dtype(dtype)
        chunk_size = _check_int("chunk_size", chunk_size, 1)
        # Each chunk is drawn in one piece where it is computed; a chunk that
        # does not fit in this machine's memory is almost surely a mistake.
        check_allocation(
            self._sample_bytes(min(chunk_size, _check_int("n_samples", n_samples, 1)),
                               dtype.itemsize),
            f"One chunk of chunk_size={chunk_size} rows of {self.n_features} features",
            "use a smaller chunk_size (Dask works best with chunks of about 100 MB)",
        )
        sizes, seeds = self._chunk_seeds(n_samples, chunk_size, random_state)
        draw = dask.delayed(_draw_chunk, pure=True, nout=2)
        X_parts, y_parts = [], []
        for size, seed in zip(sizes, seeds):
            X_chunk, y_chunk = draw(self, size, seed, dtype)
            X_parts.append(dask_array.from_delayed(X_chunk, (size, self.n_features), dtype))
            y_parts.append(dask_array.from_delayed(y_chunk, (size,), dtype))
        return dask_array.concatenate(X_parts), dask_array.concatenate(y_parts)

    # ------------------------------------------------------------------ theory
    def sample_exponent(self, n_samples):
        """``alpha = log n / log d``."""
        return _theory.sample_exponent(_check_theory_n_samples(n_samples), self.n_features)

    def threshold_exponents(self):
        """Predicted recovery threshold ``alpha_i`` of each direction."""
        return _theory.threshold_exponents(self.n_features, self.n_latent, self.decay)

    def threshold_samples(self):
        """Predicted sample size ``n_i = d^alpha_i`` recovering each direction.

        Asymptotic and up to constants: at small ``d`` a guide, not an identity.
        """
        return _theory.threshold_samples(self.n_features, self.n_latent, self.decay)

    def predicted_n_recovered(self, n_samples):
        """Predicted number of recovered directions at ``n_samples``."""
        return _theory.predicted_n_recovered(
            _check_theory_n_samples(n_samples), self.n_features, self.n_latent, self.decay
        )

    def predicted_error(self, n_samples):
        """Predicted normalised test error (variance in unrecovered directions)."""
        return _theory.predicted_error(
            _check_theory_n_samples(n_samples), self.n_features, self.n_latent, self.decay
        )

    def predicted_exponent(self):
        """Exponent ``e`` of the predicted scaling law ``NMSE ~ n^e``."""
        return _theory.predicted_exponent(self.decay)

    def scaling_window(self):
        """``(alpha_1, alpha_p)``: where the directions are being recovered."""
        return _theory.scaling_window(self.n_features, self.n_latent, self.decay)


def _draw_chunk(dataset, size, seed, dtype):
    return dataset.sample(size, random_state=seed, dtype=dtype)


def make_hierarchical_regression(
    n_samples=1000,
    n_features=30,
    *,
    n_latent=None,
    latent_exponent=0.5,
    decay=1.0,
    link="identity",
    noise=0.0,
    return_dataset=False,
    random_state=None,
):
    """Generate a regression problem with a hierarchical target.

    The function form of :class:`HierarchicalTargetDataset`: one target and
    one sample, both drawn from ``random_state``.

    Parameters
    ----------
    n_samples : int, default=1000
    n_features : int, default=30
    n_latent : int, default=None
    latent_exponent : float, default=0.5
    decay : float, default=1.0
    link : {'identity', 'tanh', 'quadratic'} or callable, default='identity'
    noise : float, default=0.0
    return_dataset : bool, default=False
        Also return the dataset object, which knows the latent directions and
        the theory.
    random_state : int, RandomState or Generator, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    dataset : HierarchicalTargetDataset
        Only when ``return_dataset=True``.

    See Also
    --------
    HierarchicalTargetDataset : The target as an object with its theory.

    Examples
    --------
    >>> from sklearn_hierspectral import make_hierarchical_regression
    >>> X, y = make_hierarchical_regression(200, 8, random_state=0)
    >>> X.shape, y.shape
    ((200, 8), (200,))
    """
    if not isinstance(return_dataset, (bool, np.bool_)):
        raise TypeError(f"return_dataset must be True or False; got {return_dataset!r}.")
    target_seed, sample_seed = _seed_sequence(random_state).spawn(2)
    dataset = HierarchicalTargetDataset(
        n_features,
        n_latent=n_latent,
        latent_exponent=latent_exponent,
        decay=decay,
        link=link,
        noise=noise,
        random_state=target_seed,
    )
    X, y = dataset.sample(n_samples, random_state=sample_seed)
    if return_dataset:
        return X, y, dataset
    return X, y
