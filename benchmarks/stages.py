"""Where ``track_pair`` spends its time and memory, observed from outside the package.

Nothing in cloudmotion is replaced or wrapped. The *orchestration* is the module that
defines ``cloudmotion.track_pair`` (today ``cloudmotion.track``). Functions are found by
where they are called from, not from a list of names, so a function that moves or is
renamed shows up under its new name and a missing one is simply absent.

- Time: one ``track_pair`` call under :mod:`cProfile`. A stage is a function of another
  cloudmotion module (``correlate``, ``refine``, ``qc`` ...) that the orchestration calls
  directly; its time is the cumulative time of those calls (``pstats`` caller edges).
  The numeric core does not call back into the orchestration, so the stages do not nest
  and add up; the rest is the orchestration's own code and the numpy calls it makes.
- Memory: one ``track_pair`` call under :mod:`tracemalloc`, with a :func:`sys.setprofile`
  hook (the hook cProfile itself uses) that notes the traced memory when ``track_pair``
  or any cloudmotion function the orchestration calls (its own helpers included) is
  entered, and the highest traced memory until it returns, nested calls included.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time
import tracemalloc

from .common import MB, STEP, WINDOW

TOTAL = "total (profiled)"
REST = "rest (orchestration code, its numpy calls, stages under 0.5 %)"


def _orchestration() -> tuple[str, str, str]:
    """(file of the orchestration module, its module name, the package's folder)."""
    import cloudmotion

    fn = cloudmotion.track_pair
    return (
        os.path.realpath(fn.__code__.co_filename),
        fn.__module__,
        os.path.realpath(os.path.dirname(cloudmotion.__file__)),
    )


def _label(module: str) -> str:
    """``cloudmotion.motion.correlate`` -> ``correlate``."""
    return module.removeprefix("cloudmotion.")


def stage_profile(a, b, mask_a=None, mask_b=None, *, min_share: float = 0.005) -> dict[str, float]:
    """Seconds in each stage of one ``track_pair`` call (cProfile), largest first.

    Keys are ``module.function`` (``correlate.ncc_dense``); stages under ``min_share`` of
    the total are left out of the keys (not of :data:`REST`), then :data:`REST` and
    :data:`TOTAL`.
    """
    from cloudmotion import track_pair

    orch_file, _orch_mod, pkg = _orchestration()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.runcall(track_pair, a, b, mask_a=mask_a, mask_b=mask_b, window=WINDOW, step=STEP)
    total = time.perf_counter() - t0
    real = {}

    def resolved(path: str) -> str:
        if path not in real:
            real[path] = os.path.realpath(path)
        return real[path]

    out: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, _tt, _ct, callers) in pstats.Stats(prof).stats.items():
        path = resolved(filename)
        if not path.startswith(pkg + os.sep) or path == orch_file or func.startswith("<"):
            continue
        module = os.path.relpath(path, pkg).removesuffix(".py").replace(os.sep, ".")
        for (cfile, _cline, _cfunc), (_c1, _c2, _c3, ct) in callers.items():
            if resolved(cfile) == orch_file:
                out[f"{module}.{func}"] = out.get(f"{module}.{func}", 0.0) + ct
    shown = {k: v for k, v in sorted(out.items(), key=lambda kv: -kv[1]) if v >= min_share * total}
    shown[REST] = max(total - sum(shown.values()), 0.0)
    shown[TOTAL] = total
    return shown


class _MemoryHook:
    """A :func:`sys.setprofile` hook: traced memory at entry and peak of each stage call."""

    def __init__(self, orch_module: str, entry_name: str) -> None:
        self.orch, self.entry_name = orch_module, entry_name
        self.stack: list[list] = []  # [frame, label, memory at entry, highest peak of finished children]
        self.peaks: dict[str, tuple[float, float]] = {}

    def _is_stage(self, frame) -> bool:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith("cloudmotion") or frame.f_code.co_name.startswith("<"):
            return False
        caller = frame.f_back.f_globals.get("__name__", "") if frame.f_back else ""
        return caller == self.orch or (
            module == self.orch and frame.f_code.co_name == self.entry_name and not self.stack
        )

    def __call__(self, frame, event, _arg) -> None:
        if event == "call" and self._is_stage(frame):
            outer_peak = tracemalloc.get_traced_memory()[1]
            if self.stack:
                self.stack[-1][3] = max(self.stack[-1][3], outer_peak)
            tracemalloc.reset_peak()
            label = f"{_label(frame.f_globals['__name__'])}.{frame.f_code.co_name}"
            self.stack.append([frame, label, tracemalloc.get_traced_memory()[0], 0])
        elif event == "return" and self.stack and self.stack[-1][0] is frame:
            _f, label, entry, child = self.stack.pop()
            mine = max(tracemalloc.get_traced_memory()[1], child)
            if mine > self.peaks.get(label, (0, -1))[1]:
                self.peaks[label] = (entry, mine)
            if self.stack:
                self.stack[-1][3] = max(self.stack[-1][3], mine)


def memory_by_stage(a, b, mask_a=None, mask_b=None) -> dict[str, tuple[float, float]]:
    """Traced memory (MiB, tracemalloc: numpy buffers) of ``track_pair`` and each stage.

    Each ``module.function`` maps to (memory held when it was entered, highest memory
    while it ran, nested calls included), for its call with the highest peak, relative to
    the start of ``track_pair`` (the inputs are not counted); largest peak first.
    """
    from cloudmotion import track_pair

    _file, orch_module, _pkg = _orchestration()
    hook = _MemoryHook(orch_module, track_pair.__name__)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        sys.setprofile(hook)
        try:
            track_pair(a, b, mask_a=mask_a, mask_b=mask_b, window=WINDOW, step=STEP)
        finally:
            sys.setprofile(None)
    finally:
        tracemalloc.stop()
    order = sorted(hook.peaks.items(), key=lambda kv: -kv[1][1])
    return {k: ((entry - base) / MB, (peak - base) / MB) for k, (entry, peak) in order}


def is_orchestration(label: str) -> bool:
    """Whether a stage label names a function of the orchestration module itself."""
    _file, orch_module, _pkg = _orchestration()
    return label.startswith(_label(orch_module) + ".")


def by_module(stages: dict[str, float]) -> dict[str, float]:
    """Stage seconds summed per module (``correlate``, ``refine`` ...), largest first."""
    out: dict[str, float] = {}
    for label, seconds in stages.items():
        if label not in (REST, TOTAL):
            module = label.rsplit(".", 1)[0]
            out[module] = out.get(module, 0.0) + seconds
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
