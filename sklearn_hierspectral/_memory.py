"""What the machine can hold: checks made before a large allocation."""

import os


def available_memory_bytes():
    """Memory a new allocation can use now, in bytes.

    ``MemAvailable`` from ``/proc/meminfo`` where it exists (Linux), else the
    free physical pages reported by ``sysconf``; None when neither is known.
    """
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n_bytes):
    """Human-readable size, e.g. ``'1.5 GB'``."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{int(n_bytes)} B"
