"""The first run's helper process: ``python -P -m cloudmotion.cli.compile_helper``.

Compiles the refinement and expected-error kernels into the kernel cache while the command
that started it compiles the search's (see :mod:`cloudmotion.motion.kernels.ahead`). It
tracks a small synthetic pair with the exhaustive FFT search, which uses no search kernel,
on one thread: the refinement and the error terms then run with the argument types of
every tracking, because the pipeline converts its inputs before the kernels. It prints
nothing, writes nothing but numba's cache, and exits as soon as the process that started
it (``CLOUDMOTION_PARENT_PID``) is gone.
"""

from __future__ import annotations

import os
import threading
import time


def _exit_with(pid: int, interval: float = 0.5) -> None:
    """Exit this process at once when process ``pid`` no longer exists."""
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except OSError:  # it exists (another user's process cannot be signalled)
            pass
        time.sleep(interval)


def main() -> None:
    """Track a 96 x 96 pair of noise shifted by one pixel, FFT search, one thread."""
    parent = os.environ.get("CLOUDMOTION_PARENT_PID", "")
    if parent.isdigit():
        threading.Thread(target=_exit_with, args=(int(parent),), daemon=True).start()
    import numpy as np

    from cloudmotion.track import track_pair

    rng = np.random.default_rng(0)
    a = rng.standard_normal((96, 96)).astype(np.float32)
    track_pair(a, np.roll(a, 1, axis=1), search_mode="full", threads=1)


if __name__ == "__main__":
    main()
