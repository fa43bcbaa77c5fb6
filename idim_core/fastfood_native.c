/* Fastfood's Walsh-Hadamard passes on the CPU, in C (idim_core/native.py builds and loads this file).

   idim_fwht_rows  the unnormalised Walsh-Hadamard transform (Sylvester order) of n rows of length L, in place
   idim_ff_theta   theta[a:b] = theta0[a:b] + s * (H (G_blk * u))[...] for each piece (a, b, s): the forward pass
   idim_ff_grad    acc += s * sum_blk G_blk * H(g_blk) for each piece, and each piece's dot with u: the adjoint,
                   reading g from the model's per-parameter gradients (no copy into one flat vector first)

   Blocks of L floats are transformed in a scratch row that stays in the core's cache (whole blocks of up to
   ROW floats at a time), so each pass reads G and theta0 (or the gradient) once and writes theta once.
   Pieces run in parallel (OpenMP, the thread pool torch itself uses); the adjoint keeps one partial sum per
   piece and adds them in piece order, so its result does not depend on the number of threads.  Without
   OpenMP the pragmas are ignored (one thread). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
#define IDIM_VEC 1
typedef float v8 __attribute__((vector_size(32)));
#endif

/* stages h = 1, 2, 4 on groups of 8 */
static void radix8(float *restrict x, int64_t L) {
#ifdef IDIM_VEC
    const v8 s1 = {1, -1, 1, -1, 1, -1, 1, -1}, s2 = {1, 1, -1, -1, 1, 1, -1, -1}, s4 = {1, 1, 1, 1, -1, -1, -1, -1};
    for (int64_t i = 0; i < L; i += 8) {
        v8 v;
        memcpy(&v, x + i, sizeof v);
        v = __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6) + s1 * v;
        v = __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5) + s2 * v;
        v = __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3) + s4 * v;
        memcpy(x + i, &v, sizeof v);
    }
#else
    for (int64_t i = 0; i < L; i += 8) {
        float *p = x + i;
        float a0 = p[0] + p[1], a1 = p[0] - p[1], a2 = p[2] + p[3], a3 = p[2] - p[3];
        float a4 = p[4] + p[5], a5 = p[4] - p[5], a6 = p[6] + p[7], a7 = p[6] - p[7];
        float b0 = a0 + a2, b2 = a0 - a2, b1 = a1 + a3, b3 = a1 - a3;
        float b4 = a4 + a6, b6 = a4 - a6, b5 = a5 + a7, b7 = a5 - a7;
        p[0] = b0 + b4; p[4] = b0 - b4; p[1] = b1 + b5; p[5] = b1 - b5;
        p[2] = b2 + b6; p[6] = b2 - b6; p[3] = b3 + b7; p[7] = b3 - b7;
    }
#endif
}

/* one stage: pairs (j, j + h) */
static void radix2(float *restrict x, int64_t L, int64_t h) {
    for (int64_t i = 0; i < L; i += 2 * h) {
        float *restrict a = x + i, *restrict b = x + i + h;
        for (int64_t j = 0; j < h; j++) {
            float p = a[j], q = b[j];
            a[j] = p + q;
            b[j] = p - q;
        }
    }
}

/* two stages at once, h and 2h: one pass over the row instead of two */
static void radix4(float *restrict x, int64_t L, int64_t h) {
    for (int64_t i = 0; i < L; i += 4 * h) {
        float *restrict p0 = x + i, *restrict p1 = p0 + h, *restrict p2 = p1 + h, *restrict p3 = p2 + h;
        for (int64_t j = 0; j < h; j++) {
            float a = p0[j], b = p1[j], c = p2[j], d = p3[j];
            float s1 = a + b, d1 = a - b, s2 = c + d, d2 = c - d;
            p0[j] = s1 + s2;
            p1[j] = d1 + d2;
            p2[j] = s1 - s2;
            p3[j] = d1 - d2;
        }
    }
}

/* the stages from h up to (not including) hend over a row of L */
static void stages(float *restrict x, int64_t L, int64_t h, int64_t hend) {
    while (h < hend) {
        if (4 * h <= hend) {
            radix4(x, L, h);
            h *= 4;
        } else {
            radix2(x, L, h);
            h *= 2;
        }
    }
}

#define SUB 4096 /* floats: the first stages run on sub-rows of 16 KiB, inside the L1 cache */
#define ROW 4096 /* floats per scratch row in the passes: whole blocks when L <= ROW, else one block */

/* the transform of each block of L floats in x[0 .. n), n a multiple of L */
static void fwht_blocks(float *restrict x, int64_t n, int64_t L) {
    int64_t S = L < SUB ? L : SUB;       /* the stages below S run SUB floats at a time (whole blocks) */
    for (int64_t c = 0; c < n; c += SUB) {
        int64_t m = n - c < SUB ? n - c : SUB;
        if (S >= 8) {
            radix8(x + c, m);
            stages(x + c, m, 8, S);
        } else {
            stages(x + c, m, 1, S);
        }
    }
    if (L > S) stages(x, n, S, L);
}

void idim_fwht_rows(float *x, int64_t n, int64_t L, int nthreads) {
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t r = 0; r < n; r++) fwht_blocks(x + r * L, L, L);
}

static float *scratch(int64_t L) {
    return (float *)aligned_alloc(64, (size_t)((L * (int64_t)sizeof(float) + 63) / 64 * 64));
}

/* u repeated to fill a scratch row (L is a power of two) */
static float *tiled(const float *u, int64_t L, int64_t R) {
    float *ut = scratch(R);
    if (ut)
        for (int64_t i = 0; i < R; i++) ut[i] = u[i & (L - 1)];
    return ut;
}

/* The passes walk each piece in rows of R = max(L, ROW) floats, starting at a block boundary: a row holds
   R / L whole blocks (one when L >= ROW), so small blocks (SAID at small d has L = 2, 4, ...) cost no
   per-block overhead. */
int idim_ff_theta(const float *G, const float *u, const float *theta0, float *theta, int64_t L, int64_t npieces,
                  const int64_t *pa, const int64_t *pb, const float *ps, int nthreads) {
    const int64_t R = L > ROW ? L : ROW;
    float *ut = tiled(u, L, R);
    if (!ut) return -1;
    int failed = 0;
#pragma omp parallel num_threads(nthreads) reduction(| : failed)
    {
        float *t = scratch(R);
        if (!t) failed = 1;
#pragma omp for schedule(dynamic, 1)
        for (int64_t p = 0; p < npieces; p++) {
            if (!t) continue;
            const float s = ps[p];
            const int64_t end = (pb[p] + L - 1) / L * L;
            for (int64_t r0 = pa[p] / L * L; r0 < pb[p]; r0 += R) {
                const int64_t r1 = r0 + R < end ? r0 + R : end, n = r1 - r0;
                const float *Gr = G + r0;
                for (int64_t j = 0; j < n; j++) t[j] = Gr[j] * ut[j];
                fwht_blocks(t, n, L);
                const int64_t lo = pa[p] > r0 ? pa[p] : r0, hi = pb[p] < r1 ? pb[p] : r1;
                const float *tb = t - r0;
                for (int64_t i = lo; i < hi; i++) theta[i] = theta0[i] + s * tb[i];
            }
        }
        free(t);
    }
    free(ut);
    return failed ? -1 : 0;
}

/* t[i - base] = g[i] for i in [lo, hi), where g is cut into nparts parts: part k holds g[start[k] ..
   start[k + 1]) at ptr[k] (a null pointer: zeros).  start has nparts + 1 entries, the last one the length. */
static void gather(float *restrict t, int64_t base, int64_t lo, int64_t hi, int64_t nparts, const int64_t *start,
                   const float *const *ptr) {
    int64_t a = 0, b = nparts; /* the part holding lo: start[a] <= lo < start[a + 1] */
    while (b - a > 1) {
        int64_t m = (a + b) / 2;
        if (start[m] <= lo) a = m; else b = m;
    }
    for (int64_t k = a, pos = lo; pos < hi; k++) {
        int64_t e = start[k + 1] < hi ? start[k + 1] : hi;
        if (ptr[k]) memcpy(t + (pos - base), ptr[k] + (pos - start[k]), (size_t)(e - pos) * sizeof(float));
        else memset(t + (pos - base), 0, (size_t)(e - pos) * sizeof(float));
        pos = e;
    }
}

/* acc (L floats, as the caller left it) += ps[p] * v_p for p in order, v_p = sum over the piece's blocks of
   G_blk * H(g_blk) (g zero outside the piece); dots[p] = <v_p, u> in double when u is given.  g comes in
   nparts parts (gather above: the model's per-parameter gradients, read where autograd left them).  partial
   holds `group` rows of L: pieces are done `group` at a time. */
int idim_ff_grad(const float *G, int64_t nparts, const int64_t *start, const float *const *ptr, const float *u,
                 int64_t L, int64_t npieces, const int64_t *pa, const int64_t *pb, const float *ps, float *acc,
                 double *dots, float *partial, int64_t group, int nthreads) {
    const int64_t R = L > ROW ? L : ROW;
    int failed = 0;
    for (int64_t p0 = 0; p0 < npieces && !failed; p0 += group) {
        int64_t p1 = p0 + group < npieces ? p0 + group : npieces;
#pragma omp parallel num_threads(nthreads) reduction(| : failed)
        {
            float *t = scratch(R), *w = scratch(R);
            if (!t || !w) failed = 1;
#pragma omp for schedule(dynamic, 1)
            for (int64_t p = p0; p < p1; p++) {
                if (!t || !w) continue;
                memset(w, 0, (size_t)R * sizeof(float));
                const int64_t end = (pb[p] + L - 1) / L * L;
                for (int64_t r0 = pa[p] / L * L; r0 < pb[p]; r0 += R) {
                    const int64_t r1 = r0 + R < end ? r0 + R : end, n = r1 - r0;
                    const int64_t lo = pa[p] > r0 ? pa[p] : r0, hi = pb[p] < r1 ? pb[p] : r1;
                    if (lo > r0) memset(t, 0, (size_t)(lo - r0) * sizeof(float));
                    if (hi < r1) memset(t + (hi - r0), 0, (size_t)(r1 - hi) * sizeof(float));
                    gather(t, r0, lo, hi, nparts, start, ptr);
                    fwht_blocks(t, n, L);
                    const float *Gr = G + r0;
                    for (int64_t j = 0; j < n; j++) w[j] += Gr[j] * t[j];
                }
                /* the row's blocks summed: v = sum over b of w[b L .. (b + 1) L) */
                float *v = partial + (p - p0) * L;
                memcpy(v, w, (size_t)L * sizeof(float));
                for (int64_t b = L; b < R; b += L)
                    for (int64_t j = 0; j < L; j++) v[j] += w[b + j];
                if (u) {
                    double s = 0.0;
                    for (int64_t j = 0; j < L; j++) s += (double)v[j] * (double)u[j];
                    dots[p] = s;
                }
            }
            free(t);
            free(w);
        }
        if (failed) break;
        /* the partial sums in piece order, whatever thread made them: 1,024 columns at a time */
#pragma omp parallel for num_threads(nthreads) schedule(static)
        for (int64_t j0 = 0; j0 < L; j0 += 1024) {
            int64_t j1 = j0 + 1024 < L ? j0 + 1024 : L;
            for (int64_t p = p0; p < p1; p++) {
                const float s = ps[p], *v = partial + (p - p0) * L;
                for (int64_t j = j0; j < j1; j++) acc[j] += s * v[j];
            }
        }
    }
    return failed ? -1 : 0;
}
