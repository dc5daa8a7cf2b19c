"""Prefect flows and the ``uce`` command line."""
from flows.jit_cache import use_kernel_cache

# Before anything imports numba: compiled kernels are cached per version of the kernel sources.
use_kernel_cache()
