"""Passes over samples: batches in, small additive statistics out.

Every sum over samples in the package goes through these helpers, so that
batching (bounded memory), the BLAS-3 kernels and the preprocessing of a batch
are written once.
"""

import contextlib

import joblib
import numpy as np

from ._hermite import hermite_features_t, n_hermite_features

# Target size of the per-batch feature buffer. Rows are split by fold and sign
# inside a batch, so each symmetric product sees a tenth of it: measured at
# d = 30, n = 147,885 (float64 products), a fit took 13.7 s with 8 MB batches,
# 11.5 s with 8,192 rows and 9.9 s with 16,384 rows (about 64 MB); float32
# products take twice the rows for the same buffer.
_BUFFER_BYTES = 2**26
_MIN_BATCH = 64
_MAX_BATCH = 32768


def resolve_batch_size(batch_size, row_floats, itemsize=8):
    """Rows per batch: ``batch_size`` or one sized for a ~64 MB buffer."""
    if batch_size is not None:
        return int(batch_size)
    rows = _BUFFER_BYTES // max(1, row_floats * itemsize)
    return int(np.clip(rows, _MIN_BATCH, _MAX_BATCH))


#: Below this many flops a pass is too small for BLAS threads to pay off: their
#: synchronisation dominates, and when other processes load the cores the
#: spinning threads slow small fits down by up to 100x (measured: d = 6,
#: n = 400 took 0.08 s on one thread and 7 s on two with the other core busy).
_SINGLE_THREAD_FLOPS = 2e9
_THREAD_CONTROLLER = None


def blas_threads_for(n_samples, n_columns):
    """A context limiting BLAS to one thread when a pass is small.

    ``n_columns`` is the width of the widest per-batch design (``1 + d + D``);
    a pass costs about ``n_samples * n_columns^2`` flops.
    """
    if float(n_samples) * n_columns**2 >= _SINGLE_THREAD_FLOPS:
        return contextlib.nullcontext()
    return single_blas_thread()


def single_blas_thread():
    """A context limiting BLAS (and LAPACK) to one thread.

    For the eigendecompositions and small solves between passes: LAPACK's
    tridiagonalisation of a few-hundred-square matrix is bound by memory and
    synchronisation, and measured with 2 threads after a pass of products it
    took 4 to 5 times longer than with one (full ``eigh`` of a 465 x 465
    matrix: 104 ms against 24 ms).
    """
    return _thread_controller().limit(limits=1, user_api="blas")


def batch_slices(n_samples, batch_size):
    """Consecutive slices covering ``range(n_samples)``, at most ``batch_size``
    rows each, as few as that allows and of equal sizes (within one row), so
    that no thin last batch wastes a product."""
    n_batches = -(-n_samples // batch_size)
    for index in range(n_batches):
        yield slice(index * n_samples // n_batches, (index + 1) * n_samples // n_batches)


def is_dask_collection(array):
    """True for a Dask array (duck-typed, so dask is never imported here)."""
    return hasattr(array, "dask") and hasattr(array, "to_delayed")


def add_statistics(first, second):
    """Elementwise sum of two statistics (arrays, numbers, lists, tuples, dicts)."""
    if isinstance(first, dict):
        return {key: add_statistics(first[key], second[key]) for key in first}
    if isinstance(first, (list, tuple)):
        return type(first)(add_statistics(a, b) for a, b in zip(first, second))
    if first is None:
        return None
    return first + second


#: In memory, the rows of a pass are split into this many lanes of equal
#: size, each reduced batch by batch into its own statistics; the lanes' sums
#: are then added in lane order. The lanes run in parallel threads (each with
#: one BLAS thread) when BLAS may use more than one thread, one after the
#: other otherwise, so the result does not depend on how many threads ran
#: them. Measured at d = 30, n = 147,885 on 2 cores: two threads each running
#: single-threaded BLAS on half the rows did a float32 ``syrk`` of the Hermite
#: features in 42 ms per 32,768 rows against 51 ms for one call with two BLAS
#: threads, and the elementwise work between products (Hermite builds, the
#: preprocessing of each batch) runs on both cores instead of one.
N_LANES = 2


def _lane_bounds(n_samples, n_lanes):
    """Row bounds of ``n_lanes`` lanes of equal sizes (within one row);
    empty lanes are dropped."""
    cuts = [lane * n_samples // n_lanes for lane in range(n_lanes)]
    return list(dict.fromkeys(cuts + [n_samples]))


def current_blas_threads():
    """Threads BLAS may use now (threadpoolctl's view), 1 if unknown."""
    controller = _thread_controller()
    counts = [lib.num_threads for lib in controller.lib_controllers if lib.user_api == "blas"]
    return max(counts, default=1)


def _thread_controller():
    global _THREAD_CONTROLLER
    if _THREAD_CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _THREAD_CONTROLLER = ThreadpoolController()
    return _THREAD_CONTROLLER


def map_in_threads(function, items):
    """``[function(item) for item in items]``, in parallel threads when BLAS
    may use more than one thread now.

    Each thread then runs single-threaded BLAS, so the threads share the
    cores BLAS was allowed instead of oversubscribing them; a caller that
    limited BLAS to one thread (a study's worker, a small fit) gets a plain
    loop. ``function`` must not mutate shared state. The results, and so
    anything computed from them, do not depend on the number of threads.
    """
    items = list(items)
    n_threads = min(len(items), current_blas_threads(), joblib.cpu_count())
    if n_threads <= 1:
        return [function(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with single_blas_thread(), ThreadPoolExecutor(n_threads) as executor:
        return list(executor.map(function, items))


def reduce_batches(batch_fn, init_fn, start, arrays, batch_size):
    """Statistics of the rows of ``arrays`` (the first is row ``start`` of the
    data), batch by batch: one lane in memory, one chunk on Dask."""
    stats = init_fn()
    for rows in batch_slices(arrays[0].shape[0], batch_size):
        batch_fn(stats, start + rows.start, *(array[rows] for array in arrays))
    return stats


def run_pass(arrays, batch_fn, init_fn, batch_size):
    """One pass over the rows of ``arrays``: batches in, additive statistics out.

    ``init_fn()`` makes empty statistics; ``batch_fn(stats, start, *batches)``
    adds the rows ``start:start + len(batch)`` to them in place, touching
    nothing but ``stats`` (lanes may run in parallel threads). In memory the
    rows are split into :data:`N_LANES` lanes, each reduced in batches; for Dask
    arrays each chunk is reduced on a worker (in batches again) and the
    per-chunk statistics are summed in a tree, so only statistics travel.
    Because the row offset is passed along, anything drawn per row (folds,
    subsamples) does not depend on batching, lanes or chunking.
    """
    if any(is_dask_collection(array) for array in arrays):
        from ._distributed import run_pass_on_chunks

        return run_pass_on_chunks(arrays, batch_fn, init_fn, batch_size)
    bounds = _lane_bounds(arrays[0].shape[0], N_LANES)
    lanes = [
        (lo, [array[lo:hi] for array in arrays]) for lo, hi in zip(bounds[:-1], bounds[1:])
    ]
    if len(lanes) == 0:
        return init_fn()
    parts = map_in_threads(
        lambda lane: reduce_batches(batch_fn, init_fn, lane[0], lane[1], batch_size), lanes
    )
    stats = parts[0]
    for part in parts[1:]:
        stats = add_statistics(stats, part)
    return stats


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def row_uniforms(start, count, seed):
    """Uniform numbers in [0, 1) attached to rows ``start .. start + count - 1``.

    A counter-based generator (the SplitMix64 finaliser of ``row * golden +
    seed``): the number of a row depends only on its index and the seed, so
    fold assignments and subsamples are the same in memory and on Dask.
    """
    rows = np.arange(start, start + count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = rows * _GOLDEN + np.uint64(seed)
        z = (z ^ (z >> np.uint64(30))) * _MIX_1
        z = (z ^ (z >> np.uint64(27))) * _MIX_2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


# The symmetric products go through numpy's matmul, which calls BLAS syrk for
# ``a @ a.T``: numpy and scipy each bundle their own OpenBLAS, and alternating
# between the two thread pools (scipy's dsyrk, numpy's gemm) made a fit 2.2x
# slower on 2 cores, the idle threads of one spinning against the other.


def syrk_accumulate(acc, rows, scale=1.0):
    """``acc += scale * rows^T rows`` for row-major ``rows`` (one sample per row).

    Half the flops of a general product (numpy calls syrk for ``a.T @ a``).
    float32 ``rows`` are multiplied in float32 within the batch (twice the
    speed, half the memory traffic) and the batch's sum is added to the
    float64 total, so rounding does not grow with the number of samples.
    """
    if rows.shape[0] == 0:
        return acc
    product = rows.T @ rows
    if scale != 1.0:
        product *= scale
    acc += product
    return acc


def syrk_accumulate_columns(acc, columns, scale=1.0):
    """``acc += scale * columns @ columns.T``, one sample per column.

    The layout of the transposed Hermite features; same conventions as
    :func:`syrk_accumulate`.
    """
    if columns.shape[1] == 0:
        return acc
    product = columns @ columns.T
    if scale != 1.0:
        product *= scale
    acc += product
    return acc


def symmetrize_upper(acc):
    """Full symmetric matrix from the upper triangle of ``acc``."""
    upper = np.triu(acc)
    return upper + np.triu(upper, 1).T


def sort_by_group(keys, n_keys):
    """Row order grouping equal keys, and the bounds of each key's rows.

    Returns ``order`` and ``bounds`` (length ``n_keys + 1``): the rows with key
    ``g`` are ``order[bounds[g]:bounds[g + 1]]``.
    """
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(n_keys + 1))
    return order, bounds


def weighted_hermite_gram(Xpre, weights, buffer, accumulators, groups=None):
    """Add ``sum_mu w_mu Z_mu Z_mu^T`` of a batch to per-group accumulators.

    Signed weights are split by sign so that both halves are symmetric
    rank-k updates of ``sqrt|w| Z``: the weight is fused into the construction
    of the (transposed) Hermite features, and the whole update costs half a
    general matrix product.

    Parameters
    ----------
    Xpre : ndarray of shape (b, d)
        Preprocessed inputs of the batch.
    weights : ndarray of shape (b,)
    buffer : ndarray of at least ``D * b`` elements
        Flat scratch space for the weighted features.
    accumulators : list of ndarray of shape (D, D), Fortran-ordered
        One per group; updated in place (upper triangles).
    groups : ndarray of shape (b,) of int, default=None
        Group (fold) of each row; all rows in group 0 when None.
    """
    negative = (weights < 0).astype(np.intp)
    keys = negative if groups is None else 2 * groups.astype(np.intp) + negative
    order, bounds = sort_by_group(keys, 2 * len(accumulators))
    XT = np.ascontiguousarray(Xpre[order].T)
    root = np.sqrt(np.abs(weights[order])).astype(Xpre.dtype, copy=False)
    D = n_hermite_features(Xpre.shape[1])
    for key in range(2 * len(accumulators)):
        start, stop = bounds[key], bounds[key + 1]
        if stop == start:
            continue
        block = buffer[: D * (stop - start)].reshape(D, stop - start)
        hermite_features_t(XT[:, start:stop], out=block, row_scale=root[start:stop])
        syrk_accumulate_columns(accumulators[key // 2], block, -1.0 if key % 2 else 1.0)
