"""What the machine can hold: checks made before a large allocation."""

import os

_GIB = 2**30

# cgroup limits at or above this value mean "no limit".
_CGROUP_UNLIMITED = 2**60
# (limit, usage, stat, key of the inactive file cache in stat) per cgroup version.
_CGROUP_FILES = (
    (
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory.current",
        "/sys/fs/cgroup/memory.stat",
        "inactive_file",
    ),
    (
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        "/sys/fs/cgroup/memory/memory.stat",
        "total_inactive_file",
    ),
)


class MemoryBudgetError(MemoryError, ValueError):
    """Raised before allocating when a fit would not fit in memory.

    The error is raised *before* any large array is allocated. It derives from
    both :class:`MemoryError` (what would otherwise have happened, if the
    operating system did not kill the process first) and :class:`ValueError`
    (the data size is invalid for this estimator on this machine), so either
    ``except`` clause catches it.

    Attributes
    ----------
    required_bytes : int
        Estimated peak number of bytes the refused operation needs.
    available_bytes : int
        The memory budget it was compared with.

    See Also
    --------
    KernelMemoryGuard : The baselines' guard that raises this error.
    HierarchicalSpectralRegressor : Raises it when the dense solver's
        matrices would not fit.

    Examples
    --------
    >>> from sklearn_hierspectral import MemoryBudgetError
    >>> issubclass(MemoryBudgetError, MemoryError)
    True
    >>> issubclass(MemoryBudgetError, ValueError)
    True
    """

    def __init__(self, message, *, required_bytes=None, available_bytes=None):
        super().__init__(message)
        self.required_bytes = required_bytes
        self.available_bytes = available_bytes


# ------------------------------------------------------------ available memory
def _read_int_file(path):
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _read_stat_value(path, key):
    try:
        with open(path) as f:
            for line in f:
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
    except (OSError, ValueError):
        return None
    return None


def _meminfo_available():
    """MemAvailable from /proc/meminfo in bytes, or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    parts = line.split()
                    factor = 1024 if len(parts) > 2 and parts[2].lower() == "kb" else 1
                    return int(parts[1]) * factor
    except (OSError, ValueError, IndexError):
        return None
    return None


def _sysconf_available():
    """Available physical pages times the page size, or None."""
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    if pages is None or page_size is None or pages < 0 or page_size <= 0:
        return None
    return int(pages) * int(page_size)


def _cgroup_available():
    """Room left under this process's cgroup memory limit, or None if unlimited.

    Usage is counted as the working set (usage minus inactive file cache), as
    container runtimes do, so reclaimable page cache does not count as used.
    """
    for limit_path, usage_path, stat_path, inactive_key in _CGROUP_FILES:
        limit = _read_int_file(limit_path)
        if limit is None or limit >= _CGROUP_UNLIMITED:
            continue
        usage = _read_int_file(usage_path)
        if usage is None:
            continue
        inactive = _read_stat_value(stat_path, inactive_key) or 0
        return max(limit - max(usage - inactive, 0), 0)
    return None


def available_memory():
    """Memory available to a new allocation, and where the number comes from.

    Returns
    -------
    available : int or None
        ``MemAvailable`` of ``/proc/meminfo``; when that cannot be read,
        ``os.sysconf('SC_AVPHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')``; when
        neither works, ``psutil.virtual_memory().available`` if psutil is
        installed. If the process runs under a cgroup memory limit (a container
        or a batch-system job), the room left under that limit caps the value.
        None when nothing can be read.
    source : str or None
        Human-readable origin of the number, for error messages.
    """
    available, source = _meminfo_available(), "MemAvailable in /proc/meminfo"
    if available is None:
        available, source = _sysconf_available(), "os.sysconf(SC_AVPHYS_PAGES)"
    if available is None:
        try:
            import psutil

            available = int(psutil.virtual_memory().available)
            source = "psutil.virtual_memory().available"
        except Exception:  # psutil missing or unsupported platform
            available, source = None, None
    cgroup = _cgroup_available()
    if cgroup is not None and (available is None or cgroup < available):
        available, source = cgroup, "the cgroup memory limit of this process"
    return available, source


def available_memory_bytes():
    """Memory a new allocation can use now, in bytes, or None when unknown."""
    return available_memory()[0]


def format_bytes(n_bytes):
    """Human-readable size in GiB or MiB."""
    value = n_bytes / _GIB
    if value >= 1e6:
        # Absurd sizes (e.g. sample(10**15)): a short number, not 20 digits.
        return f"{value:.1e} GiB"
    if value >= 100:
        return f"{value:,.0f} GiB"
    if value >= 0.1:
        return f"{value:.1f} GiB"
    return f"{n_bytes / 2**20:.1f} MiB"


#: Fraction of the available memory that one refused-or-not allocation may
#: take: the rest is left for the interpreter, temporaries and other processes.
ALLOCATION_FRACTION = 0.8


def check_allocation(n_bytes, what, hint):
    """Raise :class:`MemoryBudgetError` *before* allocating ``n_bytes``.

    Parameters
    ----------
    n_bytes : float
        Estimated peak number of bytes of the operation (may be huge: it is
        computed in floating point so that it never overflows).
    what : str
        The operation, for the message, e.g. ``"sample(10**12) of 30 features"``.
    hint : str
        What the user can do instead, e.g. ``"draw fewer samples"``.

    Returns
    -------
    n_bytes : float
        The same number, when it fits (or when the available memory is unknown).
    """
    n_bytes = float(n_bytes)
    available, source = available_memory()
    if available is None or n_bytes <= ALLOCATION_FRACTION * available:
        return n_bytes
    raise MemoryBudgetError(
        f"{what} needs about {format_bytes(n_bytes)}, but only "
        f"{format_bytes(available)} is available ({source}); {hint}.",
        required_bytes=int(min(n_bytes, 2**63 - 1)),
        available_bytes=int(available),
    )
