#!/bin/sh
# Fetches the day's signed list of one source and applies it as a full sync.
# Run by upload-filter-sync.service; every setting comes from its
# environment file (/etc/upload-filter/sync.env):
#
#   HASHSET=/var/lib/upload-filter/hashset
#   SOURCE=police-nl
#   LIST_URL=https://lists.example.org/police-nl/full.txt
#   FORMAT=auto
#
# The publisher's public key must be trusted once, by hand:
#   hashdb trust /var/lib/upload-filter/hashset --source police-nl key.pem
set -eu

work=$(mktemp -d /var/tmp/upload-filter-sync.XXXXXX)
trap 'rm -rf "$work"' EXIT

curl --fail --silent --show-error --max-time 600 -o "$work/list" "$LIST_URL"
curl --fail --silent --show-error --max-time 60 -o "$work/list.sig" "$LIST_URL.sig"

# refuses (exit 2, nothing applied) a bad signature, an older list or a
# bad line; nginx keeps serving the previous set in every case
exec hashdb sync "$HASHSET" --source "$SOURCE" --format "${FORMAT:-auto}" \
    --sig "$work/list.sig" "$work/list"
