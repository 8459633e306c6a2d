"""bench_gpu.py: vectro.cuda on a GPU beside the CPU library and beside PyTorch doing the same math,
with the PCIe transfer cost shown apart: encode GB/s (float32 read), decode GB/s (float32 written),
search queries/s on int8 and binary codes, and what moving float32 vs codes to/from the host costs.

    python3 bench/bench_gpu.py [--n 1000000] [--d 768] [--out DIR]

Needs a CUDA GPU and PyTorch; FAISS GPU rows appear when faiss has GPU support.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import vectro
from vectro import cuda


def gpu_time(fn, repeat=5):
    """Median milliseconds of fn() on the GPU (CUDA events), after one warm-up."""
    import torch
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    return float(np.median(times))


def cpu_time(fn, repeat=3):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


def torch_int8(x):
    import torch
    s = x.abs().amax(dim=1, keepdim=True) / 127
    return torch.round(x / s).clamp(-127, 127).to(torch.int8), s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--cpu-n", type=int, default=200_000, help="rows for the CPU comparison")
    ap.add_argument("--out", default=None, help="folder for results.json and results.md")
    args = ap.parse_args()
    import torch
    if not cuda.is_available():
        raise SystemExit(f"bench_gpu: {cuda.unavailable_reason()}")
    n, d = args.n, args.d
    dev = torch.device("cuda")
    name = torch.cuda.get_device_name(dev)
    g = torch.Generator(device=dev).manual_seed(0)
    x = torch.randn(n, d, device=dev, generator=g)
    in_gb = n * d * 4 / 1e9
    rows = []

    def row(what, impl, ms, gb=None, qps=None, note=""):
        rows.append({"what": what, "impl": impl, "ms": round(ms, 3),
                     "GB/s": None if gb is None else round(gb / (ms / 1e3), 1),
                     "queries/s": None if qps is None else round(qps / (ms / 1e3)), "note": note})

    # encode / decode on the GPU, and torch doing the same math (int8: round half to even, like ours)
    for p in ("int8", "int4", "int4-g32", "binary", "f16", "bf16"):
        q = vectro.quantize_embeddings(x, p)
        row(f"encode {p}", "vectro.cuda", gpu_time(lambda p=p: cuda.quantize(x, p)), in_gb)
        row(f"decode {p}", "vectro.cuda", gpu_time(lambda q=q: cuda.reconstruct(q)), in_gb)
    row("encode int8", "torch (amax, round, cast)", gpu_time(lambda: torch_int8(x)), in_gb)
    row("encode binary", "torch (x > 0, packbits by matmul)",
        gpu_time(lambda: ((x > 0).view(n, -1, 8).to(torch.uint8)
                          * torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], device=dev, dtype=torch.uint8)
                          ).sum(-1, dtype=torch.uint8)), in_gb)
    row("encode f16", "torch (.half())", gpu_time(lambda: x.half()), in_gb)

    # the CPU library on the same math (all cores), on a slice
    xc = x[: args.cpu_n].cpu().numpy()
    cpu_gb = xc.nbytes / 1e9
    for p in ("int8", "binary", "f16"):
        row(f"encode {p}", f"vectro CPU ({os.cpu_count()} threads)",
            cpu_time(lambda p=p: vectro.quantize_embeddings(xc, p)), cpu_gb, note=f"n = {args.cpu_n}")

    # transfers: what sending float32 costs against sending codes (pinned host memory)
    pinned = torch.zeros((n, d), dtype=torch.float32, pin_memory=True)
    landing = torch.empty_like(x)
    row("host -> GPU float32", "cudaMemcpy (pinned)",
        gpu_time(lambda: landing.copy_(pinned, non_blocking=True)), in_gb)
    q8 = vectro.quantize_embeddings(x, "int8")
    pinned8 = torch.empty((n, d), dtype=torch.int8, pin_memory=True)
    row("GPU -> host int8 codes", "cudaMemcpy (pinned)",
        gpu_time(lambda: pinned8.copy_(q8.codes, non_blocking=True)), n * d / 1e9)

    # search: top-10 over n rows, batches of queries
    qb = vectro.quantize_embeddings(x, "binary")
    xh = x.half()
    for nq in (1, 64, 1024):
        qs = torch.randn(nq, d, device=dev, generator=g)
        row(f"search int8 nq={nq}", "vectro.cuda", gpu_time(lambda qs=qs: cuda.search(q8, qs, 10)), qps=nq)
        row(f"search binary nq={nq}", "vectro.cuda", gpu_time(lambda qs=qs: cuda.search(qb, qs, 10)), qps=nq)
        row(f"search f16 nq={nq}", "torch (fp16 matmul + topk)",
            gpu_time(lambda qs=qs: torch.topk(qs.half() @ xh.T, 10, dim=1)), qps=nq,
            note="float16 tensor cores, 2x the bytes of int8")
    nc = min(args.cpu_n, n)
    idx = vectro.Index("int8", metric="ip", keep_originals=False)
    idx.add(xc[:nc])
    qc = np.random.default_rng(0).standard_normal((64, d)).astype(np.float32)
    row("search int8 nq=64", f"vectro CPU ({os.cpu_count()} threads)",
        cpu_time(lambda: idx.search(qc, k=10)) * (n / nc), qps=64, note=f"scaled from n = {nc}")
    try:
        import faiss
        if hasattr(faiss, "StandardGpuResources"):
            res = faiss.StandardGpuResources()
            fi = faiss.GpuIndexFlatIP(res, d)
            fi.add(xc[:nc])
            row("search f32 nq=64", "FAISS GpuIndexFlatIP", cpu_time(lambda: fi.search(qc, 10)) * (n / nc),
                qps=64, note=f"scaled from n = {nc}")
    except ImportError:
        pass

    head = f"GPU: {name}; n = {n:,} x d = {d}; host {platform.processor() or platform.machine()}"
    lines = [head, "", "| what | implementation | ms | GB/s | queries/s | note |", "|---|---|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['what']} | {r['impl']} | {r['ms']} | {r['GB/s'] or ''} | {r['queries/s'] or ''} | "
                     f"{r['note']} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "bench_gpu.md"), "w") as f:
            f.write(text + "\n")
        with open(os.path.join(args.out, "bench_gpu.json"), "w") as f:
            json.dump({"gpu": name, "n": n, "d": d, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
