"""The ``cloudmotion`` command line: exit statuses, one-line errors, lazily loaded commands.

Each command lives in a module of its own (``cloudmotion.cli.track`` ...) that parses its
options and makes one library call; a command's module, and whatever heavy library it
needs, is imported only when that command runs, so ``cloudmotion --help`` starts fast.

Standard output carries data only; messages and progress go to standard error.
Exit status: 0 success, 1 data or runtime error, 2 usage error, 130 / 143 after SIGINT /
SIGTERM.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys
import traceback

# numpy's OpenBLAS keeps a thread per core spinning after each call. The commands' BLAS calls
# are small (the heavy work runs in compiled kernels and OpenCV), so one thread serves them and
# the spinning costs no CPU (about 8 % of a track command's): set before numpy loads, and only
# when the user has not chosen.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import click

from cloudmotion import __version__
from cloudmotion.errors import CloudmotionError, Terminated, sigterm_raises
from cloudmotion.files import stdout

__all__ = ["cli", "compile_notice", "main", "set_verbosity", "warn"]

COMMANDS = {
    "track": ("cloudmotion.cli.track", "Track each consecutive pair of FRAMEs and write motion vectors."),
    "batch": ("cloudmotion.cli.batch", "Track the frame archives in INPUT into OUTDIR: resumable, parallel, for cron."),
    "plot": ("cloudmotion.cli.plot", "Quick-look picture: FRAME in grey with the good VECTORS on top."),
    "synth": ("cloudmotion.cli.synth", "Write frames with a known motion, and truth.tif with the true displacement."),
    "score": ("cloudmotion.cli.score", "Error of tracked VECTORS against the true displacement in TRUTH."),
    "info": ("cloudmotion.cli.info", "What the reader sees in each FRAME, and whether they form one sequence."),
    "nowcast": ("cloudmotion.cli.nowcast", "Extrapolate the latest FRAME along the measured motion, per lead time."),
    "verify": ("cloudmotion.cli.verify", "Score a NOWCAST against the OBSERVED frame, and against persistence."),
}
"""Command name -> (module holding ``command``, one-line help); nothing is imported to list them."""


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        return importlib.import_module(COMMANDS[name][0]).command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, short) in COMMANDS.items()])


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cloudmotion")
@click.option("-v", "--verbose", count=True, help="More messages (repeatable: -vv); tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Cloud motion vectors from consecutive geostationary satellite frames.

    -v and -q work before the command (cloudmotion -q batch ...) as well as after it.
    Shell completion: eval "$(_CLOUDMOTION_COMPLETE=bash_source cloudmotion)" (zsh, fish: see the manual).
    """
    ctx.ensure_object(dict)
    ctx.obj.update(verbose=verbose, quiet=quiet)


def set_verbosity(ctx: click.Context, quiet: bool, verbose: int) -> tuple[bool, int]:
    """A command's -q/-v joined with the group's (``cloudmotion -v track``); -q with -v is a usage error.

    Returns
    -------
    (quiet, verbose)
        ``verbose`` is the count of ``-v``.
    """
    obj = ctx.ensure_object(dict)
    quiet = bool(quiet or obj.get("quiet"))
    verbose = int(verbose or 0) + int(obj.get("verbose") or 0)
    if quiet and verbose:
        raise click.UsageError("-q and -v: give one or the other", ctx=ctx)
    obj.update(quiet=quiet, verbose=verbose)
    return quiet, verbose


HELPER = ("-P", "-m", "cloudmotion.cli.compile_helper")
"""Arguments of the first run's helper process, after the interpreter (``-P``: nothing from
the working folder shadows the installed modules)."""


def compile_notice(ctx: click.Context, *, now: bool = False, threads: int | None = None) -> None:
    """One line on stderr before the first kernel compiles (a cold numba cache); silent under -q.

    The process is also armed to start the helper process that compiles the refinement and
    error-term kernels alongside the search's when it first compiles
    (:func:`cloudmotion.motion.kernels.ahead.arm`; ``threads`` is the run's thread setting):
    when it tracks, or, for local batch workers, when it compiles their kernels before they
    start (:mod:`cloudmotion.batch.warm`). ``now``: check at once (when the tracking runs in
    worker processes), not before the first kernel call of this process.
    """
    from cloudmotion.motion.kernels import ahead
    from cloudmotion.motion.kernels.jit import cold_cache, on_cold_cache

    on_cold_cache(None)  # a callback left by an earlier command of this process is dropped
    ahead.disarm()
    quiet = bool((ctx.obj or {}).get("quiet"))

    def say(msg: str) -> None:
        click.echo(f"cloudmotion: {msg}", err=True)

    ahead.arm([sys.executable, *HELPER], threads)  # local batch workers too: their kernels compile here first
    if now:
        notice = None if quiet else cold_cache()
        if notice:
            say(notice)
        return
    if not quiet:
        on_cold_cache(say)


def warn(ctx: click.Context, msg: str) -> None:
    """A warning line on stderr, unless ``-q``."""
    if not (ctx.obj or {}).get("quiet"):
        click.echo(f"cloudmotion: warning: {msg}", err=True)


_exit_hook: list[bool] = []  # whether freeze_at_exit is registered in this process


def freeze_at_exit() -> None:
    """At interpreter exit, leave the objects still alive to the operating system, not to the collector.

    Loaded kernels keep numba's compiler state alive, about 130,000 objects; after the
    command has finished, the interpreter's shutdown would traverse them all in its
    cyclic garbage collections (about 0.2 s on a CONUS pair). :func:`gc.freeze`, run as
    the last exit handler, takes them out of those collections. Every other exit handler,
    the flush of the standard streams and the finalizers of objects freed by reference
    counting still run; the memory goes back with the process. Registered once per
    process, so in-process callers (tests) meet it only at their own exit.
    """
    if not _exit_hook:
        atexit.register(gc.freeze)  # handlers run last-registered first: numba's, registered later, run before
        _exit_hook.append(True)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    0 success, 1 data or runtime error, 2 usage error, 130 interrupted (SIGINT), 143
    terminated (SIGTERM); temporary files are removed on every way out.
    """
    freeze_at_exit()
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a == "--verbose" or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in args)
    stdout.reserve_std_fds()
    try:
        with sigterm_raises():
            rv = cli.main(args=args, prog_name="cloudmotion", standalone_mode=False, obj={})
        return rv if isinstance(rv, int) else 0
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
        return 2
    except click.UsageError as exc:  # one prefix for every error; the command's help is named
        name = exc.ctx.info_name if exc.ctx and exc.ctx.parent else next((a for a in args if a in COMMANDS), None)
        hint = f" (see cloudmotion {name} --help)" if name else " (see cloudmotion --help)"
        click.echo(f"cloudmotion: error: {' '.join(exc.format_message().split())}{hint}", err=True)
        return 2
    except CloudmotionError as exc:
        if verbose:
            traceback.print_exc()
        click.echo(f"cloudmotion: error: {' '.join(str(exc).split())}", err=True)
        return exc.exit_code
    except Terminated:
        click.echo("cloudmotion: terminated", err=True)
        return 143
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("cloudmotion: interrupted", err=True)
        return 130
    except SystemExit:
        if not stdout.click_saw_broken_pipe():
            raise
        stdout.discard_stdout()
        return stdout.SIGPIPE_STATUS
    except (BrokenPipeError, stdout.ReaderGone):
        stdout.discard_stdout()
        return stdout.SIGPIPE_STATUS  # the reader went away (| head): quietly, as the shell reports SIGPIPE
    except MemoryError:
        click.echo(
            "cloudmotion: error: out of memory; lower chunk in a --config file, or use a larger "
            "--step or smaller frames",
            err=True,
        )
        return 1
    except Exception as exc:  # noqa: BLE001 - an unexpected failure: one line, traceback with -v
        signalled = _signal_inside(exc)
        if signalled is not None:  # SIGTERM or Ctrl-C that arrived inside an import or a class body
            click.echo(f"cloudmotion: {'terminated' if isinstance(signalled, Terminated) else 'interrupted'}", err=True)
            return 143 if isinstance(signalled, Terminated) else 130
        if (msg := stdout.stdout_failure(exc)) is not None:
            click.echo(f"cloudmotion: error: {msg}", err=True)
            return 1
        if verbose:
            traceback.print_exc()
        click.echo(
            f"cloudmotion: internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
            "(run with -v for the traceback)",
            err=True,
        )
        return 1
    finally:
        if (ahead := sys.modules.get("cloudmotion.motion.kernels.ahead")) is not None:
            ahead.disarm()  # a command that never compiled leaves no helper armed for later calls in this process


def _signal_inside(exc: BaseException) -> BaseException | None:
    """The :class:`Terminated` or ``KeyboardInterrupt`` that ``exc`` wraps, if any.

    Python 3.11 wraps an exception raised in ``__set_name__`` in a RuntimeError, so a signal
    that arrives while a module creates a dataclass on import surfaces as that error.
    """
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, (Terminated, KeyboardInterrupt)):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ if cur.__cause__ is not None or cur.__suppress_context__ else cur.__context__
    return None


if __name__ == "__main__":
    sys.exit(main())
