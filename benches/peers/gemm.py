"""NumPy's N×N×N GEMM rate on 1 and 2 BLAS threads, to set beside faer's (`affine_ratio`).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benches/peers/gemm.py [N]

Best of 5 per thread count, alternating 1, 2, 1, 2; 2N³ flops per product.
"""

import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
a, b = np.random.rand(n, n), np.random.rand(n, n)
for threads in (1, 2, 1, 2):
    with threadpool_limits(threads):
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t)
    print(f"numpy N={n} threads={threads}: {2 * n**3 / best * 1e-9:.1f} GFLOP/s")
