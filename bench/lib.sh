# What the benchmark scripts share: a scratch directory cleaned up on exit,
# nginx configurations, random hash lists.  Sourced; expects $top, $build.

work=$(mktemp -d /tmp/uf-bench-XXXXXX)
trap 'for p in "$work"/*.pid; do [ -f "$p" ] && kill -QUIT "$(cat "$p")" 2>/dev/null; done; sleep 0.5; rm -rf "$work"' EXIT

port_front=${PORT_FRONT:-18080}
port_back=${PORT_BACK:-18081}

user_line=
[ "$(id -u)" = 0 ] && user_line="user root;"

conf() {   # $1: name, $2: port, $3: extra server directives
    mkdir -p "$work/$1"
    cat > "$work/$1/nginx.conf" <<CONF
load_module $build/ngx_http_upload_filter_module.so;
$user_line
worker_processes 1;
error_log $work/$1/error.log warn;
pid $work/$1.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_max_body_size 20m;
    client_body_buffer_size 128k;
    client_body_temp_path $work/$1/body;
    proxy_temp_path $work/$1/proxy;
    upload_filter_db $work/hashset;
    upstream backend { server 127.0.0.1:$port_back; keepalive 16; }
    server {
        listen 127.0.0.1:$2;
        $3
    }
}
CONF
}

worker_cpu() {  # utime + stime of an nginx's first worker, in clock ticks
    local pid
    pid=$(pgrep -P "$(cat "$work/$1.pid")" | head -1)
    awk '{ print $14 + $15 }' "/proc/$pid/stat"
}

random_list() {  # $1: how many random SHA-256 digests, one per line
    perl -e 'open my $r, "<", "/dev/urandom" or die; my $n = $ARGV[0];
             while ($n > 0) { my $k = $n > 65536 ? 65536 : $n;
                 read $r, my $b, 32 * $k;
                 print map { unpack("H64", substr $b, 32 * $_, 32) . "\n" } 0 .. $k - 1;
                 $n -= $k }' "$1"
}

wrk_summary() {  # wrk --latency output -> "rps p99_ms requests max_ms"
    awk 'function ms(v) { if (v ~ /us$/) { sub(/us/, "", v); return v / 1000 }
                          if (v ~ /ms$/) { sub(/ms/, "", v); return v + 0 }
                          if (v ~ /s$/) { sub(/s/, "", v); return v * 1000 }
                          return v }
         /Requests\/sec/ { rps = $2 }
         /requests in/ { n = $1 }
         /^ *Latency / && $2 ~ /^[0-9]/ { max = ms($4) }
         / 99% / { p99 = ms($2) }
         END { printf "%s %s %s %s\n", rps, p99, n, max }'
}
