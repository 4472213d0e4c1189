"""How many threads tinynlp's BLAS and Numba kernels use: chosen at run time.

The rule (:func:`choose_threads`)::

    available = the cores this process may run on (os.sched_getaffinity, capped by a
                cgroup CPU quota)
    busy      = the cores other processes keep busy right now (per-core idle time in
                /proc/stat over ~0.1 s, minus this process's own CPU time; without
                /proc/stat, the 1-minute load average)
    threads   = available − busy, rounded to the nearest integer, at least 1

so on a 2-core laptop with one CPU-bound job running, tinynlp uses 1 thread
instead of 2.  Why it matters: OpenBLAS and OpenMP threads spin while they
wait for each other; when one of them has no core (another process holds it)
the others spin until the scheduler gives it one, and a 2-thread step becomes
several times slower than the same step on one thread.  Measured on the
2-core machine with ``yes > /dev/null`` running, a train epoch slowed 4–5×
with 2 threads (PyTorch alike); see ``benchmarks/NOTES.md``.

One count for both pools, and never one parallel region inside another:
BLAS is never called from inside a Numba ``parallel=True`` kernel
(``tests/test_threads.py`` checks that no parallel kernel calls a BLAS
product), and Numba kernels never run inside a BLAS call — so the two pools
take turns on the same cores instead of multiplying.  The one place where
several Python threads call BLAS at once, attention's chunks
(:func:`tinynlp.functional.attention._over_chunks`, as many threads as
Numba's count), does so only for products small enough that OpenBLAS runs
them on the calling thread.  OpenBLAS's idle threads spin for a while after
each product before they sleep; :mod:`tinynlp._blas_spin` shortens that
wait so they do not hold a core the other pool needs.

Who decides, first match wins:

1. :func:`set_num_threads` (``tn.set_num_threads(n)``), or ``--threads N`` on the
   command line (which calls it);
2. the ``TINYNLP_THREADS`` environment variable (a positive integer, or ``auto``);
3. the rule above, measured when first needed and again when the last measurement is
   older than :data:`MAX_AGE_SECONDS` (a notebook's second ``fit`` an hour later sees
   the machine as it is then).

``fit`` applies the count for its duration (and restores the previous limits
after), and never raises a limit set lower outside tinynlp (``threadpoolctl``,
``OPENBLAS_NUM_THREADS``) unless told to by 1. or 2.; the command line applies
it for the whole process.

PyTorch's ``torch.set_num_threads(n)`` sets the number of threads of its
intra-op pool (OpenMP / its own pool), process-wide and sticky;
``torch.get_num_threads()`` reads it; its default is the number of physical
cores, whatever else is running.  ``tn.set_num_threads`` / ``tn.get_num_threads``
are the same calls for tinynlp's two pools (OpenBLAS through threadpoolctl,
Numba through ``numba.set_num_threads``); the difference is the default, which
looks at the idle cores.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass

import numba
from threadpoolctl import ThreadpoolController

__all__ = ["ENV_VAR", "ThreadChoice", "apply", "available_cores", "busy_cores", "choose_threads",
           "decide", "get_num_threads", "limit", "parse_threads", "set_num_threads"]

#: the environment variable that overrides the automatic choice
ENV_VAR = "TINYNLP_THREADS"

#: the automatic choice is measured again when older than this (seconds)
MAX_AGE_SECONDS = 60.0

#: seconds /proc/stat is sampled for the automatic choice (the kernel counts in 10 ms ticks)
SAMPLE_SECONDS = 0.1


# --------------------------------------------------------------------------
# the rule
# --------------------------------------------------------------------------

def choose_threads(available: int, busy: float) -> int:
    """The thread count for ``available`` cores of which ``busy`` (a float, in cores) are
    used by other processes: ``max(1, min(available, ⌊available − busy + ½⌋))``.

    A core counts as free when less than half of it is busy; at least one thread
    always runs.  Pure: no system call (tested on synthetic loads).
    """
    if isinstance(available, bool) or not isinstance(available, (int, float)) or \
            available != int(available) or available < 1:
        raise ValueError(f"choose_threads: available must be a positive integer (cores), "
                         f"got {available!r}")
    if isinstance(busy, bool) or not isinstance(busy, (int, float)) or not math.isfinite(busy) \
            or busy < 0:
        raise ValueError(f"choose_threads: busy must be a finite number of cores >= 0, got "
                         f"{busy!r}")
    available = int(available)
    free = math.floor(available - busy + 0.5)
    return max(1, min(available, free))


def parse_threads(value, source: str):
    """``value`` (from ``source``, named in the error) as a thread count: a positive integer,
    or None for ``"auto"`` / empty (the automatic choice)."""
    if value is None:
        return None
    given = value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "auto"):
            return None
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{source} must be a positive integer or 'auto', got "
                             f"{value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{source} must be a positive integer or 'auto', got {given!r}")
    return value


# --------------------------------------------------------------------------
# measuring the machine
# --------------------------------------------------------------------------

def _cgroup_quota():
    """CPUs allowed by a cgroup v2 quota (``cpu.max``), or None when unlimited/unknown."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, math.floor(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


def _affinity():
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def available_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota."""
    n = len(_affinity()) or 1
    quota = _cgroup_quota()
    return min(n, quota) if quota else n


def _cpu_idle_totals(cpus):
    """{cpu: (idle ticks, total ticks)} from /proc/stat for the given cpu numbers."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if not line.startswith("cpu") or line.startswith("cpu "):
                continue
            name, *fields = line.split()
            cpu = int(name[3:])
            if cpu in cpus:
                # user nice system idle iowait irq softirq steal
                ticks = [int(x) for x in fields[:8]]
                out[cpu] = (ticks[3] + ticks[4], sum(ticks))
    return out


def busy_cores(seconds: float = SAMPLE_SECONDS) -> float:
    """Cores kept busy by *other* processes, over the next ``seconds`` (this one sleeps).

    Per-core busy time of the cores in this process's affinity, from two reads
    of /proc/stat, minus this process's own CPU time in between (its BLAS
    threads may still be spinning).  Without /proc/stat: the 1-minute load
    average (0 where that is missing too).
    """
    cpus = set(_affinity())
    try:
        before = _cpu_idle_totals(cpus)
    except (OSError, ValueError):
        before = {}
    if not before:
        try:
            return max(0.0, os.getloadavg()[0])
        except (AttributeError, OSError):
            return 0.0
    own0, wall0 = sum(os.times()[:2]), time.monotonic()
    time.sleep(seconds)
    after = _cpu_idle_totals(cpus)
    own = sum(os.times()[:2]) - own0
    wall = time.monotonic() - wall0
    busy = 0.0
    for cpu, (idle0, total0) in before.items():
        idle1, total1 = after.get(cpu, (idle0, total0))
        if total1 > total0:
            busy += 1.0 - (idle1 - idle0) / (total1 - total0)
    return max(0.0, busy - own / max(wall, 1e-9))


@dataclass(frozen=True)
class ThreadChoice:
    """A thread count and where it came from (``source``: "set_num_threads", the
    environment variable's name, or "auto" with the ``available`` and ``busy`` cores)."""

    threads: int
    source: str
    available: int | None = None
    busy: float | None = None

    def describe(self) -> str:
        if self.source == "auto":
            return (f"{self.threads} thread{'s' if self.threads > 1 else ''} ({self.busy:.1f} "
                    f"of {self.available} cores busy with other processes)")
        return f"{self.threads} thread{'s' if self.threads > 1 else ''} (from {self.source})"


# --------------------------------------------------------------------------
# the process's setting
# --------------------------------------------------------------------------

_state = {"explicit": None, "auto": None, "measured_at": -math.inf}


def decide(refresh: bool = False) -> ThreadChoice:
    """The thread count tinynlp uses now: :func:`set_num_threads`'s, else ``TINYNLP_THREADS``,
    else the rule (measured again when older than :data:`MAX_AGE_SECONDS`, or with
    ``refresh=True``)."""
    if _state["explicit"] is not None:
        return ThreadChoice(_state["explicit"], "set_num_threads")
    env = parse_threads(os.environ.get(ENV_VAR), ENV_VAR)
    if env is not None:
        return ThreadChoice(env, ENV_VAR)
    if _state["auto"] is None or refresh or \
            time.monotonic() - _state["measured_at"] > MAX_AGE_SECONDS:
        available = available_cores()
        busy = busy_cores()
        _state["auto"] = ThreadChoice(choose_threads(available, busy), "auto", available,
                                      round(busy, 2))
        _state["measured_at"] = time.monotonic()
    return _state["auto"]


def get_num_threads() -> int:
    """The number of threads tinynlp's BLAS products and Numba kernels use (see the module
    docstring for who decides); ``torch.get_num_threads``'s counterpart."""
    return decide().threads


def _apply(n: int) -> None:
    ThreadpoolController().limit(limits=n, user_api="blas")
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))


def set_num_threads(n) -> None:
    """Use ``n`` threads for BLAS (via threadpoolctl) and Numba from now on, in this process;
    ``None`` (or ``"auto"``) returns to the automatic choice.

    Like ``torch.set_num_threads(n)`` — process-wide and sticky — but for both of
    tinynlp's pools.  Numba's pool is capped at ``NUMBA_NUM_THREADS`` (set before
    Numba is imported; default: all cores).
    """
    n = parse_threads(n, "set_num_threads: n")
    _state["explicit"] = n
    _apply(get_num_threads())


def apply() -> ThreadChoice:
    """Apply :func:`decide`'s count to BLAS and Numba for the rest of the process (what the
    command line does at start); returns the choice."""
    choice = decide()
    _apply(choice.threads)
    return choice


@contextlib.contextmanager
def limit(n=None):
    """Run a block (``fit``) with ``n`` threads (default :func:`get_num_threads`), then restore
    the BLAS and Numba settings found on entry.  An automatic count never raises a BLAS
    limit already set lower (by threadpoolctl or ``OPENBLAS_NUM_THREADS``)."""
    n = parse_threads(n, "limit: n")
    choice = decide() if n is None else ThreadChoice(n, "limit")
    n = choice.threads
    controller = ThreadpoolController()
    if choice.source == "auto":
        current = [lib.num_threads for lib in controller.select(user_api="blas").lib_controllers]
        if current:
            n = max(1, min(n, max(current)))
    old_numba = numba.get_num_threads()
    with controller.limit(limits=n, user_api="blas"):
        numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
        try:
            yield n
        finally:
            numba.set_num_threads(old_numba)
