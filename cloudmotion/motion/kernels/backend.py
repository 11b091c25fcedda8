"""The one switch between each compiled kernel and its numpy reference.

Every stage that runs compiled code (numba) has a numpy reference computing the same
thing. :data:`STAGES` names both, as ``"module:function"`` strings imported on first use,
so that choosing the reference never loads numba and ``--help`` imports neither.
:func:`implementation` returns the function a stage runs now; :func:`run` runs a
per-template kernel stage over a template list (threads for the compiled one, one
vectorised call for the reference); :func:`reference_kernels` makes every stage use its
reference within a ``with`` block, in this thread (and the code it calls), for tests and
for checking a suspected kernel bug::

    with reference_kernels():
        field = track_pair(a, b)

The contract of a stage, checked by ``tests/motion/test_kernel_references.py``:

- **same signature**: the reference takes the compiled implementation's parameters, by the
  same names and in the same order (a parameter meaningless to numpy, such as
  ``threads``, is accepted and ignored);
- **same result type**: the same tuple of arrays (kernel stages), or the same
  :mod:`cloudmotion.motion.results` dataclass (``refine``); references import result types
  from there, never from the module they check;
- **same results to float32 rounding**: the compiled kernels of the search, the
  refinement and the error terms use the :data:`~cloudmotion.motion.kernels.jit.FAST`
  fastmath flags (reassociation, fused multiply-adds; never ``nnan``/``ninf``; the error
  terms without ``arcp``, :data:`~cloudmotion.motion.kernels.jit.FAST_EXACT_DIV`, so that a
  flat window's coefficients stay undefined) and sum in another order than numpy, so values differ by float32 rounding (about 1e-6 of a
  coefficient; about 1e-4 relative for the residual-correlation sums, whose windows and
  spectra are float32); an integer peak may then differ where two lags tie to that
  rounding. ``halve`` and ``gradients`` are :data:`~cloudmotion.motion.kernels.jit.EXACT`
  and equal their references bit for bit. ``flags`` in each :class:`Stage` says which set
  the compiled side uses (``"exact"``: no fastmath).

The coarse-to-fine orchestration (pyramid levels, climbs, the swap of a competitor that
climbs higher) is numpy code in :mod:`cloudmotion.motion.search` shared by both sides; only
the kernels it calls are switched. The exhaustive FFT search (``search_mode = "full"``) is
not a reference: it is another algorithm, chosen by the user.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "STAGES",
    "Stage",
    "before_compiled",
    "implementation",
    "reference_kernels",
    "resolve",
    "run",
    "using_references",
]


@dataclass(frozen=True)
class Stage:
    """A compiled implementation and its numpy reference, as ``"module:function"`` names.

    Attributes
    ----------
    compiled, reference : str
        Where each lives; imported by :func:`resolve` when first asked for.
    flags : {"fast", "fast-exact-div", "exact"}
        fastmath set of the compiled side (:data:`~cloudmotion.motion.kernels.jit.FAST`,
        :data:`~cloudmotion.motion.kernels.jit.FAST_EXACT_DIV`, or none /
        :data:`~cloudmotion.motion.kernels.jit.EXACT`).
    per_template : bool
        A kernel over a template list (its per-template arguments follow its frame-level
        ones, see :func:`run`); False for a stage called with its own signature.
    """

    compiled: str
    reference: str
    flags: Literal["fast", "fast-exact-div", "exact"]
    per_template: bool = True


_SEARCH = "cloudmotion.motion.references.search"
_REFINE = "cloudmotion.motion.references.refine"

STAGES: dict[str, Stage] = {
    "halve": Stage("cloudmotion.motion.kernels.frame:halve", f"{_SEARCH}:halve", "exact", per_template=False),
    "template_stats": Stage("cloudmotion.motion.kernels.frame:template_stats", f"{_SEARCH}:template_stats", "fast"),
    "coarse_search": Stage("cloudmotion.motion.kernels.ncc:coarse_search", f"{_SEARCH}:coarse_search", "fast"),
    "climb": Stage("cloudmotion.motion.kernels.ncc:climb", f"{_SEARCH}:climb", "fast"),
    "gradients": Stage(
        "cloudmotion.motion.kernels.lucas_kanade:gradients", f"{_REFINE}:gradients", "exact", per_template=False
    ),
    "refine": Stage(
        "cloudmotion.motion.refine:lucas_kanade_compiled", f"{_REFINE}:lucas_kanade_numpy", "fast", per_template=False
    ),
    "ee": Stage(
        "cloudmotion.motion.ee_terms:terms_compiled",
        "cloudmotion.motion.references.ee:terms_numpy",
        "fast-exact-div",
        per_template=False,
    ),
}
"""Every stage with a compiled implementation, by name."""

_REFERENCE = contextvars.ContextVar("cloudmotion_reference_kernels", default=False)
_BEFORE: list[Callable[[str], None]] = []  # hooks of before_compiled


def resolve(name: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` and return the function.

    Raises
    ------
    ImportError
        If the module or the function does not exist (naming it).
    """
    module, _, attr = name.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except AttributeError:
        raise ImportError(f"{module} has no {attr!r} (named in cloudmotion.motion.kernels.backend.STAGES)") from None


def using_references() -> bool:
    """True inside :func:`reference_kernels` (in this thread or context)."""
    return _REFERENCE.get()


def implementation(stage: str) -> Callable[..., Any]:
    """The function ``stage`` runs now: its numpy reference inside :func:`reference_kernels`, else compiled.

    Raises
    ------
    KeyError
        If ``stage`` is not in :data:`STAGES`.
    """
    entry = STAGES[stage]
    if _REFERENCE.get():
        return resolve(entry.reference)
    for hook in _BEFORE:
        hook(stage)
    return resolve(entry.compiled)


def before_compiled(hook: Callable[[str], None]) -> None:
    """Call ``hook(stage)`` each time :func:`implementation` hands out a compiled stage (once per hook).

    :mod:`cloudmotion.motion.kernels.ahead` registers its ``wait``, so that a stage its
    helper process compiles is loaded from the cache once the helper is done. A hook must
    return quickly when it has nothing to do.
    """
    if hook not in _BEFORE:
        _BEFORE.append(hook)


@contextlib.contextmanager
def reference_kernels() -> Iterator[None]:
    """Within the block, every stage of :data:`STAGES` runs its numpy reference (no numba is loaded).

    The switch is a context variable: it holds in the thread that entered the block (and
    in code it calls), not in other threads or processes. Nested blocks are allowed.
    """
    token = _REFERENCE.set(True)
    try:
        yield
    finally:
        _REFERENCE.reset(token)


def run(stage: str, threads: int | None, head: tuple, per: tuple, tail: tuple = ()) -> Any:
    """Run a per-template stage: ``fn(*head, *per, *tail)`` over the whole template list.

    The compiled kernel runs through :func:`cloudmotion.motion.kernels.jit.split_run`, on parts
    of the per-template arrays ``per`` in ``threads`` threads; the reference runs once,
    vectorised over all templates (``threads`` is checked, then unused).

    Raises
    ------
    ValueError
        If ``threads`` is not None or a positive integer.
    """
    if not STAGES[stage].per_template:
        raise ValueError(f"stage {stage!r} is not run over a template list; call implementation({stage!r})")
    fn = implementation(stage)
    if _REFERENCE.get():
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        return fn(*head, *per, *tail)
    from cloudmotion.motion.kernels.jit import split_run

    return split_run(fn, threads, head, per, tail)
