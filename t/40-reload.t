#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# `nginx -s reload` under a steady login load loses no request, and
# completes promptly although every worker holds pooled MariaDB and Redis
# connections: the old workers are gone within a few seconds.  Also a
# reload while a login hangs on a locked configdb: the old worker finishes
# that login (at its timeout), then exits.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest qw(login login_start oxerror_ok pass_ok);

my $db = OxTest::db('reload');
$db->load('demo.sql');
$db->do(q{
    UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 4;
    UPDATE context SET enabled = 0, reason_id = 1431655765 WHERE cid = 5;
});
my $redis = OxTest::redis();

my $URL = 'https://upgrade.example.com/';
my $conf = OxTest::standins() . <<"EOF";
    @{[ $db->directive(pool => 4) ]}
    oxmigrate_redis host=127.0.0.1 port=%%REDIS_PORT%%;
    oxmigrate_cache zone=oxt_reload:1m ttl=1s negative_ttl=1s;
    server {
        listen 127.0.0.1:%%PORT_P%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            add_header X-Pid \$pid always;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
    }
EOF
my $ng = OxTest::nginx($conf, db => $db, redis => $redis, workers => 2);
my $P = $ng->port('P');

# the expected answer per user
my %want = (
    'a@ctx1.example.com' => qr/^old cluster\n\z/,
    'd@ctx4.example.com' => qr/"code":"LGI-0016"/,
    'e@ctx5.example.com' => qr/"code":"CTX-0007"/,
    'x@nowhere.example.com' => qr/^old cluster\n\z/,
);
my @users = sort keys %want;
for my $u (@users) {
    like(login(port => $P, user => $u)->{body}, $want{$u}, "before: $u");
}

# --- load: 4 clients, each logging in one after the other for 7 s
my $dir = OxTest::tmpdir();
my @kids;
for my $k (1 .. 4) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my ($n, @bad) = (0);
        my $end = time + 7;
        while (time < $end) {
            my $u = $users[$n++ % @users];
            my $r = login(port => $P, user => $u, timeout => 5);
            push @bad, "$u: status $r->{status} "
                       . ($r->{error} // '') . " $r->{body}"
                unless $r->{status} == 200 && $r->{body} =~ $want{$u};
        }
        open my $fh, '>', "$dir/load-$k" or POSIX::_exit(1);
        print $fh "$n\n", map { "$_\n" } @bad;
        close $fh;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}

sleep 1;
my @slow;
for my $i (1 .. 3) {
    my @old = $ng->worker_pids;
    my $t0 = time;
    is($ng->signal('reload'), 0, "nginx -s reload $i under load");
    my $gone = OxTest::wait_for(sub {
        my %now = map { $_ => 1 } $ng->worker_pids;
        !grep { $now{$_} } @old;
    }, 10, 0.05);
    my $dt = time - $t0;
    ok($gone && $dt < 3,
       sprintf("reload $i: old workers gone after %.2f s", $dt));
    sleep 1;
}
waitpid($_, 0) for @kids;

my ($total, @bad) = (0);
for my $k (1 .. 4) {
    open my $fh, '<', "$dir/load-$k" or do { push @bad, "client $k: no result"; next };
    chomp(my @l = <$fh>);
    $total += shift @l;
    push @bad, @l;
}
ok($total > 200, "$total logins during the reloads");
is(scalar(@bad), 0, 'no login lost or answered wrong')
    or diag join "\n", @bad[0 .. ($#bad > 9 ? 9 : $#bad)];

# --- a reload while a login hangs: the old worker finishes it
my $lock = $db->sql_bg("LOCK TABLES login2context WRITE;\n"
                       . "SELECT SLEEP(4);\nUNLOCK TABLES;\n");
OxTest::wait_for(sub {
    $db->value("SELECT COUNT(*) FROM information_schema.processlist
                WHERE info LIKE 'SELECT SLEEP(4)%'")
}, 5);
my $key = 'hang' . int(rand 1e6) . '.example.com';
my $h = login_start(port => $P, user => "x\@$key");
sleep 0.2;
my @old = $ng->worker_pids;
is($ng->signal('reload'), 0, 'reload while a login hangs');
my $r = $h->wait;
is($r->{status}, 200, 'the hung login is answered (on_error pass)');
ok(grep({ $_ == ($r->{headers}{'x-pid'} // 0) } @old),
   '... by the old worker that had it');
ok(OxTest::wait_for(sub {
    my %now = map { $_ => 1 } $ng->worker_pids;
    !grep { $now{$_} } @old;
}, 5), 'then the old workers exit');
$lock->wait;

for my $u (@users) {
    like(login(port => $P, user => $u)->{body}, $want{$u}, "after: $u");
}

$ng->stop;
done_testing;
