#!/usr/bin/env python3
"""Baselines for build/bench_cuda on the same GPU in the same session:
cuBLAS GEMM through PyTorch (f32 with TF32 off, so the same arithmetic as
engram's f32 kernel; bf16 and f16 on tensor cores) and PyTorch's causal
scaled_dot_product_attention, on bench_cuda's shapes. Prints one line per row
in bench_cuda's units (TFLOP/s). Usage: python3 scripts/torch_baseline.py [--quick]
"""
import sys

import torch
import torch.nn.functional as F

quick = "--quick" in sys.argv
dev = "cuda"
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
DT = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}


def time_ms(fn, budget_ms=300.0):
    fn()
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    fn()
    e.record()
    torch.cuda.synchronize()
    one = max(s.elapsed_time(e), 1e-3)
    reps = int(min(max(budget_ms / 5 / one, 1), 200))
    best = float("inf")
    for _ in range(5):
        s.record()
        for _ in range(reps):
            fn()
        e.record()
        torch.cuda.synchronize()
        best = min(best, s.elapsed_time(e) / reps)
    return best


def row(what, shape, ms, tf):
    print(f"{what:<34} {shape:<26} {ms:10.3f} ms {tf:9.2f} TFLOP/s", flush=True)


print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, TF32 off")
sq = [1024, 4096] if quick else [1024, 2048, 4096, 8192]
for name in ("f32", "bf16", "f16"):
    for n in sq:
        g = torch.Generator(device=dev).manual_seed(n)
        a = torch.randn(n, n, device=dev, dtype=DT[name], generator=g)
        b = torch.randn(n, n, device=dev, dtype=DT[name], generator=g)
        ms = time_ms(lambda: a @ b)
        row(f"torch matmul {name}", f"{n}^3", ms, 2 * n**3 / ms / 1e9)
for name in ("f32", "bf16"):
    for batch, n in ((256, 64), (1024, 128)):
        a = torch.randn(batch, n, n, device=dev, dtype=DT[name])
        b = torch.randn(batch, n, n, device=dev, dtype=DT[name])
        ms = time_ms(lambda: a @ b)
        row(f"torch matmul {name}", f"{batch} x {n}^3", ms, 2 * batch * n**3 / ms / 1e9)
for name in ("f32", "bf16"):
    for T, H, D in [(4096, 16, 64)] + ([] if quick else [(16384, 16, 128)]):
        # PyTorch's layout is [B, H, T, D]; engram's [B, T, H, D] is the same data transposed.
        q, k, v = (torch.randn(1, H, T, D, device=dev, dtype=DT[name]) for _ in range(3))
        ms = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
        row(f"torch sdpa causal {name}", f"T{T} H{H} D{D}", ms, 4 * H * D * T * (T + 1) / 2 / ms / 1e9)
