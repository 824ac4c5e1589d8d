"""Accuracy checks of the spectral learner on the reference settings.

Usage::

    python benchmarks/bench_accuracy.py reference   # d = 30, p = 5, gamma = 1, n = 147,885
    python benchmarks/bench_accuracy.py noise       # pure noise, d = 20, n = 20,000
    python benchmarks/bench_accuracy.py ablation    # finite-size correction on and off

Each prints one line per target or seed; the figures quoted in the README
and in SPEC-style statements come from these runs.
"""

import sys
import time

import numpy as np

from sklearn_hierspectral import (
    HierarchicalSpectralRegressor,
    HierarchicalTargetDataset,
    recovery_cos2,
)


def reference(n_targets=4):
    """NMSE on 5,000 fresh points and cos^2 per direction, several targets."""
    for seed in range(n_targets):
        dataset = HierarchicalTargetDataset(30, n_latent=5, decay=1.0, random_state=100 + seed)
        X, y = dataset.sample(147_885, random_state=seed)
        X_test, y_test = dataset.sample(5000, random_state=1000 + seed)
        start = time.perf_counter()
        model = HierarchicalSpectralRegressor(random_state=seed).fit(X, y)
        seconds = time.perf_counter() - start
        print(
            f"target {seed}: fit {seconds:.1f} s, test NMSE {1 - model.score(X_test, y_test):.4f}, "
            f"{model.n_components_} components, cos^2 {np.round(recovery_cos2(model, dataset), 3)}",
            flush=True,
        )


def noise(n_seeds=10):
    """Components chosen and NMSE when y is independent of X."""
    for seed in range(n_seeds):
        rng = np.random.default_rng(seed)
        X, y = rng.standard_normal((20_000, 20)), rng.standard_normal(20_000)
        X_test, y_test = rng.standard_normal((5000, 20)), rng.standard_normal(5000)
        model = HierarchicalSpectralRegressor(random_state=seed).fit(X, y)
        nmse = np.mean((model.predict(X_test) - y_test) ** 2) / np.var(y_test)
        print(f"seed {seed}: {model.n_components_} components, test NMSE {nmse:.4f}", flush=True)


def ablation():
    """Test NMSE and cos^2 with and without the finite-size correction."""
    settings = [
        (30, 147_885, 1.0, 100),
        (30, 27_000, 1.0, 101),
        (30, 147_885, 1.0, 102),
        (20, 40_000, 1.0, 103),
        (12, 20_000, 0.5, 5),
        (12, 20_000, 1.0, 6),
    ]
    for d, n, decay, seed in settings:
        dataset = HierarchicalTargetDataset(d, decay=decay, random_state=seed)
        X, y = dataset.sample(n, random_state=1)
        X_test, y_test = dataset.sample(5000, random_state=2)
        row = []
        for correction in (True, False):
            model = HierarchicalSpectralRegressor(
                finite_size_correction=correction, random_state=0
            ).fit(X, y)
            row.append(
                f"{'with' if correction else 'without'}: NMSE "
                f"{1 - model.score(X_test, y_test):.4f}, cos^2 "
                f"{np.round(recovery_cos2(model, dataset), 2)}"
            )
        print(f"d={d} n={n} gamma={decay}: " + "; ".join(row), flush=True)


CASES = {"reference": reference, "noise": noise, "ablation": ablation}

if __name__ == "__main__":
    names = sys.argv[1:] or list(CASES)
    for name in names:
        if name not in CASES:
            sys.exit(f"unknown case {name!r}; choose from {list(CASES)}")
        print(f"== {name}")
        CASES[name]()
