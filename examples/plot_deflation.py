"""
==================================================
What deflation buys
==================================================

The published spectral method forms its matrix
``C = (1/n) sum y (Z Z^T - I)`` from the raw targets. At finite ``d`` the
degree-2 part of ``y`` and the Gaussian fourth moments put spurious spikes
into ``C`` that outrank the weaker latent directions. This package removes
both by default (SPEC section 3): ``deflate=True`` regresses out the degree
<= 2 Hermite part of ``y`` before forming ``C``, and
``finite_size_correction=True`` subtracts the operator that each clear spike
induces. ``deflate=False, finite_size_correction=False`` reproduces the
published method.

This example runs both on the same samples (``d = 20``, ``gamma = 1``, four
latent directions) and compares which directions they recover and their test
error.

Set ``SKLEARN_HIERSPECTRAL_FAST=1`` for a quick run at smaller sizes.
"""

# %%
# Setup
# -----
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sklearn_hierspectral import (
    HierarchicalSpectralRegressor,
    HierarchicalTargetDataset,
    RecoveryDisplay,
    ScalingLawDisplay,
)

from sklearn_hierspectral import recovery_study

FAST = os.environ.get("SKLEARN_HIERSPECTRAL_FAST", "0") == "1"

n_features = 14 if FAST else 20
alphas = np.linspace(2.4, 3.6 if FAST else 3.8, 5 if FAST else 8)
train_sizes = np.unique(np.round(n_features**alphas).astype(int))
n_repeats = 2 if FAST else 3
dataset = HierarchicalTargetDataset(n_features=n_features, decay=1.0, random_state=0)
print(dataset)
print(f"sizes {train_sizes.tolist()}, {n_repeats} repeats")

learners = {
    "published (no deflation, no correction)": HierarchicalSpectralRegressor(
        deflate=False, finite_size_correction=False, random_state=0
    ),
    "defaults (deflation + correction)": HierarchicalSpectralRegressor(random_state=0),
}

# %%
# Run both on the same samples
# ----------------------------
# The same ``random_state`` gives both studies the same training samples and
# test set.
studies = {
    name: recovery_study(
        estimator,
        dataset,
        train_sizes,
        n_repeats=n_repeats,
        n_jobs=-1,
        random_state=0,
        progress=False,
    )
    for name, estimator in learners.items()
}
for name, results in studies.items():
    cos2 = results.pivot_table(
        index="n_samples", columns="direction", values="cos2", aggfunc="mean"
    )
    runs = results.drop_duplicates(["n_samples", "repeat"]).groupby("n_samples")
    cos2["n_recovered"] = runs["n_recovered"].mean()
    cos2["test_nmse"] = runs["test_nmse"].median()
    print(f"\n{name}: mean cos^2 per direction, recovered count, median test NMSE")
    print(cos2.round(2).to_string())

# %%
# Plot
# ----
# Top: each direction's ``cos^2`` for the two learners. Bottom left: the
# number of recovered directions, with the theory's staircase; bottom right:
# the test error.
fig, axes = plt.subplots(2, 2, figsize=(14, 8.5), layout="constrained")
for ax, (name, results) in zip(axes[0], studies.items()):
    RecoveryDisplay.from_study(
        results, dataset=dataset, ax=ax, legend={"fontsize": "x-small"}
    )
    ax.set_title(name, loc="left")

colors = ("tab:red", "tab:blue")
for k, ((name, results), color) in enumerate(zip(studies.items(), colors)):
    RecoveryDisplay.from_study(
        results,
        dataset=dataset,
        kind="staircase",
        ax=axes[1, 0],
        show_theory=(k == 0),
        alpha_axis=(k == 0),
        line_kwargs={"color": color, "label": name},
        band_kwargs={"color": color},
        legend={"fontsize": "x-small"},
    )
axes[1, 0].set_title("Directions recovered", loc="left")

errors = pd.concat(
    [
        results.drop_duplicates(["n_samples", "repeat"]).assign(estimator=name)
        for name, results in studies.items()
    ]
)
axes[1, 1].set_prop_cycle(color=list(colors))
ScalingLawDisplay.from_study(
    errors,
    dataset=dataset,
    fit=False,
    show_theory=False,
    ax=axes[1, 1],
    legend={"fontsize": "x-small"},
)
axes[1, 1].set_title("Test error", loc="left")
fig.suptitle(rf"Deflation and finite-size correction, $d = {n_features}$, $\gamma = 1$")
plt.show()

# %%
# The published method picks up the strongest direction a little earlier (at
# the smallest sizes the defaults' cross-validation keeps no component yet),
# but then it stalls: the weakest direction stays unrecovered at every size
# run, because the spurious spikes of the raw spectral matrix outrank it, and
# its error levels off. With the degree-2 part removed and the finite-size
# operator subtracted, the defaults recover every direction and their error
# keeps falling.
