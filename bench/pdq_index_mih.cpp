/*
 * The reference's multi-index (facebook/ThreatExchange pdq/cpp/index/
 * mih.h, MIH256) on the hashes and queries bench/pdq_index wrote
 * (PDQ_EXPORT): the same 8-variant queries at distance 31, timed as one
 * query per upload.  Built by bench/pdq_index.sh against the reference's
 * source; not part of the project.
 *
 *   pdq_index_mih DIR [QUERIES]
 */

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <sys/resource.h>

#include <pdq/cpp/index/mih.h>

using facebook::pdq::hashing::Hash256;

static std::vector<unsigned char>
slurp(const char *path)
{
    std::vector<unsigned char>  buf;
    FILE                       *f = fopen(path, "rb");

    if (f == NULL) {
        perror(path);
        exit(2);
    }

    unsigned char  tmp[1 << 16];
    size_t         n;

    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
        buf.insert(buf.end(), tmp, tmp + n);
    }

    fclose(f);
    return buf;
}

static Hash256
to_hash(const unsigned char *p)
{
    Hash256  h;

    memcpy(h.w, p, 32);
    return h;
}

int
main(int argc, char **argv)
{
    char  path[4096];

    if (argc < 2) {
        fprintf(stderr, "usage: pdq_index_mih DIR [QUERIES]\n");
        return 2;
    }

    snprintf(path, sizeof(path), "%s/hashes.bin", argv[1]);
    std::vector<unsigned char>  hashes = slurp(path);
    snprintf(path, sizeof(path), "%s/queries.bin", argv[1]);
    std::vector<unsigned char>  queries = slurp(path);

    size_t  n = hashes.size() / 32;
    size_t  nq = queries.size() / (8 * 32 + 1);

    if (argc > 2 && (size_t) atoi(argv[2]) < nq) {
        nq = (size_t) atoi(argv[2]);
    }

    facebook::pdq::index::MIH256<int>  mih;

    auto  t0 = std::chrono::steady_clock::now();

    for (size_t i = 0; i < n; i++) {
        mih.insert(to_hash(&hashes[i * 32]), (int) i);
    }

    double  build = std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - t0).count();

    std::vector<double>  times;
    int                  wrong = 0;

    for (size_t q = 0; q < nq; q++) {
        const unsigned char  *rec = &queries[q * (8 * 32 + 1)];
        int                   best = 32;

        auto  s = std::chrono::steady_clock::now();

        for (int k = 0; k < 8; k++) {
            Hash256  needle = to_hash(rec + 1 + k * 32);
            std::vector<std::pair<Hash256, int>>  matches;

            mih.queryAll(needle, 31, matches);

            for (auto &m : matches) {
                best = std::min(best, m.first.hammingDistance(needle));
            }
        }

        times.push_back(std::chrono::duration<double, std::milli>(
                            std::chrono::steady_clock::now() - s).count());

        wrong += rec[0] ? best > 31 : best <= 31;
    }

    std::sort(times.begin(), times.end());

    struct rusage  ru;
    getrusage(RUSAGE_SELF, &ru);

    printf("reference MIH     %zu hashes, build %.1f s, peak RSS %.0f MiB "
           "(%.0f bytes per hash)\n", n, build, ru.ru_maxrss / 1024.0,
           ru.ru_maxrss * 1024.0 / n);
    printf("8-variant query   p50 %.3f ms  p99 %.3f ms  max %.3f ms "
           "(%zu queries)\n", times[nq / 2], times[nq * 99 / 100],
           times[nq - 1], nq);
    printf("wrong answers     %d\n", wrong);

    return wrong ? 1 : 0;
}
