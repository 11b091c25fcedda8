"""numpy references of the compiled kernels: the same computation, vectorised over templates, without numba.

:mod:`cloudmotion.motion.kernels.backend` pairs each compiled stage with its reference here
and switches between them; the references are what the kernels are tested against.
"""
