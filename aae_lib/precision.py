"""Which floating-point precision to train in, decided by the hardware and by measurement.

bfloat16 halves the bytes a matrix product moves and, on hardware that multiplies it natively
(CUDA GPUs from Ampere on; x86 CPUs with AVX512-BF16 or AMX), roughly doubles its throughput.
Elsewhere PyTorch emulates it, and a CPU without native bf16 multiplies 128x1000x1000 in bf16
some 70x slower than in fp32 (1.8 against 125 GFLOP/s), which makes a training step 18-35x
slower. So ``"auto"`` picks bf16 only where the hardware claims
native support *and* a short probe of the training's own matrix shapes, run once per machine
and cached on disk, confirms it is faster; an explicit ``"bf16"`` on a CPU where the probe finds
it slower says so in one line.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import platform
import re
import time
from collections.abc import Callable
from pathlib import Path

import torch

from .files import atomic_output

PRECISIONS = ("auto", "fp32", "bf16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
# CPU feature flags (Linux /proc/cpuinfo) under which oneDNN multiplies bf16 in hardware.
CPU_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})  # x86 AVX512/AMX, aarch64
# The products of one 1000-wide linear layer at batch 128, as training runs them:
# forward and input gradient (M=128, K=1000, N=1000) and weight gradient (M=1000, K=128).
PROBE_SHAPES = ((128, 1000, 1000), (1000, 128, 1000))
PROBE_SECONDS = 0.03  # per dtype and shape; a slow dtype stops after its first timed product

log = logging.getLogger("aae_lib")


def _read_cpuinfo() -> str:
    """Linux's /proc/cpuinfo, or "" where it cannot be read."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags as Linux reports them (empty where /proc/cpuinfo is absent).

    ``torch.backends.cpu.get_cpu_capability()`` names only the vector width PyTorch's own
    kernels use ("AVX2", "AVX512"), not whether the CPU has bf16 instructions, hence this.
    """
    cpuinfo = _read_cpuinfo() if cpuinfo is None else cpuinfo
    match = re.search(r"^(?:flags|Features)\s*:(.*)$", cpuinfo, re.MULTILINE)
    return set(match.group(1).split()) if match else set()


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's name with its family and model numbers: virtual machines often report only a
    product line, and two generations of one line can differ twofold in bf16 peak."""
    cpuinfo = _read_cpuinfo() if cpuinfo is None else cpuinfo
    fields = dict(re.findall(r"^(model name|cpu family|model)\s*:\s*(.+)$", cpuinfo, re.MULTILINE))
    if "model name" not in fields:
        return platform.processor() or "unknown CPU"
    name = fields["model name"].strip()
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family'].strip()}, model {fields['model'].strip()})"
    return name


def native_bf16(device: torch.device | str, flags: set[str] | None = None) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware (not by emulation)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return bool((cpu_flags() if flags is None else flags) & CPU_BF16_FLAGS)
    return False  # MPS and the rest: not measured, so not assumed


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_seconds(
    dtype: torch.dtype,
    device: torch.device | str,
    shape: tuple[int, int, int],
    budget: float = PROBE_SECONDS,
) -> float:
    """Best time of one (M, K) @ (K, N) product of random ``dtype`` matrices.

    Repeats until ``budget`` seconds have passed and at least two products ran, so that the
    first one's kernel set-up is not what is timed; a first product that alone outlasts the
    budget is not repeated: an emulated dtype is slow enough to be judged on one.
    """
    device = torch.device(device)
    m, k, n = shape
    torch.mm(
        torch.ones(8, 8, device=device, dtype=dtype),  # library handles, not timed
        torch.ones(8, 8, device=device, dtype=dtype),
    )
    a = torch.randn(m, k, device=device).to(dtype)
    b = torch.randn(k, n, device=device).to(dtype)
    times: list[float] = []
    started = time.perf_counter()
    while (
        not times
        or time.perf_counter() - started < budget
        or (len(times) < 2 and times[0] < budget)
    ):
        _synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b)
        _synchronize(device)
        times.append(time.perf_counter() - start)
    return min(times)


def bf16_speedup(device: torch.device | str) -> float:
    """fp32 time over bf16 time for the training's matrix shapes (>1: bf16 is faster).

    Well under a second: ~0.1 s where bf16 is native, one slow product per shape where not.
    """
    device = torch.device(device)
    fp32 = sum(matmul_seconds(torch.float32, device, s) for s in PROBE_SHAPES)
    bf16 = sum(matmul_seconds(torch.bfloat16, device, s) for s in PROBE_SHAPES)
    return fp32 / bf16


def probe_cache_path() -> Path:
    """Where probe results are kept: ``$AAE_CACHE_DIR`` or ``~/.cache/aae_lib``."""
    root = os.environ.get("AAE_CACHE_DIR") or Path.home() / ".cache" / "aae_lib"
    return Path(root) / "bf16_probe.json"


def machine_key(device: torch.device) -> str:
    """What a probe's result depends on: the device's model, the thread count, torch."""
    if device.type == "cuda":
        hardware = torch.cuda.get_device_name(device)
    else:
        hardware = cpu_model()
    return f"{device.type}|{hardware}|{torch.get_num_threads()} threads|torch {torch.__version__}"


@functools.cache
def measured_bf16_speedup(device: torch.device | str) -> float:
    """:func:`bf16_speedup`, probed once per machine: the result is cached on disk (and in
    the process), so that ``auto`` resolves the same way at every start on one machine,
    whatever else the machine is doing then."""
    device = torch.device(device)
    key, path = machine_key(device), probe_cache_path()
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    if not isinstance(cached, dict):
        cached = {}
    if isinstance(cached.get(key), (int, float)):
        return float(cached[key])
    speedup = bf16_speedup(device)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as output:
            output.write(json.dumps({**cached, key: speedup}, indent=1).encode())
    except OSError:
        log.warning("could not cache the bf16 probe in %s; it will run again next start", path)
    return speedup


def resolve_precision(
    requested: str,
    device: torch.device | str,
    *,
    native: bool | None = None,
    probe: Callable[[torch.device], float] | None = None,
) -> str:
    """``"fp32"`` or ``"bf16"`` for a requested ``"auto"``, ``"fp32"`` or ``"bf16"``.

    ``auto`` is bf16 only where the device multiplies bf16 natively (``native``, default
    :func:`native_bf16`) and the probe (``probe(device)`` -> fp32/bf16 speed ratio, default
    :func:`measured_bf16_speedup`) finds it faster; fp32 otherwise. An explicit choice is
    kept; ``bf16`` on a CPU that runs it slower logs one warning with the measured slowdown.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {requested!r}")
    device = torch.device(device)
    if requested == "fp32":
        return "fp32"
    probe = measured_bf16_speedup if probe is None else probe
    if requested == "auto":
        if not (native_bf16(device) if native is None else native):
            return "fp32"
        return "bf16" if probe(device) > 1.0 else "fp32"
    if device.type == "cpu":
        speedup = probe(device)
        if speedup < 1.0:
            log.warning(
                "precision bf16: this CPU (%s) multiplies bf16 matrices %.1fx slower "
                "than fp32; training will be slower (use auto or fp32)",
                torch.backends.cpu.get_cpu_capability(),
                1.0 / speedup,
            )
    return "bf16"


__all__ = [
    "PRECISIONS",
    "DTYPES",
    "cpu_flags",
    "native_bf16",
    "matmul_seconds",
    "bf16_speedup",
    "measured_bf16_speedup",
    "resolve_precision",
]
