"""Hierarchical targets, a layer-wise spectral learner and scaling-law studies.

Public names are re-exported here; the implementation lives in private
modules, one per idea.
"""

from ._dataset import HierarchicalTargetDataset, make_hierarchical_regression
from ._regressor import HierarchicalSpectralRegressor
from ._transformer import HierarchicalSpectralTransformer

__version__ = "0.1.0"

__all__ = [
    "HierarchicalSpectralRegressor",
    "HierarchicalSpectralTransformer",
    "HierarchicalTargetDataset",
    "make_hierarchical_regression",
    "__version__",
]
