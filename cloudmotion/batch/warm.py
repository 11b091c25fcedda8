"""Before local worker processes start: compile the kernels once, in this process, if the cache is cold.

Each worker process loads the compiled kernels from numba's cache when it has them; on a
first run it has none, and every worker would compile all of them at once (about 20 s of
CPU each, on cores they share). Compiling them first, here, costs one compilation; and
when the command line has armed the first run's helper process
(:func:`cloudmotion.motion.kernels.ahead.arm`), the search and the refinement kernels
compile side by side, so the workers start after about half of that.
"""

from __future__ import annotations

import numpy as np

from cloudmotion.settings.params import TrackParams

__all__ = ["compile_kernels_first"]


def compile_kernels_first(params: TrackParams) -> bool:
    """Compile every kernel the workers will use, here, if the kernel cache is cold.

    Tracks one small synthetic pair with ``params`` (the argument types of the workers'
    tracking); a warm cache, or one numba cannot write, is left alone. Settings the pair
    cannot be tracked with alone (a ``max_error`` speed needs each pair's time step and pixel
    size) leave the compiling to the workers, as without this step.

    Parameters
    ----------
    params : TrackParams
        The batch's tracker settings.

    Returns
    -------
    bool
        True if the kernels were compiled here.
    """
    from cloudmotion.motion.kernels.jit import COMPILE_NOTICE, cold_cache

    if cold_cache() != COMPILE_NOTICE:
        return False
    from cloudmotion.track import track_pair

    size = 4 * params.window + 64  # room for templates and every search setting
    a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    try:
        track_pair(a, np.roll(a, 1, axis=1), params=params)
    except Exception:  # noqa: BLE001 - settings a pair without a time step refuses (a speed threshold): the workers compile
        return False
    return True
