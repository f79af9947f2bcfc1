/*
 * OpenBLAS sgemm: the CPU ceiling the matmul figures are compared with (issue 6).
 *
 * Measures cblas_sgemm (fp32, row-major, no transposes, alpha 1, beta 0) of an M×K matrix by a
 * K×N one, on seeded pseudo-random data in [-1, 1). One untimed warm-up call (thread pool start,
 * page faults), then 5 timed runs of `reps` products each, clock_gettime(CLOCK_MONOTONIC); the
 * median run is reported. OpenBLAS uses its default thread count (OPENBLAS_NUM_THREADS, else one
 * thread per core). A few output entries are checked against a float64 dot product.
 *
 * Build: gcc -O2 -o out/bench/openblas_sgemm bench/openblas_sgemm.c -lopenblas
 *        (Debian/Ubuntu: apt-get install libopenblas-dev; bench/openblas.ts builds it for you)
 * Run:   out/bench/openblas_sgemm M K N reps
 * Prints one line of JSON:
 *   {"m":..,"k":..,"n":..,"reps":..,"seconds":..,"gflops":..,"threads":..,"config":".."}
 * where seconds is the median time of one run (reps products) and gflops = 2·M·N·K·reps / seconds.
 */
#define _POSIX_C_SOURCE 199309L
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* In OpenBLAS's cblas.h, but not in every cblas.h (netlib's): declared here too. */
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);

#define RUNS 5

/* A deterministic pseudo-random float in [-1, 1) (xorshift32). */
static float next_float(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return (float)((*s >> 8) * (1.0 / 16777216.0) * 2.0 - 1.0);
}

static float *random_matrix(long count, uint32_t seed) {
  float *x = malloc((size_t)count * sizeof(float));
  if (!x) return NULL;
  uint32_t s = seed;
  for (long i = 0; i < count; i++) x[i] = next_float(&s);
  return x;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static long parse_positive(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  return (*end == '\0' && v > 0) ? v : -1;
}

static void sgemm(long m, long k, long n, const float *a, const float *b, float *c) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a, (int)k,
              b, (int)n, 0.0f, c, (int)n);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s M K N reps\n", argv[0]);
    return 2;
  }
  long m = parse_positive(argv[1]), k = parse_positive(argv[2]), n = parse_positive(argv[3]);
  long reps = parse_positive(argv[4]);
  if (m < 0 || k < 0 || n < 0 || reps < 0) {
    fprintf(stderr, "M, K, N and reps must be positive integers\n");
    return 2;
  }
  float *a = random_matrix(m * k, 1), *b = random_matrix(k * n, 2);
  float *c = malloc((size_t)(m * n) * sizeof(float));
  if (!a || !b || !c) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }

  sgemm(m, k, n, a, b, c); /* warm-up, untimed */

  /* Check a few entries (corners and middle) against a float64 dot product. */
  long rows[3] = {0, m / 2, m - 1}, cols[3] = {0, n / 2, n - 1};
  for (int i = 0; i < 3; i++) {
    for (int j = 0; j < 3; j++) {
      double want = 0, scale = 0;
      for (long p = 0; p < k; p++) {
        double t = (double)a[rows[i] * k + p] * (double)b[p * n + cols[j]];
        want += t;
        scale += fabs(t);
      }
      double got = c[rows[i] * n + cols[j]];
      if (fabs(got - want) > 1e-4 * scale + 1e-6) {
        fprintf(stderr, "wrong result at (%ld, %ld): %g, expected %g\n", rows[i], cols[j], got,
                want);
        return 1;
      }
    }
  }

  double times[RUNS];
  for (int r = 0; r < RUNS; r++) {
    double t0 = now();
    for (long i = 0; i < reps; i++) sgemm(m, k, n, a, b, c);
    times[r] = now() - t0;
  }
  qsort(times, RUNS, sizeof(double), compare_double);
  double seconds = times[RUNS / 2];
  double gflops = 2.0 * (double)m * (double)n * (double)k * (double)reps / seconds / 1e9;

  /* The config string is plain ASCII without quotes (e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ..."). */
  const char *config = openblas_get_config();
  printf("{\"m\":%ld,\"k\":%ld,\"n\":%ld,\"reps\":%ld,\"seconds\":%.9g,\"gflops\":%.6g,"
         "\"threads\":%d,\"config\":\"",
         m, k, n, reps, seconds, gflops, openblas_get_num_threads());
  for (const char *p = config ? config : ""; *p; p++) {
    if (*p == '"' || *p == '\\') putchar('\\');
    if ((unsigned char)*p >= 0x20) putchar(*p);
  }
  printf("\"}\n");
  free(a);
  free(b);
  free(c);
  return 0;
}
