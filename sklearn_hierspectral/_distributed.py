"""The passes of :func:`~sklearn_hierspectral._passes.run_pass` on Dask.

Each pass is a map over row chunks (every chunk reduced in batches on a
worker into small additive statistics) followed by a tree reduction; only the
statistics travel to the client. Dask is imported here only, and only when a
Dask array is given.
"""

import numbers

import numpy as np

from ._passes import add_statistics, reduce_batches

_INSTALL_HINT = 'Install it with: pip install "sklearn_hierspectral[dask]"'


def import_dask_array():
    """``dask.array``, or an ImportError that says which extra to install."""
    try:
        import dask.array as dask_array
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(f"This needs dask, which is not installed. {_INSTALL_HINT}") from error
    return dask_array


def _tree_sum(parts, delayed):
    """Pairwise sums, so the reduction has depth log2(n_chunks)."""
    while len(parts) > 1:
        paired = [
            delayed(add_statistics)(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)
        ]
        if len(parts) % 2:
            paired.append(parts[-1])
        parts = paired
    return parts[0]


def run_pass_on_chunks(arrays, batch_fn, init_fn, batch_size):
    """:func:`run_pass` for Dask arrays whose rows are aligned.

    The arrays are rechunked to share the row chunks of the first one (and to
    keep all columns of a 2-D array in one chunk); each chunk knows its first
    row, so per-row draws match the in-memory pass exactly.
    """
    import dask

    dask_array = import_dask_array()
    arrays = [dask_array.asarray(array) for array in arrays]
    first = arrays[0]
    if first.ndim == 2:
        first = first.rechunk({1: -1})
    row_chunks = first.chunks[0]
    aligned = [first]
    for array in arrays[1:]:
        target = {0: row_chunks}
        if array.ndim == 2:
            target[1] = -1
        aligned.append(array.rechunk(target))
    blocks = [array.to_delayed().ravel() for array in aligned]
    starts = np.concatenate([[0], np.cumsum(row_chunks)[:-1]]).astype(int)
    chunk_stats = dask.delayed(reduce_batches, pure=True)
    parts = [
        chunk_stats(batch_fn, init_fn, int(start), [block[i] for block in blocks], batch_size)
        for i, start in enumerate(starts)
    ]
    return _tree_sum(parts, dask.delayed).compute()


def check_dask_fit_data(X, y):
    """Validate Dask ``X`` and ``y`` for a fit without materialising them.

    Shapes and dtypes are checked from metadata; finiteness takes one pass.

    Returns
    -------
    X, y : dask arrays, X of a floating dtype.
    """
    dask_array = import_dask_array()
    X = dask_array.asarray(X)
    y = dask_array.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D Dask array for X; got {X.ndim} dimension(s).")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D Dask array; got shape {y.shape}.")
    if any(not isinstance(size, numbers.Integral) for size in X.shape + y.shape) or any(
        np.isnan(c) for c in X.chunks[0]
    ):
        raise ValueError(
            "The Dask arrays have unknown chunk sizes; call "
            "X.compute_chunk_sizes() (and the same for y) before fitting."
        )
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and y have different numbers of rows: {X.shape[0]} and {y.shape[0]}."
        )
    for name, array in (("X", X), ("y", y)):
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise TypeError(f"{name} must hold real numbers; got dtype {array.dtype}.")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    finite = dask_array.isfinite(X).all() & dask_array.isfinite(y).all()
    if not bool(finite.compute()):
        raise ValueError("Input contains NaN or infinity; remove or impute those rows.")
    return X, y
