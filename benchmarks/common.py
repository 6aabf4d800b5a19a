"""Shared helpers of the benchmarks: interleaved timing, medians, peak memory, tables, JSON.

Timing. The benchmark machines are shared, so a single timing means little. :func:`interleaved`
runs the candidates in *rotated order* round after round (``A B C``, ``B C A``, ``C A B``, ...),
so a burst of load from another process hits every candidate alike, and every summary is the
**median** of the repeats; ratios are ratios of medians. On CUDA each call is bracketed by
``torch.cuda.synchronize()``.

Memory. Tensor storage on the CPU is allocated by c10's CPU allocator, not by Python's, so
``tracemalloc`` does not see it, and the process RSS is blurred by glibc's allocator (freed pages
are kept or reused). :func:`peak_tensor_bytes` therefore reads the allocation events that
``torch.profiler`` records with ``profile_memory=True`` (every tensor allocation and free, with
its size and time, on every device) and replays them in time order: the peak of the running sum
is the largest amount of *new* tensor memory alive at once while the function ran (temporaries
included, even those freed before it returns), and the final sum is what it kept. On CUDA the
same number also comes from ``torch.cuda.max_memory_allocated``, which is used there.
:func:`peak_python_bytes` is the ``tracemalloc`` peak (Python objects only: lists, tensor
wrappers), reported beside it.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

# Kineto prints start/stop lines and a CUDA probe error on CPU-only machines; keep them quiet.
os.environ.setdefault("KINETO_LOG_LEVEL", "5")
os.environ.setdefault("SWA_LIB_PROGRESS", "0")

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "benchmarks"

try:  # an editable install made elsewhere (a copied venv on a GPU box) may not resolve
    import swa_lib  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT / "src"))

__all__ = [
    "ROOT",
    "BENCH_DIR",
    "machine_info",
    "set_threads",
    "sync",
    "interleaved",
    "median",
    "summarize",
    "peak_tensor_bytes",
    "peak_python_bytes",
    "rss_bytes",
    "fmt_bytes",
    "fmt_s",
    "markdown_table",
    "write_json",
    "command_line",
    "small_cifar_cnn",
    "add_common_args",
]


# -- the machine ----------------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU model, logical cores, torch threads, torch/Python versions, GPU name when present."""
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
    }
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except ImportError:  # pragma: no cover - torchvision is a dependency
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda
    return info


def set_threads(n: int | None) -> None:
    """Set torch's intra-op threads (``None``: leave torch's default)."""
    if n is not None:
        torch.set_num_threads(int(n))


def sync(device: str | torch.device | None = None) -> None:
    """Wait for queued GPU work on ``device`` (no-op on the CPU)."""
    dev = torch.device(device) if device is not None else None
    if dev is not None and dev.type == "cuda":
        torch.cuda.synchronize(dev)


# -- timing ---------------------------------------------------------------------------------------


def interleaved(
    fns: dict[str, Callable[[], Any]],
    *,
    repeats: int,
    warmup: int = 1,
    device: str | torch.device | None = None,
    budget_s: float | None = None,
) -> dict[str, list[float]]:
    """Seconds per call of each function, ``repeats`` times, in rotated order per round.

    Args:
        fns: name -> zero-argument callable (one "call" is what is timed).
        repeats: timed rounds (each round calls every function once).
        warmup: untimed rounds first (allocator, caches, lazy init).
        device: synchronise this CUDA device around each call.
        budget_s: stop after the round in which this much time was spent (at least 3 rounds).

    Returns:
        name -> list of seconds (``len == rounds done``).
    """
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
        sync(device)
    out: dict[str, list[float]] = {name: [] for name in names}
    t_start = time.perf_counter()
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            sync(device)
            t0 = time.perf_counter()
            fns[name]()
            sync(device)
            out[name].append(time.perf_counter() - t0)
        if budget_s is not None and r >= 2 and time.perf_counter() - t_start > budget_s:
            break
    return out


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def summarize(samples: Sequence[float]) -> dict[str, float]:
    """Median, quartiles and min of timing samples (seconds)."""
    xs = sorted(samples)
    n = len(xs)
    q1 = xs[(n - 1) // 4]
    q3 = xs[(3 * (n - 1) + 3) // 4] if n > 1 else xs[0]
    return {"median_s": median(xs), "q1_s": q1, "q3_s": q3, "min_s": xs[0], "n": n}


# -- memory ---------------------------------------------------------------------------------------


def peak_tensor_bytes(fn: Callable[[], Any], device: str | torch.device = "cpu") -> dict[str, int]:
    """New tensor memory while ``fn()`` runs: ``{"peak": bytes, "kept": bytes}``.

    ``peak`` is the largest amount of tensor memory allocated during the call and alive at once
    (temporaries freed before the call returns count), ``kept`` what is still allocated when it
    returns. CPU: replay of ``torch.profiler``'s allocation events; CUDA:
    ``torch.cuda.max_memory_allocated`` around the call.
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
        fn()
        torch.cuda.synchronize(dev)
        return {
            "peak": int(torch.cuda.max_memory_allocated(dev) - base),
            "kept": int(torch.cuda.memory_allocated(dev) - base),
        }
    from torch.profiler import ProfilerActivity, profile

    with (
        _quiet_stderr(),
        profile(
            activities=[ProfilerActivity.CPU],
            profile_memory=True,
            record_shapes=False,
            with_stack=False,
        ) as prof,
    ):
        fn()
    events = [
        e
        for e in prof.profiler.kineto_results.events()
        if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU
    ]
    events.sort(key=lambda e: e.start_ns())
    running = peak = 0
    for e in events:
        running += int(e.nbytes())
        peak = max(peak, running)
    return {"peak": peak, "kept": running}


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (kineto's C++ start/stop lines) for the duration."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (e.g. captured by a notebook)
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def peak_python_bytes(fn: Callable[[], Any]) -> int:
    """``tracemalloc`` peak while ``fn()`` runs: Python objects only, not tensor storage."""
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    if not was:
        tracemalloc.stop()
    return int(peak - base)


def rss_bytes() -> int:
    """Current resident set size of this process (Linux ``/proc/self/statm``; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def tensor_bytes(tensors: Any) -> int:
    """Total storage bytes of an iterable of tensors."""
    return int(sum(t.numel() * t.element_size() for t in tensors))


# -- formatting -----------------------------------------------------------------------------------


def fmt_bytes(n: float) -> str:
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def fmt_s(seconds: float) -> str:
    """Seconds in a readable unit (us, ms, s)."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub markdown table of ``rows`` (dicts), columns in ``columns`` order."""
    if not rows:
        return "(no rows)"
    cols = list(columns) if columns is not None else list(rows[0])
    body = [[_cell(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(cols)]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(x.ljust(w) for x, w in zip(b, widths)) + " |" for b in body]
    return "\n".join(lines)


def _cell(x: Any) -> str:
    if isinstance(x, float):
        if x != x:  # NaN
            return "-"
        if x == 0:
            return "0"
        if abs(x) >= 100:
            return f"{x:.0f}"
        if abs(x) >= 1e-2:
            return f"{x:.2f}"
        return f"{x:.1e}"
    return str(x)


def command_line() -> str:
    """How this script was invoked, relative to the repository root (for the README tables)."""
    script = Path(sys.argv[0]).resolve()
    try:
        script_s = str(script.relative_to(ROOT))
    except ValueError:
        script_s = str(script)
    return " ".join(["python", script_s, *sys.argv[1:]])


def write_json(path: str | Path | None, obj: dict[str, Any]) -> None:
    """Write ``obj`` as indented JSON to ``path`` (parents created); ``None`` does nothing."""
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=str) + "\n")


def add_common_args(ap: Any, *, threads_default: int | None = 1) -> None:
    """``--quick``, ``--repeats``, ``--threads``, ``--json`` (every benchmark takes these)."""
    ap.add_argument(
        "--quick", action="store_true", help="small sizes and few repeats (what run_all.py uses)"
    )
    ap.add_argument("--repeats", type=int, default=None, help="timed rounds (median reported)")
    ap.add_argument(
        "--threads",
        type=int,
        default=threads_default,
        help="torch intra-op threads (default 1: stable timings on a shared machine; "
        "0 keeps torch's default)",
    )
    ap.add_argument("--json", type=Path, default=None, help="write the results here")


def threads_arg(n: int | None) -> int | None:
    return None if n in (None, 0) else n


# -- a small CIFAR CNN (benchmarks 2 and 4) --------------------------------------------------------


def small_cifar_cnn(num_classes: int = 10, width: int = 32) -> nn.Module:
    """Three conv-BN-ReLU-maxpool stages (``width``, ``2 width``, ``4 width`` channels) and a
    linear head; ~0.3 M parameters at ``width=32``, ~10 M multiply-adds per 32x32 image: small
    enough to train on a CPU, BN everywhere so that ``update_bn`` has work to do."""
    layers: list[nn.Module] = []
    c_in = 3
    for c in (width, 2 * width, 4 * width):
        layers += [
            nn.Conv2d(c_in, c, 3, padding=1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        ]
        c_in = c
    layers += [nn.Flatten(), nn.Linear(c_in * 4 * 4, num_classes)]
    return nn.Sequential(*layers)
