#!/bin/bash
# The PDQ near-match index at 1 M and 10 M random hashes (bench/pdq_index.c):
# import rate, size on disk, p50/p99 of a full 8-variant query at distance
# 31, against brute force, and on the same hashes and queries faiss's
# IndexBinaryMultiHash (Debian's python3-faiss, what Meta's HMA uses) and
# the reference's MIH256 (facebook/ThreatExchange pdq/cpp/index/mih.h,
# from REF_SRC or the mirror), all in the same run.  Needs ~3 GB of disk
# and ~4 GB of memory at 10 M; at 50 M (PDQ_SIZES=50000000) 11 GB of disk
# and 17 GB of memory for faiss.  PDQ_SIZES, PDQ_QUERIES, FAISS_QUERIES
# and MIH_QUERIES (the others are slow: fewer queries) choose the run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
make -s "$BUILD/bench/pdq_index"
dir=$(mktemp -d /var/tmp/pdq-index.XXXXXX)
trap 'rm -rf "$dir"' EXIT

# the reference's index, built from its source (not part of the project)
ref=${REF_SRC:-}
mirror=/work/.mirror/facebook+ThreatExchange/repo
if [ -z "$ref" ] && [ -d "$mirror" ]; then
    ref=$dir/ref
    mkdir -p "$ref"
    git --git-dir="$mirror" archive HEAD pdq/cpp/common pdq/cpp/index \
        2>/dev/null | tar -x -C "$ref" || true
fi
mih=
if [ -n "$ref" ] && [ -f "$ref/pdq/cpp/index/mih.h" ]; then
    mih=$dir/pdq_index_mih
    g++ -O2 -std=c++14 -I"$ref" -o "$mih" bench/pdq_index_mih.cpp \
        "$ref/pdq/cpp/common/pdqhashtypes.cpp" \
        "$ref/pdq/cpp/common/pdqhamming.cpp"
else
    echo "(no reference source: REF_SRC=path/to/ThreatExchange; MIH skipped)"
fi
faiss=
if /usr/bin/python3 -c 'import faiss' 2>/dev/null; then
    faiss=1
else
    echo "(no python3-faiss: apt-get install python3-faiss; faiss skipped)"
fi

for n in ${PDQ_SIZES:-1000000 10000000}; do
    echo "== $n hashes"
    mkdir -p "$dir/x"
    PDQ_EXPORT=$dir/x "$BUILD/bench/pdq_index" "$dir/$n" "$n" \
        "${PDQ_QUERIES:-2000}"
    rm -rf "${dir:?}/$n"
    if [ -n "$faiss" ]; then
        /usr/bin/python3 bench/pdq_index_faiss.py "$dir/x" \
            "${FAISS_QUERIES:-${PDQ_QUERIES:-2000}}"
    fi
    if [ -n "$mih" ]; then
        "$mih" "$dir/x" "${MIH_QUERIES:-200}"
    fi
    rm -rf "${dir:?}/x"
done
