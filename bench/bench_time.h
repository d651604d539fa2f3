/*
 * What the C benchmarks share: this thread's CPU time, wall-clock time
 * (a decoding library may use threads of its own: what the budget
 * sees), and the median of a run's samples (sorted in place).
 */

#ifndef BENCH_TIME_H
#define BENCH_TIME_H

#include <stdlib.h>
#include <time.h>

static inline double
bench_ms(clockid_t clock)
{
    struct timespec  ts;

    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

#define bench_cpu_ms()   bench_ms(CLOCK_THREAD_CPUTIME_ID)
#define bench_wall_ms()  bench_ms(CLOCK_MONOTONIC)

static inline int
bench_cmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

static inline double
bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof(double), bench_cmp);
    return v[n / 2];
}

#endif /* BENCH_TIME_H */
