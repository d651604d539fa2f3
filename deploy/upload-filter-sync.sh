#!/bin/sh
# Brings one source up to date: from a feed (FEED_URL: hashdb pull, the
# day's delta or the full list), or by fetching the day's signed list
# (LIST_URL) and applying it as a full sync; then, if asked, checks what
# is already stored against the new set.
#
#   upload-filter-sync [NAME]
#
# Run by upload-filter-sync@NAME.service (installed as
# /usr/libexec/upload-filter/upload-filter-sync), whose environment file
# /etc/upload-filter/sources/NAME.conf gives the settings:
#
#   FEED_URL=https://feeds.example.org/police-nl/   a feed (hashdb publish)
#   JITTER=600               hashdb pull --jitter: seconds, at most, to
#                            wait first (the timer spreads an hour too)
# or
#   LIST_URL=https://lists.example.org/police-nl/full.txt   a signed list
#   SOURCE=police-nl         the source in the hash set (default: NAME)
#   HASHSET=/var/lib/upload-filter/hashset                   (the default)
#   FORMAT=auto
#   ALLOW_SHRINK=            "yes": accept a list under half of the source
#                            (refused by default: a truncated download or a
#                            publisher's mistake; see hashdb sync)
#   SHADOW=                  "yes": a shadow update: what it adds is only
#                            logged (action=shadow) until "hashdb promote
#                            --source NAME"; what it removes goes at once
#
# and, optionally, after a successful sync:
#
#   REPORT_DIR=/var/lib/upload-filter/reports
#   SCAN_PATHS="/srv/uploads /srv/media"    hashdb scan --cache of these
#   SCAN_CACHE=/var/lib/upload-filter/scan.cache
#   RESCAN_LOGS="/var/log/nginx/uploads.log /var/log/nginx/uploads.log.*.gz"
#                                           hashdb rescan of these logs
#
# Each writes REPORT_DIR/scan-DATE.json or rescan-DATE.json (one JSON
# object per listed file or upload).  The job exits 1 when something
# stored is now listed (wire the unit's OnFailure= to your alerting), 2
# when the sync or a scan failed, 0 otherwise.
#
# The publisher's public key must be trusted once, by hand:
#   hashdb trust /var/lib/upload-filter/hashset --source police-nl key.pem
set -eu

SOURCE=${SOURCE:-${1:-}}
HASHSET=${HASHSET:-/var/lib/upload-filter/hashset}
REPORT_DIR=${REPORT_DIR:-/var/lib/upload-filter/reports}

fail() {
    echo "upload-filter-sync: $*" >&2
    exit 2
}
[ -n "$SOURCE" ] || fail "no source: give its name, or SOURCE="
[ -n "${FEED_URL:-}" ] || [ -n "${LIST_URL:-}" ] || \
    fail "$SOURCE: neither FEED_URL nor LIST_URL is set" \
         "(in /etc/upload-filter/sources/$SOURCE.conf)"

# refuses (exit 2, nothing applied) a bad signature, an older list, a bad
# line or a list that would empty the source; nginx keeps serving the
# previous set in every case
shrink=
[ "${ALLOW_SHRINK:-}" = yes ] && shrink=--allow-shrink
shadow=
[ "${SHADOW:-}" = yes ] && shadow=--shadow

if [ -n "${FEED_URL:-}" ]; then
    hashdb pull "$HASHSET" --source "$SOURCE" --jitter "${JITTER:-0}" \
        $shrink $shadow "$FEED_URL"
else
    work=$(mktemp -d /var/tmp/upload-filter-sync.XXXXXX)
    trap 'rm -rf "$work"' EXIT

    curl --fail --silent --show-error --max-time 600 -o "$work/list" "$LIST_URL"
    curl --fail --silent --show-error --max-time 60 -o "$work/list.sig" "$LIST_URL.sig"

    hashdb sync "$HASHSET" --source "$SOURCE" --format "${FORMAT:-auto}" \
        $shrink $shadow --sig "$work/list.sig" "$work/list"
fi

status=0
day=$(date -u +%Y-%m-%dT%H%M%SZ)

after() {   # name, command...: the report, and the worst exit status
    name=$1
    shift
    mkdir -p "$REPORT_DIR"
    rc=0
    "$@" > "$REPORT_DIR/$name-$day.json" || rc=$?
    if [ "$rc" -eq 1 ]; then
        echo "upload-filter-sync: $name: $(wc -l < "$REPORT_DIR/$name-$day.json")" \
             "listed, see $REPORT_DIR/$name-$day.json" >&2
    fi
    if [ "$rc" -gt "$status" ]; then status=$rc; fi
}

if [ -n "${SCAN_PATHS:-}" ]; then
    # shellcheck disable=SC2086
    after scan hashdb scan --json --no-progress \
        --cache "${SCAN_CACHE:-/var/lib/upload-filter/scan.cache}" \
        "$HASHSET" $SCAN_PATHS
fi

if [ -n "${RESCAN_LOGS:-}" ]; then
    # shellcheck disable=SC2086
    after rescan hashdb rescan --json "$HASHSET" $RESCAN_LOGS
fi

exit "$status"
