"""
==================================================
Finite-size smoothing: transitions sharpen with d
==================================================

The theory of sequential recovery is asymptotic: as ``d`` grows, each latent
direction's ``cos^2`` with the learned span jumps from 0 to 1 at its threshold
``alpha_i`` (``alpha = log n / log d``). At finite ``d`` the jumps are
smoothed: the spike of a direction emerges from the noise bulk of the
spectral matrix gradually, over a range of ``alpha`` that shrinks like
``1 / log d``.

This example runs the same experiment (``gamma = 1``, ``p = round(sqrt(d))``
latent directions, training sizes on the same grid of ``alpha``) at three
values of ``d`` and plots the per-direction ``cos^2`` against ``alpha``. To
look at the spectral transition itself, the learner keeps a fixed number of
components, ``n_components = p`` (the top ``p`` eigen-directions of the
spectral matrix, as in the theory), rather than choosing it by
cross-validation.

Set ``SKLEARN_HIERSPECTRAL_FAST=1`` for a quick run at smaller sizes.
"""

# %%
# Setup
# -----
import os

import matplotlib.pyplot as plt
import numpy as np

from sklearn_hierspectral import (
    HierarchicalSpectralRegressor,
    HierarchicalTargetDataset,
    RecoveryDisplay,
)

from sklearn_hierspectral import recovery_study

FAST = os.environ.get("SKLEARN_HIERSPECTRAL_FAST", "0") == "1"

decay = 1.0
dimensions = (8, 14, 24) if FAST else (10, 17, 30)
alphas = np.arange(2.0, (3.3 if FAST else 3.5) + 1e-9, 0.1)
n_repeats = 2 if FAST else 3

# %%
# Run the same study at each d
# ----------------------------
studies, datasets = {}, {}
for n_features in dimensions:
    dataset = HierarchicalTargetDataset(
        n_features=n_features, decay=decay, random_state=0
    )
    train_sizes = np.unique(np.round(n_features**alphas).astype(int))
    datasets[n_features] = dataset
    studies[n_features] = recovery_study(
        HierarchicalSpectralRegressor(n_components=dataset.n_latent, random_state=0),
        dataset,
        train_sizes,
        n_repeats=n_repeats,
        test_size=None,  # only the recovery is needed here
        n_jobs=-1,
        random_state=0,
        progress=False,
    )
    print(f"d = {n_features}: p = {dataset.n_latent}, sizes {train_sizes.tolist()}")

# %%
# How wide is each transition?
# ----------------------------
# For each direction, the width in ``alpha`` over which its mean ``cos^2``
# (over repeats) climbs from 0.25 to 0.75, read on its running maximum so
# that a dip of one noisy point does not count as a second transition: a step
# function has width 0. Directions that do not reach 0.75 within the sizes run
# have no width (NaN).


def transition_width(results, low=0.25, high=0.75):
    """Per direction: alpha-width of the rise of mean cos^2 from low to high."""
    curves = results.groupby(["direction", "alpha"])["cos2"].mean()
    widths = {}
    for direction, curve in curves.groupby(level="direction"):
        alpha = curve.index.get_level_values("alpha").to_numpy()
        running_max = np.maximum.accumulate(curve.to_numpy())
        if running_max[-1] < high:
            widths[direction] = np.nan
            continue
        # running_max is non-decreasing: interpolate alpha at each level.
        start, end = (
            np.interp(level, running_max, alpha, left=alpha[0])
            for level in (low, high)
        )
        widths[direction] = float(end - start)
    return widths


widths = {}
for n_features in dimensions:
    widths[n_features] = transition_width(studies[n_features])
    text = ", ".join(
        f"{direction}: " + ("not completed" if np.isnan(w) else f"{w:.2f}")
        for direction, w in widths[n_features].items()
    )
    print(f"d = {n_features:>2}: transition width in alpha by direction ({text})")

# %%
# Plot
# ----
# One panel per ``d``, on the same ``alpha`` axis: each direction's ``cos^2``
# (mean over repeats, band = min to max) and its predicted threshold
# ``alpha_i`` (dashed). The last panel shows the transition widths.
fig, axes = plt.subplots(2, 2, figsize=(13, 8), layout="constrained")
for ax, n_features in zip(axes.flat, dimensions):
    RecoveryDisplay.from_study(
        studies[n_features],
        dataset=datasets[n_features],
        x="alpha",
        ax=ax,
        legend={"fontsize": "x-small"},
    )
    ax.set_xlim(alphas[0] - 0.05, alphas[-1] + 0.05)
    p = datasets[n_features].n_latent
    ax.set_title(f"$d = {n_features}$ ($p = {p}$)", loc="left")

ax = axes[1, 1]
bar_width = 0.8 / len(dimensions)
n_directions = max(len(w) for w in widths.values())
for k, n_features in enumerate(dimensions):
    values = np.array(list(widths[n_features].values()))
    positions = np.arange(values.size) + (k - (len(dimensions) - 1) / 2) * bar_width
    ax.bar(positions, values, bar_width, label=f"$d = {n_features}$")
ax.set_xticks(np.arange(n_directions))
ax.set_xlabel("direction (strongest first)")
ax.set_ylabel(r"width in $\alpha$ of the rise of $\cos^2$ from 0.25 to 0.75")
ax.set_title("Transition widths (no bar: not completed)", loc="left")
ax.legend(fontsize="small")
fig.suptitle(
    rf"The same recovery experiment at three values of $d$ ($\gamma = {decay:g}$)"
)
plt.show()

# %%
# At the smallest ``d`` the curves rise slowly and noisily, and the weaker
# directions barely emerge within the sizes run. As ``d`` grows, the rise of
# the strongest direction narrows, and the weaker directions separate into
# distinct, steep steps, one after another and each somewhat after its
# predicted ``alpha_i``: the staircase of the theory emerges as ``d`` grows.
