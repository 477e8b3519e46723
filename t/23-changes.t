#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Freshness for any writer (issue 9): with sql/changelog.sql installed, a
# change made by plain SQL (no INCR, no admin API) is followed by every
# worker of two balancers within 2 s, and only the entries it touches
# leave the caches (the other contexts stay shared-memory hits).  A Redis
# restart from a snapshot taken before a change, with the epoch going
# back, never brings an old answer back.  stale= answers from the last
# known entry while MariaDB is down.  oxmigrate_maintenance_reason.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest qw(login);

my $my = OxTest::mariadb_private();
my $db = $my->db('changes');
$db->load('demo.sql');
$db->load('changelog.sql');
my $redis = OxTest::redis();

my $conf = OxTest::standins() . <<"EOF";
    @{[ $db->directive(timeout => '1s', connect_timeout => '500ms') ]}
    oxmigrate_redis host=127.0.0.1 port=%%REDIS_PORT%% ttl=300s;
    oxmigrate_cache zone=oxt_changes:1m ttl=%%TTL%% negative_ttl=60s stale=60s;
    oxmigrate_maintenance_reason 42;
    server {
        listen 127.0.0.1:%%PORT_P%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url https://upgrade.example.com/;
            add_header X-Cache \$oxmigrate_cache always;
            add_header X-Pid \$pid always;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
    }
EOF
my $ng1 = OxTest::nginx($conf, db => $db, redis => $redis, workers => 2,
                        vars => { TTL => '60s' });
my $ng2 = OxTest::nginx($conf, db => $db, redis => $redis, workers => 2,
                        vars => { TTL => '60s' });
my @ALL = ($ng1, $ng2);

sub answer {
    my ($ng, $user) = @_;
    my $r = login(port => $ng->port('P'), user => $user);
    my $pid = $r->{headers}{'x-pid'} // 0;
    my $c = $r->{headers}{'x-cache'} // '-';
    return ('pass', $pid, $c) if $r->{body} eq "old cluster\n";
    my $j = OxTest::json($r->{body});
    return ($j->{code}, $pid, $c) if $j && $j->{code};
    return ("status $r->{status}", $pid, $c);
}

# every worker of every balancer answers $want for $user ('' when so);
# $cache: also each from this cache tier
sub everyone {
    my ($want, $user, $cache) = @_;
    my @why;
    for my $ng (@ALL) {
        my %left = map { $_ => 1 } $ng->worker_pids;
        my $n = 0;
        while (%left && $n++ < 80) {
            my ($a, $pid, $c) = answer($ng, $user);
            next unless delete $left{$pid};
            push @why, "$pid $a/$c" if $a ne $want
                                       || (defined $cache && $c ne $cache);
        }
        push @why, "worker $_ not reached" for sort keys %left;
    }
    return join ', ', @why;
}

# warm every worker: ctx1..3 pass, ctx4 moved (next), unknown negative
$db->do('UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 4');
sleep 1;
for my $u (map { "u\@ctx$_.example.com" } 1 .. 4) {
    everyone('x', $u) for 1 .. 2;
}
is(everyone('pass', 'u@ctx1.example.com', 'shm'), '',
   'warm: ctx1 passes from shared memory on every worker');
is(everyone('LGI-0016', 'u@ctx4.example.com', 'shm'), '', 'warm: ctx4 is moved');
everyone('x', 'u@later.example.com');

# --- a change by plain SQL, nobody told the balancers
my $t0 = time;
$db->do('UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 2');
sleep 2 - (time - $t0);
is(everyone('LGI-0016', 'u@ctx2.example.com'), '',
   'plain SQL changeserver of ctx2: every worker of both balancers within 2 s');
is(everyone('pass', 'u@ctx1.example.com', 'shm'), '',
   '... ctx1 (same schema, untouched) still a shared-memory hit everywhere');
is(everyone('pass', 'u@ctx3.example.com', 'shm'), '',
   '... ctx3 too');

# disable with the configured maintenance reason
$t0 = time;
$db->do('UPDATE context SET enabled = 0, reason_id = 42 WHERE cid = 3');
sleep 2 - (time - $t0);
is(everyone('CTX-0007', 'u@ctx3.example.com'), '',
   'disabled with oxmigrate_maintenance_reason 42: CTX-0007 within 2 s');
$db->do('UPDATE context SET enabled = 0, reason_id = 1431655765 WHERE cid = 5');
sleep 2;
is(everyone('pass', 'u@ctx5.example.com'), '',
   'reason 1431655765 is not this site\'s maintenance reason: passes');
$db->do('UPDATE context SET enabled = 1, reason_id = NULL WHERE cid IN (3, 5)');

# a login name that appears (it was cached negatively for 60 s)
$t0 = time;
$db->do("INSERT INTO login2context (cid, login_info) VALUES (4, 'Later.Example.com')");
sleep 2 - (time - $t0);
is(everyone('LGI-0016', 'u@later.example.com'), '',
   'a new login_info (negatively cached) resolves within 2 s');

# a server renamed: every context on it
$t0 = time;
$db->do("UPDATE server SET name = 'oxserver-gone' WHERE server_id = 2");
sleep 2 - (time - $t0);
is(everyone('LGI-0016', 'u@ctx1.example.com'), '',
   'the old server renamed: ctx1 is elsewhere within 2 s');
$db->do("UPDATE server SET name = 'oxserver-old' WHERE server_id = 2");
sleep 2;
is(everyone('pass', 'u@ctx1.example.com'), '', '... and back');

# --- Redis restarted from a snapshot taken before a change, epoch back
$redis->cmd('SET', 'oxmigrate:epoch', '5');
sleep 1.2;
everyone('x', 'u@ctx6.example.com') for 1 .. 2;
is(everyone('pass', 'u@ctx6.example.com'), '', 'ctx6 passes (epoch 5)');
$redis->cmd('SAVE');
$redis->cmd('INCR', 'oxmigrate:epoch');
sleep 1.2;
$db->do('UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 6');
sleep 2;
is(everyone('LGI-0016', 'u@ctx6.example.com'), '', 'ctx6 moved (epoch 6)');
# the workers wait while the test looks at the restarted Redis (else one
# may move the epoch on before the test has read it)
$_->sigstop_workers for @ALL;
$redis->kill; $redis->start;   # from the snapshot: epoch 5, old copies of ctx6
is($redis->cmd('GET', 'oxmigrate:epoch'), 5, 'Redis is back at epoch 5');
ok(scalar(grep { /ctx6/ } $redis->cmd('KEYS', '*')), '... with old copies of ctx6');
$_->sigcont_workers for @ALL;
sleep 1.5;
is(everyone('LGI-0016', 'u@ctx6.example.com'), '',
   'after the restart no worker serves the old copy');

# --- stale if error: MariaDB down (a balancer without Redis, ttl 1 s)
everyone('x', 'u@ctx4.example.com') for 1 .. 2;
$my->stop;
is(everyone('LGI-0016', 'u@ctx4.example.com', 'shm'), '',
   'MariaDB down, within ttl: shared memory as usual');
(my $conf3 = $conf) =~ s/^\s*oxmigrate_redis .*$//m;
my $ng3 = OxTest::nginx($conf3, db => $db, workers => 1,
                        vars => { TTL => '1s' });
$my->start;
sleep 1;
my ($a) = answer($ng3, 'u@ctx4.example.com');
is($a, 'LGI-0016', 'a balancer with ttl=1s decides ctx4');
$my->stop;
sleep 1.5;
my ($b, undef, $c) = answer($ng3, 'u@ctx4.example.com');
is("$b $c", 'LGI-0016 stale', 'ttl over, MariaDB down: the last known entry (stale)');
my ($d, undef, $e) = answer($ng3, 'u@ctx99.example.com');
is($d, 'pass', 'never decided before: on_error pass');
$my->start;
$_->stop for $ng1, $ng2, $ng3;
done_testing;
