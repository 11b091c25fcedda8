"""Compiled kernels (numba) of the motion stage; backend.py pairs each with its numpy reference (motion/references)."""
