#!/bin/bash
# nginx's own test suite (nginx-tests, a checkout of the 1.22 era: the
# last commit before 2022-11-15 works with Debian's nginx 1.22.1) run
# twice, without and with the module loaded and "upload_filter on" in
# every http block, and the tests whose results differ printed.  What
# differs is what the filter changes in nginx's behaviour.
#
#   bench/nginx_tests.sh /path/to/nginx-tests [TEST.t ...]
#
# Needs Debian's dynamic nginx modules that the tests load
# (libnginx-mod-*).  Loopback only, as nginx-tests is.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
tests_dir=${1:?usage: $0 /path/to/nginx-tests [TEST.t ...]}
shift
cd "$tests_dir"
if [ $# -eq 0 ]; then
    set -- body*.t proxy*.t fastcgi*.t uwsgi*.t scgi*.t grpc*.t h2*.t \
           dav*.t mirror*.t auth_request*.t empty_gif.t stub_status.t \
           limit_req*.t limit_conn*.t request_id.t
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# a hash set the workers (nobody) can read, listing one stand-in
"$top/build/hashdb" init "$work/hashset" >/dev/null
printf 'standin' | sha256sum | cut -d' ' -f1 \
    | "$top/build/hashdb" import "$work/hashset" --source t --unsigned - >/dev/null
chmod 755 "$work"; chmod 777 "$work/hashset"; chmod 666 "$work/hashset"/*

export TEST_NGINX_BINARY=${TEST_NGINX_BINARY:-/usr/sbin/nginx}
export TEST_NGINX_MODULES=${TEST_NGINX_MODULES:-/usr/lib/nginx/modules}

run() {  # $1: label; env_args and tests set by the caller
    local t res
    for t in "${tests[@]}"; do
        # a test that hangs (some h2 ones of that era do) counts as such
        res=$(env "${env_args[@]}" timeout 120 prove "$t" 2>&1 \
              | awk '/Failed tests?:/ { $1 = ""; f = f $0 }
                     /^Result:/ { r = $2 }
                     / skipped: / { s = 1 }
                     END { if (r == "PASS") print s ? "skipped" : "ok";
                           else if (r) print "FAIL" f; else print "timeout" }' \
              || true)
        # what a killed test left running
        pkill -f 'nginx: master process .*/nginx-test-' 2>/dev/null || true
        echo "$t $res"
    done > "$work/$1"
}

# as root, workers run as root too: as nobody they cannot use the test
# directories, and most tests would fail with or without the module
user=
[ "$(id -u)" = 0 ] && user='user root;'

tests=("$@")
env_args=(${user:+"TEST_NGINX_GLOBALS=$user"})
run without
env_args=("TEST_NGINX_GLOBALS=$user load_module $top/build/ngx_http_upload_filter_module.so;"
          "TEST_NGINX_GLOBALS_HTTP=upload_filter_db $work/hashset; upload_filter on;")
run with

echo "# nginx-tests: ${#tests[@]} files, without and with the upload filter"
echo "# without: $(awk '{ print $2 }' "$work/without" | sort | uniq -c | xargs)"
echo "# with:    $(awk '{ print $2 }' "$work/with" | sort | uniq -c | xargs)"
paste -d'|' "$work/without" "$work/with" \
    | awk -F'|' '$1 != $2 { n++; print $1 "  ->  " $2 } END { if (!n) print "no difference" }'
