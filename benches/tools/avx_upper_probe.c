/* The cost of libm calls from SSE code while the AVX upper state is in use (clo22,
 * BENCHMARKS.md "The series closures at two threads"): `gcc -O2 -o /tmp/probe
 * benches/tools/avx_upper_probe.c -lm && /tmp/probe`. Prints the time of 10^6 iterations of
 * exp(-0.5 log(x^2 + 1)) with the state clean (after vzeroupper), after writing zmm2 (what
 * faer's GEMM micro-kernels leave behind) and after writing only zmm18, and XINUSE
 * (xgetbv with ECX = 1; bits 2 and 6 are the upper state) in each. Needs AVX-512. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint64_t xinuse(void) {
    uint32_t a, d;
    __asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(1));
    return ((uint64_t)d << 32) | a;
}

__attribute__((noinline)) static double work(int n) {
    double s = 0;
    for (int i = 1; i <= n; i++) {
        double x = i * 1e-3;
        s += exp(-0.5 * log(x * x + 1.0)) + x * 0.5;
    }
    return s;
}

int main(void) {
    for (int rep = 0; rep < 3; rep++) {
        __asm__ volatile("vzeroupper");
        uint64_t x1 = xinuse();
        double t = now(), a = work(1000000), t1 = now() - t;
        __asm__ volatile("vaddpd %%zmm2, %%zmm2, %%zmm2" ::: "xmm2");
        uint64_t x2 = xinuse();
        t = now();
        double b = work(1000000), t2 = now() - t;
        __asm__ volatile("vzeroupper");
        __asm__ volatile("vaddpd %zmm18, %zmm18, %zmm18");
        uint64_t x3 = xinuse();
        t = now();
        double c = work(1000000), t3 = now() - t;
        printf("clean %.2f ms (XINUSE %#lx), zmm2 written %.2f ms (%#lx), only zmm18 %.2f ms "
               "(%#lx) [%g %g %g]\n",
               t1 * 1e3, (unsigned long)x1, t2 * 1e3, (unsigned long)x2, t3 * 1e3,
               (unsigned long)x3, a, b, c);
    }
    return 0;
}
