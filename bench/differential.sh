#!/bin/bash
# The parser differential (t/48-parser-differential.t) at length: SEEDS
# runs of VARIANTS combinations and mutations each, on top of the framing
# classes, every variant to every parser with the filter off and on.
# Prints each run's summary; fails if any listed file got through.
#
#   bench/differential.sh            # SEEDS=10 VARIANTS=1000
#   SEEDS=3 VARIANTS=5000 bench/differential.sh
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
seeds=${SEEDS:-10}
random=${VARIANTS:-1000}

echo "# parser differential, $(date -u +%Y-%m-%dT%H:%MZ): $seeds seeds x $random random variants"
status=0
for seed in $(seq 1 "$seeds"); do
    out=$(UF_DIFF_RANDOM=$random UF_DIFF_SEED=$seed UF_DIFF_REPORT=1 \
          prove -v t/48-parser-differential.t 2>&1) || status=1
    echo "seed $seed: $(echo "$out" | grep '^# differential:' | sed 's/^# differential: //')"
    echo "$out" | grep '^not ok' || true
done
exit $status
