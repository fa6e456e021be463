"""The glue between a Snakemake rule script and the library: logging and clean errors."""

from __future__ import annotations

import ctypes
import gc
import logging
import sys
import threading
from typing import Any, Callable

from ecgap.io import InputError


def run(snakemake: Any, main: Callable[[Any], None]) -> None:
    """Run ``main(snakemake)`` with stderr and logging sent to the rule's log file.

    An :class:`InputError` (bad user data or config) is logged and also printed as one
    line to the terminal, so the user sees which file is wrong without opening the log.
    """
    terminal = sys.stderr
    log_path = snakemake.log[0] if len(snakemake.log) else None
    handle = open(log_path, "w") if log_path else terminal
    sys.stderr = handle
    logging.basicConfig(stream=handle, level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Every rule script pauses the collector before its imports: they create hundreds of
    # thousands of long-lived objects, and each automatic collection walks them all again
    # (0.3 s of a first-level job's 1.8 s of imports). Here they are frozen, so neither
    # the resumed automatic collections nor nilearn's explicit gc.collect() at every image
    # access (dozens per GLM; about 2 s of a paper-scale first-level job) walk them again.
    # Nothing imported is ever garbage anyway.
    gc.freeze()
    gc.enable()
    keep_freed_memory()
    try:
        main(snakemake)
    except InputError as err:
        logging.error("%s", err)
        print(f"ecgap input error: {err}", file=terminal)
        handle.flush()
        sys.exit(1)
    except Exception:
        logging.exception("rule %s failed", getattr(snakemake, "rule", "?"))
        handle.flush()
        raise
    finally:
        sys.stderr = terminal


#: mallopt's parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


def keep_freed_memory() -> bool:
    """Have glibc's malloc reuse the memory a job frees instead of handing it back.

    glibc serves every block over 32 MB from a fresh mapping and unmaps it when freed, so
    each large temporary (nilearn's copies of a BOLD series, the arrays of every
    permutation) has the kernel fault in and zero its pages again. Served from the heap
    and kept there, the next temporary reuses them: on this project's 2-core machine a
    demo second-level job took 11.1 s instead of 13.9 s and a first-level job 3.4 s
    instead of 4.0 s (medians), for 1-7 % more peak memory. This holds for the main
    thread, where the rules' single-threaded work runs. A job is a short-lived process,
    so nothing else needs the memory back before it exits. Returns whether the settings
    took (glibc only; elsewhere nothing changes).
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # no C library by that name, or no mallopt
        return False
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1))


def cancel_pending_timers() -> int:
    """Cancel every pending ``threading.Timer`` of this process; returns how many.

    For the workflow's ``onsuccess``/``onerror`` handlers: Snakemake's scheduler leaves a
    timer behind after each planning round (it re-plans one rate-limit timespan later),
    and the process waits for the last one before it exits. With the laptop profile's
    timespan of 60 s, a finished run would otherwise sit idle for up to a minute.
    """
    timers = [t for t in threading.enumerate()
              if isinstance(t, threading.Timer) and t.is_alive()]
    for timer in timers:
        timer.cancel()
    return len(timers)
