"""Reading the memory a new allocation can use."""

import pickle

from sklearn_hierspectral import _memory
from sklearn_hierspectral._memory import MemoryBudgetError, format_bytes


def test_available_memory_sources(monkeypatch, tmp_path):
    available, source = _memory.available_memory()
    if available is not None:
        assert available > 0 and isinstance(source, str)

    # Fallback to sysconf when /proc/meminfo cannot be read.
    monkeypatch.setattr(_memory, "_meminfo_available", lambda: None)
    monkeypatch.setattr(_memory, "_sysconf_available", lambda: 123 * 2**30)
    monkeypatch.setattr(_memory, "_CGROUP_FILES", ())
    assert _memory.available_memory() == (
        123 * 2**30,
        "os.sysconf(SC_AVPHYS_PAGES)",
    )

    # A cgroup limit caps it; inactive file cache does not count as used.
    (tmp_path / "memory.max").write_text("1000000000\n")
    (tmp_path / "memory.current").write_text("600000000\n")
    (tmp_path / "memory.stat").write_text("anon 1\ninactive_file 100000000\n")
    files = tuple(
        str(tmp_path / name) for name in ("memory.max", "memory.current", "memory.stat")
    )
    monkeypatch.setattr(_memory, "_CGROUP_FILES", (files + ("inactive_file",),))
    available, source = _memory.available_memory()
    assert available == 1_000_000_000 - 500_000_000
    assert "cgroup" in source
    # An unlimited cgroup ("max") does not.
    (tmp_path / "memory.max").write_text("max\n")
    assert _memory.available_memory()[0] == 123 * 2**30

    # Nothing readable: no check at all.
    monkeypatch.setattr(_memory, "_sysconf_available", lambda: None)
    monkeypatch.setitem(__import__("sys").modules, "psutil", None)
    assert _memory.available_memory() == (None, None)
    assert _memory.available_memory_bytes() is None


def test_memory_budget_error_survives_pickling():
    # Errors raised in joblib workers reach the parent process pickled.
    error = MemoryBudgetError("too big", required_bytes=10, available_bytes=5)
    restored = pickle.loads(pickle.dumps(error))
    assert isinstance(restored, MemoryBudgetError)
    assert str(restored) == "too big"
    assert (restored.required_bytes, restored.available_bytes) == (10, 5)


def test_format_bytes():
    assert format_bytes(2 * 2**30) == "2.0 GiB"
    assert format_bytes(3 * 2**20) == "3.0 MiB"
    assert format_bytes(250 * 2**30) == "250 GiB"
