#!/bin/bash
# The PDQ near-match index at 1 M and 10 M random hashes (bench/pdq_index.c):
# import rate, size on disk, p50/p99 of a full 8-variant query at distance
# 31, against brute force in the same run.  Needs ~8 GB of disk at 10 M.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
make -s "$BUILD/bench/pdq_index"
dir=$(mktemp -d /var/tmp/pdq-index.XXXXXX)
trap 'rm -rf "$dir"' EXIT
for n in ${PDQ_SIZES:-1000000 10000000}; do
    echo "== $n hashes"
    "$BUILD/bench/pdq_index" "$dir/$n" "$n" "${PDQ_QUERIES:-2000}"
    rm -rf "${dir:?}/$n"
done
