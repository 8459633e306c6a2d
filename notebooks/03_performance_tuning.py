# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Performance tuning: threads, chunk sizes, kernels, buffers
#
# Measured here, on whatever machine runs this notebook, on generated data (30,000 x 384
# float32, 46 MB). Absolute figures depend on the machine and its load; compare the bars within
# one run. The performance guide explains each knob.

# %%
import os
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
import vectro

info = vectro.get_backend_info()
print(info)
X = np.random.default_rng(0).standard_normal((30_000, 384)).astype(np.float32)


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


gb = X.nbytes / 1e9

# %% [markdown]
# ## Threads
#
# `threads=0` uses every core; encode is memory-bound, so a second core helps less than it does
# for search.

# %%
cores = max(1, info["threads"])
rows = []
for t in sorted({1, cores}):
    enc = best_of(lambda t=t: vectro.quantize_embeddings(X, "int8", threads=t))
    rows.append((f"{t} thread(s)", gb / enc))
print(rows)

# %% [markdown]
# ## Kernels
#
# The SIMD kernel is chosen from the CPU; `set_backend` forces another (the environment
# variable `VECTRO_DISABLE_CPU_FEATURES=avx512` does the same for a whole process). Codes are
# bit-identical whichever runs.

# %%
kernel_rates = {}
for k in info["available_kernels"]:
    vectro.set_backend(k)
    kernel_rates[k] = gb / best_of(lambda: vectro.quantize_embeddings(X, "int8", threads=1), repeat=2)
vectro.set_backend("auto")
ref = vectro.quantize_embeddings(X[:1000], "int8").codes
vectro.set_backend("scalar")
assert np.array_equal(vectro.quantize_embeddings(X[:1000], "int8").codes, ref)
vectro.set_backend("auto")

fig, ax = plt.subplots(figsize=(6, 3))
ax.bar(list(kernel_rates), list(kernel_rates.values()))
ax.set_ylabel("int8 encode, GB/s of float32 (1 thread)")
plt.show()
print(kernel_rates)

# %% [markdown]
# ## Reusing output buffers
#
# `reconstruct_embeddings(q, out=buf)` writes into an array you own instead of allocating a new
# one per call.

# %%
q = vectro.quantize_embeddings(X, "int8")
buf = np.empty_like(X)
fresh = best_of(lambda: vectro.reconstruct_embeddings(q))
reused = best_of(lambda: vectro.reconstruct_embeddings(q, out=buf))
print(f"decode: new array {gb / fresh:.1f} GB/s, into a reused buffer {gb / reused:.1f} GB/s")

# %% [markdown]
# ## Chunk sizes when streaming
#
# `compress_file` holds one chunk of floats in memory: the chunk size sets the memory bound. Its
# effect on speed depends on the machine (a chunk that fits the CPU cache can be faster than a
# large one); measure it here rather than assume.

# %%
work = tempfile.mkdtemp()
src = os.path.join(work, "x.npy")
np.save(src, X)
chunk_rates = {}
for rows_per_chunk in (256, 4096, 65536):
    dst = os.path.join(work, f"x{rows_per_chunk}.vqz")
    chunk_rates[rows_per_chunk] = gb / best_of(
        lambda r=rows_per_chunk, d=dst: vectro.compress_file(src, d, "int8", chunk_rows=r), repeat=2)
fig, ax = plt.subplots(figsize=(6, 3))
ax.bar([str(r) for r in chunk_rates], list(chunk_rates.values()))
ax.set_xlabel("chunk_rows")
ax.set_ylabel("compress_file, GB/s of float32")
plt.show()
print(chunk_rates)
