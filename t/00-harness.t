#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The test harness itself (t/lib/OxTest.pm): databases, private Redis,
# nginx start/reload/stop, the HTTP client and the echo backend, and that
# the module loads into Debian's nginx.  Runs first, so a broken
# environment shows up as such and not as a module bug.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest;

# --- suite MariaDB, configdb loaded
my $db = OxTest::db('harness');
is($db->name, 'oxt_harness', 'database name');
my %t = map { $_->[0] => 1 } @{ $db->sql('SHOW TABLES') };
ok($t{$_}, "configdb table $_")
    for qw(configdb_sequence server context login2context
           context_server2db_pool db_pool db_cluster contexts_per_dbschema
           dbschema_lock reason_text);
is($db->value('SELECT COUNT(*) FROM configdb_sequence'), 1,
   'configdb_sequence has one row');

$db->load('demo.sql', oxm_db_url => 'jdbc:mysql://127.0.0.1:3307/');
is($db->value('SELECT url FROM db_pool WHERE db_pool_id = 3'),
   'jdbc:mysql://127.0.0.1:3307/', 'demo.sql takes the db url variable');
is_deeply($db->sql("SELECT c.cid, s.db_schema, s.server_id, c.enabled
                    FROM login2context l JOIN context c USING (cid)
                    JOIN context_server2db_pool s USING (cid)
                    WHERE l.login_info = 'defaultcontext'"),
          [[1, 'oxdatabase_5', 2, 1]], 'defaultcontext -> cid 1');
is_deeply($db->sql('SELECT name FROM server ORDER BY server_id'),
          [['oxserver-old'], ['oxserver-xyz']], 'demo servers');
is_deeply($db->sql("SELECT NULL, 'a\\tb', 'x\\\\y', 'nl\\n', '\xc3\xbc'"),
          [[undef, "a\tb", "x\\y", "nl\n", "\xc3\xbc"]],
          'NULL, tab, backslash, newline, UTF-8 bytes');
is($db->value('SELECT ' . $db->quote("it's a \\ test")), "it's a \\ test",
   'quote');
ok(!eval { $db->sql('SELECT * FROM no_such_table'); 1 }, 'SQL error dies');
like($db->directive(timeout => '1s'),
     qr/^oxmigrate_db host=127\.0\.0\.1 port=\d+ user=root password= database=oxt_harness timeout=1s;$/,
     'oxmigrate_db directive');

# --- a background session holds a lock
my $bg = $db->sql_bg('LOCK TABLES login2context WRITE; SELECT SLEEP(30);');
ok(OxTest::wait_for(sub {
    $db->value("SELECT COUNT(*) FROM information_schema.processlist
                WHERE info LIKE 'SELECT SLEEP(30)%'") }, 5),
   'background session runs');
$bg->kill;
ok(!$bg->running, 'background session killed');

# --- a private MariaDB that can be stopped, frozen, killed
my $my = OxTest::mariadb_private();
my $pdb = $my->db('private');
is($pdb->value('SELECT COUNT(*) FROM server'), 0, 'private MariaDB, configdb');
$pdb->do("INSERT INTO server VALUES (1, 'x', UNHEX(REPEAT('00', 16)))");
$my->sigstop;
ok(OxTest::_port_open($my->port), 'frozen MariaDB still accepts TCP');
$my->sigcont;
$my->stop;
ok(!OxTest::_port_open($my->port), 'stopped');
$my->start;
is($pdb->value('SELECT name FROM server'), 'x', 'restarted with its data');
$my->kill;
ok(!OxTest::_port_open($my->port), 'killed');
$my->start;
is($pdb->value('SELECT name FROM server'), 'x', 'restarted after kill -9');

# --- Redis
my $redis = OxTest::redis();
is($redis->cmd('SET', 'k', 'v 1'), 'OK', 'redis SET');
is($redis->cmd('GET', 'k'), 'v 1', 'redis GET');
is($redis->cmd('INCR', 'oxmigrate:epoch'), 1, 'redis INCR');
my $rport = $redis->port;
$redis->kill;
ok(!OxTest::_port_open($rport), 'redis killed');
$redis->start;
is($redis->cmd('PING'), 'PONG', 'redis restarted on the same port');
is($redis->cmd('GET', 'k'), '', 'restarted empty (no persistence)');

# --- echo backend and nginx without the module
my $echo = OxTest::echo_backend(name => 'old');
my $ng = OxTest::nginx(<<'EOF', no_load => 1, vars => { ECHO => $echo->port });
    server {
        listen 127.0.0.1:%%PORT_A%%;
        location / { return 200 "hello\n"; }
        location /p/ { proxy_pass http://127.0.0.1:%%ECHO%%; }
        location /t { return 200 "%%TMP%%"; }
    }
EOF
my $r = OxTest::http(GET => '/', port => $ng->port('A'));
is($r->{status}, 200, 'nginx answers');
is($r->{body}, "hello\n", 'body');
like($r->{headers}{server}, qr/nginx/, 'lowercase header keys');
ok($r->{ms} > 0 && $r->{ms} < 5000, 'elapsed ms');

my $body = join '', map { chr($_ % 256) } 0 .. 300000;
$r = OxTest::http(POST => '/p/x?a=1', port => $ng->port('A'), body => $body);
is($r->{status}, 200, 'proxied POST');
is($r->{headers}{'x-method'}, 'POST', 'backend saw the method');
is($r->{headers}{'x-uri'}, '/p/x?a=1', 'backend saw the uri');
is($r->{headers}{'x-body-length'}, length $body, 'backend got the length');
ok($r->{body} eq $body, 'echoed byte for byte');

$r = OxTest::http_raw($ng->port('A'),
                      "GET /t HTTP/1.0\r\nHost: x\r\n\r\n");
is($r->{body}, $ng->dir, 'http_raw, %%TMP%%');

my @w = $ng->worker_pids;
is(scalar @w, 1, 'one worker');
$ng->reload;
my @w2 = $ng->worker_pids;
is(scalar @w2, 1, 'one worker after reload');
isnt($w2[0], $w[0], 'a new worker');
is(OxTest::http(GET => '/', port => $ng->port('A'))->{status}, 200,
   'answers after reload');
$ng->stop;

my ($rc, $out) = OxTest::nginx_check("no_such_directive;\n", no_load => 1);
isnt($rc, 0, 'nginx_check sees a bad config');
like($out, qr/unknown directive/, 'nginx -t output');

# --- the module loads into Debian's nginx
($rc, $out) = OxTest::nginx_check(
    "server { listen 127.0.0.1:%%PORT_A%%; location / { return 204; } }\n");
is($rc, 0, 'module loads') or diag $out;

is(OxTest::json('{"a":[1,"x"]}')->{a}[0], 1, 'json');
is(OxTest::json('nope'), undef, 'json of garbage is undef');

done_testing;
