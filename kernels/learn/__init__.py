"""Learning blocks of the two walk-forward learning families (kernels.families.linear_classifier and
kernels.families.pca_tree_quantile), one concept per module, numpy and numba only:

- features: the features and labels of a market, their moment bank (any window's sums in O(1)), the
  linear scoring of features and the score -> signal rule both families share.
- linalg: a small symmetric positive-definite solve (Cholesky) and symmetric eigen-decomposition
  (Householder + QL), pure numba.
- pca: principal axes of the standardised features from a window's moments.
- order_statistics: the k-th smallest value of a buffer slice by counting passes (no sort).
- regression_tree: a shallow tree whose nodes split at a quantile of one score, grown level by level.

Import from the modules directly: the package re-exports nothing.
"""
__all__: list[str] = []
