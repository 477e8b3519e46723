#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# configdb read from a replica (issue 9, point 4): a real MariaDB primary
# and a GTID replica of it.  oxmigrate_db reads the replica first and the
# primary (server=) when the replica is down; the change log comes with the
# data.  A replica that comes back behind what the balancer has already
# applied (its SQL thread stopped) is skipped until it catches up: the
# decision never goes back in time.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest qw(login);

my $primary = OxTest::mariadb_private(args => [
    '--log-bin=mysql-bin', '--server-id=1', '--binlog-format=ROW',
    '--log-bin-trust-function-creators=1']);
my $replica = OxTest::mariadb_private(args => [
    '--server-id=2', '--skip-log-bin', '--skip-slave-start']);
$replica->replicate_from($primary);

my $db = $primary->db('replica');
$db->load('demo.sql');
$db->load('changelog.sql');
# (until replication has created them, the tables do not exist: an error)
ok(OxTest::wait_for(sub { eval {
    $replica->sql('SELECT COUNT(*) FROM oxt_replica.oxmigrate_change')
        ->[0][0] >= 0
    && $replica->sql("SELECT COUNT(*) FROM oxt_replica.context")->[0][0] == 6
} }, 20), 'the replica has the configdb and the change log');

# the down mark and the ttls run out on the tests' clock (moved on)
my $clock = OxTest::test_clock();
my $ng = OxTest::nginx(OxTest::standins() . $clock->directive
                       . <<"EOF", workers => 1);
    oxmigrate_db host=127.0.0.1 port=@{[ $replica->port ]} user=root password=
                 database=oxt_replica server=127.0.0.1:@{[ $primary->port ]}
                 connect_timeout=500ms timeout=1s pool=4;
    oxmigrate_cache zone=oxt_replica:1m ttl=1s negative_ttl=1s;
    server {
        listen 127.0.0.1:%%PORT_P%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url https://upgrade.example.com/;
            add_header X-Cache \$oxmigrate_cache always;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
    }
EOF
my $P = $ng->port('P');

sub answer {
    my $r = login(port => $P, user => $_[0]);
    return 'pass' if $r->{body} eq "old cluster\n";
    my $j = OxTest::json($r->{body});
    return $j && $j->{code} ? $j->{code} : "status $r->{status}";
}

ok(OxTest::wait_for(sub { $ng->error_log =~ /following the configdb change log/ },
                    10), 'the change log is followed (through the replica)');
is(answer('u@ctx2.example.com'), 'pass', 'ctx2 passes, read from the replica');

# the replica lags: the change is not there yet, so not applied either
$replica->do('STOP SLAVE SQL_THREAD');
$db->do('UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 2');
sleep 1.5;
is(answer('u@ctx2.example.com'), 'pass',
   'replica behind: the old answer, as the OX nodes reading it give');

# the replica dies: the primary answers, its change log is applied
$replica->stop;
my $t0 = time;
my $a;
OxTest::wait_for(sub { ($a = answer('u@ctx2.example.com')) eq 'LGI-0016' }, 5);
is($a, 'LGI-0016', sprintf('replica down: the primary answers, ctx2 moved '
                           . '(%.1f s)', time - $t0));
like($ng->error_log, qr/configdb server 127\.0\.0\.1:\d+ (connect failed|timed out)/,
     'the failover is logged');

# the replica comes back, still behind (SQL thread not started): never
# used for an answer older than what was applied
$replica->start;
unlike($ng->error_log, qr/behind the change log, skipped/,
       'the replica, marked down, is not asked');
$clock->advance(6, $ng);    # its 5 s down mark is over: it is preferred again
my @a = map { sleep 0.05; answer('u@ctx2.example.com') } 1 .. 40;
is(scalar(grep { $_ ne 'LGI-0016' } @a), 0,
   '40 lookups with the lagging replica back: never the old answer')
    or diag("@a");
like($ng->error_log, qr/behind the change log, skipped/,
     'the lagging replica is skipped');

# it catches up: its answers are good again
$replica->do('START SLAVE SQL_THREAD');
OxTest::wait_for(sub {
    ($replica->sql('SELECT server_id FROM oxt_replica.context_server2db_pool '
                   . 'WHERE cid = 2') // [[0]])->[0][0] == 8 }, 10);
$clock->advance(2, $ng);    # the cached answers' ttl (1 s) is over
is(answer('u@ctx2.example.com'), 'LGI-0016', 'caught up: still moved');
is(answer('u@ctx1.example.com'), 'pass', '... and ctx1 passes');

$ng->stop;

# server=unix:PATH: a dead TCP server first, then the primary's unix socket
my $dead = OxTest::free_port();
my $ngu = OxTest::nginx(OxTest::standins() . <<"EOF", workers => 1);
    oxmigrate_db host=127.0.0.1 port=$dead user=root password=
                 database=oxt_replica server=unix:@{[ $primary->socket ]}
                 connect_timeout=500ms timeout=1s pool=2;
    server {
        listen 127.0.0.1:%%PORT_U%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url https://upgrade.example.com/;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
    }
EOF
my $r = login(port => $ngu->port('U'), user => 'u@ctx2.example.com');
my $j = OxTest::json($r->{body});
is($j && $j->{code}, 'LGI-0016',
   'server=unix:PATH: the TCP server is down, the unix socket answers (ctx2 moved)')
    or diag($r->{body});
like($ngu->error_log, qr/configdb server 127\.0\.0\.1:$dead (connect failed|timed out)/,
     '... after the TCP server failed');
$ngu->stop;

done_testing;
