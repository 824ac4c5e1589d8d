"""Hierarchical targets, a layer-wise spectral learner and scaling-law studies.

Public names are re-exported here; the implementation lives in private
modules, one per idea.
"""

from ._baselines import (
    KernelMemoryGuard,
    MedianHeuristicScaler,
    make_kernel_ridge_baseline,
    make_random_features_baseline,
)
from ._dataset import HierarchicalTargetDataset, make_hierarchical_regression
from ._display import RecoveryDisplay, ScalingLawDisplay, SpectrumDisplay
from ._memory import MemoryBudgetError
from ._powerlaw import PowerLawFit, fit_power_law
from ._recovery import (
    DirectionMatching,
    RecoveryReport,
    canonical_correlations,
    direction_cos2,
    feature_overlap,
    match_directions,
    principal_cosines,
    recovery_cos2,
    recovery_report,
)
from ._regressor import HierarchicalSpectralRegressor
from ._study import recovery_study, scaling_study, summarize_study
from ._transformer import HierarchicalSpectralTransformer

__version__ = "0.1.0"

__all__ = [
    "HierarchicalSpectralRegressor",
    "HierarchicalSpectralTransformer",
    "HierarchicalTargetDataset",
    "KernelMemoryGuard",
    "MedianHeuristicScaler",
    "MemoryBudgetError",
    "DirectionMatching",
    "PowerLawFit",
    "RecoveryDisplay",
    "RecoveryReport",
    "ScalingLawDisplay",
    "SpectrumDisplay",
    "canonical_correlations",
    "feature_overlap",
    "match_directions",
    "principal_cosines",
    "recovery_report",
    "recovery_study",
    "scaling_study",
    "summarize_study",
    "fit_power_law",
    "direction_cos2",
    "recovery_cos2",
    "make_hierarchical_regression",
    "make_kernel_ridge_baseline",
    "make_random_features_baseline",
    "__version__",
]
