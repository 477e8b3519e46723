#!/bin/bash
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# make bench-hold, second case (issue 20's numbers): users who never see
# the upgrade.  A job over 50 schemas (SQL path, parallel 10 on 10
# database hosts) whose maintenance windows last 2-10 s (the one update
# task sleeps 2 + CRC32(schema) MOD 9 seconds), while logins of those
# schemas arrive throughout on both balancers (one nginx, 2 workers: the
# primary's server block with oxmigrate_redirect_url, the secondary's
# without; both oxmigrate_hold 20s).  Counts:
#
#   - CTX-0007 answers (the goal: none);
#   - held logins, and the longest time one was held beyond its schema's
#     window (the job view's downtime_ms): the goal is < 1 s;
#   - wrong decisions: on the primary a context of a moved schema must get
#     LGI-0016 to the new cluster and an unmoved one must pass, on the
#     secondary the reverse (pass / CTX-0012).
#
#   bench/bench-hold-job.sh MODULE_SO   (BENCH_SCHEMAS=50 BENCH_PARALLEL=10
#                                        BENCH_CLIENTS=40)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init bench-hold-job "$1"
nschemas=${BENCH_SCHEMAS:-50}
parallel=${BENCH_PARALLEL:-10}
clients=${BENCH_CLIENTS:-40}
nctx=2
nhosts=$parallel
binds=$(seq -s, -f '127.0.0.%g' 1 "$nhosts")
p_primary=$(free_port); p_secondary=$(free_port); p_backend=$(free_port)
p_api=$(free_port)

echo "bench-hold-job: MariaDB, Redis, nginx in $tmp"
bench_mariadb "$binds" --innodb-buffer-pool-size=64M \
    --innodb-flush-log-at-trx-commit=2 --max-connections=300
bench_redis

sql -e 'CREATE DATABASE configdb'
sql configdb <"$root/sql/configdb.sql"
sql configdb <"$root/sql/oxmigrate.sql"
sql configdb <"$root/sql/changelog.sql"
sql configdb <<EOF
INSERT INTO server (server_id, name, uuid) VALUES
    (2, 'oxserver-old', UNHEX(REPLACE(UUID(), '-', ''))),
    (8, 'oxserver-xyz', UNHEX(REPLACE(UUID(), '-', '')));
INSERT INTO db_pool SELECT 2 + seq,
    CONCAT('jdbc:mysql://127.0.0.', seq, ':$db_port/'),
    'com.mysql.jdbc.Driver', 'root', '', 0, 100, 0, CONCAT('oxdb', seq)
    FROM seq_1_to_$nhosts;
INSERT INTO context (cid, name, enabled)
    SELECT seq, CONCAT('ctx', seq), 1 FROM seq_1_to_$((nschemas * nctx));
INSERT INTO login2context (cid, login_info)
    SELECT seq, CONCAT('ctx', seq, '.example.com')
    FROM seq_1_to_$((nschemas * nctx));
INSERT INTO context_server2db_pool
    (server_id, cid, read_db_pool_id, write_db_pool_id, db_schema)
    SELECT 2, seq, 3 + ((seq - 1) DIV $nctx) MOD $nhosts,
    3 + ((seq - 1) DIV $nctx) MOD $nhosts,
    CONCAT('hj_', (seq - 1) DIV $nctx + 1)
    FROM seq_1_to_$((nschemas * nctx));
INSERT INTO contexts_per_dbschema
    SELECT 3 + (seq - 1) MOD $nhosts, CONCAT('hj_', seq), $nctx, 0
    FROM seq_1_to_$nschemas;
EOF
for i in $(seq 1 "$nschemas"); do
    cat <<EOF
CREATE DATABASE hj_$i CHARACTER SET utf8 COLLATE utf8_unicode_ci;
CREATE TABLE hj_$i.updateTask (cid INT UNSIGNED NOT NULL,
    taskName VARCHAR(1024) NOT NULL, successful BOOLEAN NOT NULL,
    lastModified BIGINT NOT NULL, uuid BINARY(16) NOT NULL,
    PRIMARY KEY (cid, uuid), INDEX full (cid, taskName(191)))
    ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
EOF
done | sql

mkdir -p "$tmp/tasks" "$tmp/logs"
cat >"$tmp/tasks/001_window.sql" <<'EOF'
-- task: bench.Window
-- a maintenance window of 2-10 s, fixed per schema
DO SLEEP(2 + CRC32(DATABASE()) MOD 9);
EOF

htpasswd -bBc -C 5 "$tmp/htpasswd" bench bench >/dev/null 2>&1

cat >"$tmp/nginx.conf" <<EOF
load_module $module;
$( [ "$(id -u)" -eq 0 ] && echo 'user root root;' )
worker_processes 2;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log notice;
thread_pool oxmigrate threads=16;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/body;
    oxmigrate_db host=127.0.0.1 port=$db_port user=root password=
                 database=configdb pool=8;
    oxmigrate_redis host=127.0.0.1 port=$redis_port;
    oxmigrate_cache zone=oxm:8m ttl=60s;

    server {
        listen 127.0.0.1:$p_backend;
        location / { return 200 "backend\n"; }
    }
    server {
        listen 127.0.0.1:$p_primary reuseport;
        location /appsuite/api/login {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url https://xyz.example.com/appsuite/;
            oxmigrate_hold 20s;
            add_header X-Held \$oxmigrate_held always;
            proxy_pass http://127.0.0.1:$p_backend;
        }
    }
    server {
        listen 127.0.0.1:$p_secondary reuseport;
        location /appsuite/api/login {
            oxmigrate on;
            oxmigrate_server oxserver-xyz;
            oxmigrate_hold 20s;
            add_header X-Held \$oxmigrate_held always;
            proxy_pass http://127.0.0.1:$p_backend;
        }
    }
    server {
        listen 127.0.0.1:$p_api;
        location = /metrics { oxmigrate_metrics; }
        location /oxmigrate/v1/ {
            auth_basic "oxmigrate";
            auth_basic_user_file $tmp/htpasswd;
            oxmigrate_admin on;
            oxmigrate_thread_pool oxmigrate;
            oxmigrate_update_tasks $tmp/tasks;
        }
    }
}
EOF
/usr/sbin/nginx -p "$tmp/" -c "$tmp/nginx.conf" -e "$tmp/logs/error.log"
for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$p_api/metrics" >/dev/null && break
    sleep 0.1
done

python3 - "$p_primary" "$p_secondary" "$p_api" "$nschemas" "$nctx" \
    "$parallel" "$clients" <<'PY'
import base64, json, random, socket, sys, threading, time

(pp, ps, pa, nschemas, nctx, parallel, clients) = map(int, sys.argv[1:8])
auth = base64.b64encode(b"bench:bench").decode()

def http(port, method, path, body=b"", headers=None, timeout=60):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    h = {"Host": "bench", "Connection": "close",
         "Content-Length": str(len(body))}
    h.update(headers or {})
    s.sendall(("%s %s HTTP/1.1\r\n" % (method, path)).encode()
              + "".join("%s: %s\r\n" % kv for kv in h.items()).encode()
              + b"\r\n" + body)
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdr = dict((k.lower(), v.strip()) for k, _, v in
               (l.partition(":") for l in lines[1:]))
    return int(lines[0].split()[1]), hdr, body.decode("latin-1")

def api(method, path, obj=None):
    body = json.dumps(obj).encode() if obj is not None else b""
    st, _, b = http(pa, method, "/oxmigrate/v1/" + path, body,
                    {"Authorization": "Basic " + auth,
                     "Content-Type": "application/json"})
    return st, json.loads(b) if b else None

def schema_of(cid):
    return "hj_%d" % ((cid - 1) // nctx + 1)

# schema -> (disable seen, enable seen): from configdb through the job view
answers = []          # (port, cid, t0, t1, status, code, held)
lock = threading.Lock()
stop = False

def client(seed):
    rnd = random.Random(seed)
    while not stop:
        cid = rnd.randint(1, nschemas * nctx)
        port = pp if rnd.random() < 0.5 else ps
        body = ("name=u%%40ctx%d.example.com&password=secret" % cid).encode()
        t0 = time.time()
        try:
            st, h, b = http(port, "POST",
                            "/appsuite/api/login?action=login", body,
                            {"Content-Type":
                             "application/x-www-form-urlencoded"}, 60)
        except Exception as e:
            st, h, b = 0, {}, str(e)
        t1 = time.time()
        code = ""
        if '"code":"' in b:
            code = b.split('"code":"')[1].split('"')[0]
        elif b.startswith("backend"):
            code = "pass"
        with lock:
            answers.append((port, cid, t0, t1, st, code, h.get("x-held", "")))
        time.sleep(rnd.uniform(0.02, 0.1))

threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
for t in threads:
    t.start()
time.sleep(1)

t_start = time.time()
st, j = api("POST", "upgrade", {"server": "oxserver-xyz", "continue": True,
                                "parallel": parallel})
if st != 202:
    print("POST /upgrade: %d %s" % (st, j)); sys.exit(1)
job = j["job"]
while True:
    st, view = api("GET", "jobs/%s" % job)
    if view["state"] not in ("running", "pending"):
        break
    time.sleep(0.2)
t_end = time.time()
time.sleep(1)          # the last logins of the last schemas come back
stop = True
for t in threads:
    t.join()

down = {s["name"]: s for s in view["schemas"]}
print("job %s: %s in %.1f s, %d schemas, parallel %d"
      % (job, view["state"], t_end - t_start, len(down), parallel))
wins = sorted(s.get("downtime_ms", 0) for s in view["schemas"])
print("maintenance windows:   %.1f .. %.1f s (median %.1f s)"
      % (wins[0] / 1000.0, wins[-1] / 1000.0, wins[len(wins) // 2] / 1000.0))

n = len(answers)
ctx7 = [a for a in answers if a[5] == "CTX-0007" or a[4] == 503]
held = [a for a in answers if a[6]]
late = 0
worst = 0.0
for a in held:
    w = down.get(schema_of(a[1]), {}).get("downtime_ms", 0) / 1000.0
    over = float(a[6]) - w
    worst = max(worst, over)
    if over >= 1.0:
        late += 1
# decisions after the job: every schema moved
wrong = 0
for a in answers:
    if a[2] < t_end and not a[6]:
        continue           # before or during the job, not held: either way
    if a[0] == pp and a[5] != "LGI-0016":
        wrong += 1
    if a[0] == ps and a[5] != "pass":
        wrong += 1
errors = [a for a in answers if a[4] == 0 or a[5] == ""]
print("logins:                %d (primary %d, secondary %d)"
      % (n, sum(1 for a in answers if a[0] == pp),
         sum(1 for a in answers if a[0] == ps)))
print("CTX-0007 / 503:        %d" % len(ctx7))
print("held:                  %d; longest beyond its schema's window %.3f s;"
      " %d held >= window + 1 s" % (len(held), worst, late))
print("wrong decisions:       %d (held or after the job: primary LGI-0016,"
      " secondary pass)" % wrong)
print("errors (no answer):    %d" % len(errors))
sys.exit(0 if not ctx7 and not late and not wrong and not errors else 1)
PY
