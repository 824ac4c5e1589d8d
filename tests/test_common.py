"""scikit-learn's estimator checks over every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_hierspectral import (
    HierarchicalSpectralRegressor,
    HierarchicalSpectralTransformer,
    KernelMemoryGuard,
    MedianHeuristicScaler,
)

ESTIMATORS = [
    HierarchicalSpectralRegressor(random_state=0),
    HierarchicalSpectralRegressor(
        n_components=2, readout="moment", deflate="least-squares", random_state=0
    ),
    HierarchicalSpectralTransformer(random_state=0),
    HierarchicalSpectralTransformer(n_components=1, deflate=False, random_state=0),
    MedianHeuristicScaler(),
    KernelMemoryGuard(),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
