"""Compiled kernels (numba) of the motion stage, each with a numpy reference it is tested against."""
