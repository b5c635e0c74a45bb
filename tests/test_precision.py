import logging

import pytest
import torch

from aae_lib import precision
from aae_lib.precision import cpu_flags, native_bf16, resolve_precision

CPU = torch.device("cpu")


def never(device):
    raise AssertionError("the probe must not run here")


@pytest.mark.parametrize("speedup, expected", [(2.0, "bf16"), (0.5, "fp32"), (1.0, "fp32")])
def test_auto_follows_the_probe_where_bf16_is_native(speedup, expected):
    assert resolve_precision("auto", CPU, native=True, probe=lambda d: speedup) == expected


def test_auto_is_fp32_without_native_bf16_and_does_not_probe():
    assert resolve_precision("auto", CPU, native=False, probe=never) == "fp32"
    assert resolve_precision("auto", "meta", probe=never) == "fp32"  # neither CPU nor CUDA


def test_explicit_choices_pass_through(caplog):
    assert resolve_precision("fp32", CPU, native=True, probe=never) == "fp32"
    with caplog.at_level(logging.WARNING, logger="aae_lib"):
        assert resolve_precision("bf16", CPU, native=True, probe=lambda d: 2.0) == "bf16"
    assert not caplog.records


def test_explicit_bf16_on_a_slow_cpu_warns_once_with_the_slowdown(caplog):
    with caplog.at_level(logging.WARNING, logger="aae_lib"):
        assert resolve_precision("bf16", CPU, native=False, probe=lambda d: 1 / 18.4) == "bf16"
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "18.4x slower" in message and "\n" not in message


@pytest.mark.parametrize("name", ["fp16", "BF16", "", "float32"])
def test_unknown_precision_is_one_clear_line(name):
    with pytest.raises(ValueError, match=r"precision must be one of auto, fp32, bf16, not") as e:
        resolve_precision(name, CPU, native=True, probe=never)
    assert "\n" not in str(e.value)


def test_native_bf16_reads_the_cpu_flags():
    flags = cpu_flags("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n")
    assert "avx512_bf16" in flags and "avx2" in flags
    assert native_bf16(CPU, flags)
    assert native_bf16(CPU, {"amx_bf16", "amx_tile"})
    assert not native_bf16(CPU, cpu_flags("flags\t: fpu sse2 avx2 fma\n"))  # AVX2-only EPYC
    assert not native_bf16(CPU, cpu_flags("model name : something without flags\n"))
    assert native_bf16(CPU, cpu_flags("Features\t: fp asimd bf16 i8mm\n"))  # aarch64


def test_the_probe_runs_once_per_machine_and_its_result_is_kept_on_disk(monkeypatch, tmp_path):
    monkeypatch.setenv("AAE_CACHE_DIR", str(tmp_path))
    calls = []
    monkeypatch.setattr(precision, "bf16_speedup", lambda d: calls.append(d) or 3.0)
    precision.measured_bf16_speedup.cache_clear()
    assert precision.measured_bf16_speedup(CPU) == 3.0
    precision.measured_bf16_speedup.cache_clear()  # a new process: the disk remembers
    monkeypatch.setattr(precision, "bf16_speedup", lambda d: calls.append(d) or 0.5)
    assert precision.measured_bf16_speedup(CPU) == 3.0
    assert len(calls) == 1 and (tmp_path / "bf16_probe.json").exists()
    precision.measured_bf16_speedup.cache_clear()
