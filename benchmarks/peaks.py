"""The machine's own matrix-product peak: the yardstick for a trainer's efficiency."""

from __future__ import annotations

import torch

from aae_lib.precision import PROBE_SECONDS, PROBE_SHAPES, matmul_seconds

# Shapes for the machine's peak: the probe's, and square ones big enough to saturate a core.
PEAK_SHAPES = PROBE_SHAPES + ((1024, 1024, 1024), (2048, 2048, 2048))


def matmul_gflops(
    dtype: torch.dtype,
    device: torch.device | str,
    shape: tuple[int, int, int],
    budget: float = PROBE_SECONDS,
) -> float:
    """Throughput of ``shape``'s product in GFLOP/s (2·M·K·N floating-point operations)."""
    m, k, n = shape
    return 2 * m * k * n / matmul_seconds(dtype, device, shape, budget) / 1e9


def peak_matmul_gflops(
    dtype: torch.dtype,
    device: torch.device | str,
    shapes: tuple[tuple[int, int, int], ...] = PEAK_SHAPES,
    budget: float = 0.3,
) -> dict[str, float]:
    """This machine's matrix-product throughput for ``dtype``, GFLOP/s per shape and ``peak``.

    The yardstick for a trainer's efficiency: its achieved GFLOP/s over this peak, measured
    in the same process with the same thread count. Takes a few seconds; benchmarks only.
    """
    rates = {
        "x".join(map(str, shape)): matmul_gflops(dtype, device, shape, budget) for shape in shapes
    }
    return {**rates, "peak": max(rates.values())}
