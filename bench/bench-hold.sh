#!/bin/bash
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# make bench-hold: oxmigrate_hold under load (issue 20).  One nginx worker
# holds 10 000 logins of one context in maintenance; then the context is
# enabled on the new server (plain SQL, the change log tells the balancer)
# and all of them are released together.  Measures:
#
#   - the worker's memory (VmRSS) before and while they are held, per
#     held request (the connection, the request and the hold together);
#   - the event loop while they are released: a probe asks a `return 204`
#     location of the same worker every millisecond on a keepalive
#     connection, its longest wait is the longest stall;
#   - how long the release takes (the enable to the last answer) and that
#     every held login got the redirect;
#   - wrk's shm-hit logins of other contexts with nothing held, and while
#     the 10 000 are held (>= 0.9x).
#
#   bench/bench-hold.sh MODULE_SO      (BENCH_HELD=10000 BENCH_SECONDS=5)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init bench-hold "$1"
held=${BENCH_HELD:-10000}
secs=${BENCH_SECONDS:-5}
ulimit -n "$(ulimit -Hn)"

p_hold=$(free_port); p_metrics=$(free_port)

echo "bench-hold: starting MariaDB, Redis and nginx in $tmp"
bench_mariadb 127.0.0.1 --innodb-buffer-pool-size=64M --max-connections=200

sql -e 'CREATE DATABASE configdb'
sql configdb <"$root/sql/configdb.sql"
sql configdb <"$root/sql/changelog.sql"
sql configdb <<'EOF'
INSERT INTO server (server_id, name, uuid) VALUES
    (2, 'oxserver-old', UNHEX(REPLACE(UUID(), '-', ''))),
    (8, 'oxserver-xyz', UNHEX(REPLACE(UUID(), '-', '')));
INSERT INTO context (cid, name, enabled)
    SELECT seq, CONCAT('bench', seq), 1 FROM seq_1_to_1000;
INSERT INTO login2context (cid, login_info)
    SELECT seq, CONCAT('ctx', seq, '.example.com') FROM seq_1_to_1000;
INSERT INTO context_server2db_pool
    (server_id, cid, read_db_pool_id, write_db_pool_id, db_schema)
    SELECT 8, seq, 3, 3, CONCAT('oxdatabase_', seq DIV 100)
    FROM seq_1_to_1000;
-- the held context: in maintenance, still on the old server
UPDATE context SET enabled = 0, reason_id = 1431655765 WHERE cid = 1;
UPDATE context_server2db_pool SET server_id = 2 WHERE cid = 1;
EOF

bench_redis
mkdir -p "$tmp/logs"

cat >"$tmp/nginx.conf" <<EOF
load_module $module;
worker_processes 1;
worker_rlimit_nofile 30000;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log info;
events { worker_connections 25000; }
http {
    access_log off;
    client_body_temp_path $tmp/body;
    oxmigrate_db host=127.0.0.1 port=$db_port user=root password=
                 database=configdb pool=8;
    oxmigrate_redis host=127.0.0.1 port=$redis_port;
    oxmigrate_cache zone=oxm:8m ttl=60s;

    server {
        listen 127.0.0.1:$p_hold backlog=4096;
        location /appsuite/api/login {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url https://xyz.example.com/appsuite/;
            oxmigrate_redirect_json off;
            oxmigrate_hold 120s max=20000 per_context=20000;
        }
        location = /probe { return 204; }
    }
    server {
        listen 127.0.0.1:$p_metrics;
        location = /metrics { oxmigrate_metrics; }
    }
}
EOF

/usr/sbin/nginx -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/logs/error.log"
sleep 1
worker=$(pgrep -P "$(cat "$tmp/nginx.pid")" | head -1)

cat >"$tmp/post.lua" <<'EOF'
local n = 1
request = function()
    n = n % 999 + 2
    return wrk.format("POST", nil,
        { ["Content-Type"] = "application/x-www-form-urlencoded" },
        "name=alice%40ctx" .. n .. ".example.com&password=secret")
end
EOF

wrk_rps() {
    wrk -t1 -c32 -d"${secs}s" -s "$tmp/post.lua" \
        "http://127.0.0.1:$p_hold/appsuite/api/login?action=formlogin" \
        | awk '/Requests\/sec/ { print $2 }'
}

# warm the cache of the other contexts
wrk -t1 -c8 -d2s -s "$tmp/post.lua" \
    "http://127.0.0.1:$p_hold/appsuite/api/login?action=formlogin" >/dev/null

base=$(wrk_rps)
rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$worker/status")

python3 - "$p_hold" "$p_metrics" "$held" "$worker" "$tmp" "$rss0" "$secs" \
    "$base" <<'PY'
import os, selectors, socket, subprocess, sys, threading, time

port, mport, n, worker, tmp, rss0, secs = (int(sys.argv[1]), int(sys.argv[2]),
    int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7])
base = float(sys.argv[8])

body = b"login=bob%40ctx1.example.com&password=secret"
req = (b"POST /appsuite/api/login?action=formlogin HTTP/1.1\r\n"
       b"Host: bench\r\nConnection: close\r\n"
       b"Content-Type: application/x-www-form-urlencoded\r\n"
       b"Content-Length: %d\r\n\r\n" % len(body)) + body

def metric(name):
    s = socket.create_connection(("127.0.0.1", mport))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    for line in data.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return -1

def rss():
    for line in open("/proc/%s/status" % worker):
        if line.startswith("VmRSS"):
            return int(line.split()[1])

socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    s.setblocking(False)
    socks.append(s)

t = time.time()
while metric("oxmigrate_held_requests") < n and time.time() - t < 60:
    time.sleep(0.2)
h = metric("oxmigrate_held_requests")
rss1 = rss()
print("held:                  %d (gauge %d)" % (n, h))
print("worker RSS:            %d kB before, %d kB held: %.1f MB, %.2f kB "
      "per held request (connection + request + hold)"
      % (rss0, rss1, (rss1 - rss0) / 1024.0, (rss1 - rss0) / float(n)))

def wrk():
    return subprocess.Popen(["wrk", "-t1", "-c32", "-d%ss" % secs, "-s",
                             tmp + "/post.lua",
                             "http://127.0.0.1:%d/appsuite/api/login"
                             "?action=formlogin" % port],
                            stdout=subprocess.PIPE, text=True)

def rps(p):
    out = p.communicate()[0]
    return float([l.split()[1] for l in out.splitlines()
                  if "Requests/sec" in l][0])

held_rps = rps(wrk())

# the probe: one request per ms on a keepalive connection
stop = False
worst = [0.0]
def probe():
    p = None
    while not stop:
        if p is None:
            # nginx closes a keepalive connection after keepalive_requests
            # (1000): a new one, outside the measured time
            p = socket.create_connection(("127.0.0.1", port))
        t0 = time.time()
        got = b""
        try:
            p.sendall(b"GET /probe HTTP/1.1\r\nHost: p\r\n\r\n")
            while b"\r\n\r\n" not in got:
                d = p.recv(4096)
                if not d:
                    break
                got += d
        except OSError:
            pass
        if b"\r\n\r\n" not in got:
            p.close()
            p = None
            continue
        dt = time.time() - t0
        if dt > worst[0]:
            worst[0] = dt
        time.sleep(0.001)
th = threading.Thread(target=probe)
th.start()
time.sleep(0.5)
before = worst[0]
worst[0] = 0.0

# the release, with wrk running: the enable on the new server, by plain SQL
if os.environ.get("BENCH_PERF") == "1":
    subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-g", "-o",
                      tmp + "/perf.data", "-p", worker, "--", "sleep", "5"])
w = wrk()
time.sleep(0.5)
t0 = time.time()
subprocess.run(["mariadb", "--no-defaults", "-S", tmp + "/db.sock", "-uroot",
                "configdb", "-e",
                "UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 1;"
                " UPDATE context SET enabled = 1, reason_id = NULL"
                " WHERE cid = 1"], check=True)

sel = selectors.DefaultSelector()
for s in socks:
    sel.register(s, selectors.EVENT_READ, [b""])
left, ok, first = n, 0, None
while left and time.time() - t0 < 60:
    for key, _ in sel.select(1):
        d = key.fileobj.recv(4096)
        if first is None:
            first = time.time()
        if d:
            key.data[0] += d
            continue
        if key.data[0].startswith(b"HTTP/1.1 302") and \
           b"Location: https://xyz.example.com/appsuite/" in key.data[0]:
            ok += 1
        sel.unregister(key.fileobj)
        key.fileobj.close()
        left -= 1
last = time.time()
time.sleep(0.2)
stop = True
th.join()
rel_rps = rps(w)
print("shm-hit logins (wrk):  %.0f/s with nothing held; %.0f/s with %d held "
      "(%.2fx); %.0f/s during a %ss run with the release in it (%.2fx)"
      % (base, held_rps, n, held_rps / base, rel_rps, secs, rel_rps / base))
print("release:               enable -> first answer %.0f ms, -> last %.0f ms;"
      " %d of %d got the 302 to the new cluster"
      % ((first - t0) * 1000, (last - t0) * 1000, ok, n))
print("probe (return 204):    longest wait %.1f ms during the release "
      "(%.1f ms before it; client and scheduler included)"
      % (worst[0] * 1000, before * 1000))
print("worker RSS after:      %d kB" % rss())
PY
if [ "${BENCH_PERF:-0}" = 1 ]; then
    sleep 1
    mkdir -p "$root/build/bench-perf"
    perf report -q -i "$tmp/perf.data" --stdio --no-children \
        --sort dso,symbol -g none \
        2>/dev/null | head -40 >"$root/build/bench-perf/hold.txt" || true
    echo "perf: build/bench-perf/hold.txt"
fi
echo "longest slice of releases, the worker's CPU time (error.log):"
grep -o 'oxmigrate: [0-9]* held requests answered in [0-9]* us' \
    "$tmp/logs/error.log" | tail -1
