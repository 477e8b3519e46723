#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Non-blocking proof.  One worker process; another MariaDB session holds
# LOCK TABLES login2context WRITE, so every configdb lookup hangs.  While
# logins hang, plain requests on the same worker are answered in under
# 100 ms, and each hung login ends at its timeout (pass, or 503 LGI-0005
# with oxmigrate_on_error fail).  Clients that give up while their login
# hangs do no harm.  When the lock goes, logins are decided again.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest qw(login login_start oxerror_ok pass_ok);

my $db = OxTest::db('nonblocking');
$db->load('demo.sql');
$db->do('UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 4');

my $ng = OxTest::nginx(OxTest::standins() . <<"EOF", db => $db, workers => 1);
    @{[ $db->directive(timeout => '1s', connect_timeout => '1s', pool => 4) ]}
    server {
        listen 127.0.0.1:%%PORT_P%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url https://upgrade.example.com/;
            add_header X-Decision \$oxmigrate_decision always;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
        location /fail/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url https://upgrade.example.com/;
            oxmigrate_on_error fail;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
        location /plain {
            return 200 "plain\\n";
        }
    }
EOF
my $P = $ng->port('P');

# warm up: the pool has connections, the decisions are right
oxerror_ok(login(port => $P, user => 'd@ctx4.example.com'), 'LGI-0016',
           ['https://upgrade.example.com/'], 'decided before the lock');

my $lock = $db->sql_bg("LOCK TABLES login2context WRITE, context WRITE;\n"
                       . "SELECT SLEEP(12);\nUNLOCK TABLES;\n");
ok(OxTest::wait_for(sub {
    $db->value("SELECT COUNT(*) FROM information_schema.processlist
                WHERE info LIKE 'SELECT SLEEP(12)%'")
}, 5), 'another session holds the lock');

# one hung login
my $hung = login_start(port => $P, user => 'd@ctx4.example.com');
Time::HiRes::sleep(0.1);
my @slow;
for (1 .. 10) {
    my $r = OxTest::http(GET => '/plain', port => $P);
    push @slow, sprintf('%.1f ms (status %d)', $r->{ms}, $r->{status})
        if $r->{status} != 200 || $r->{ms} >= 100;
    Time::HiRes::sleep(0.05);
}
is("@slow", '', 'while a login hangs, 10 plain requests answered in < 100 ms');
my $r = $hung->wait;
pass_ok($r, 'old cluster', 'the hung login passes (on_error pass)');
is($r->{headers}{'x-decision'}, 'error', '... with decision error');
ok($r->{ms} >= 800 && $r->{ms} < 2500,
   sprintf('... at its timeout (%.0f ms)', $r->{ms}));

# many hung logins, more than the pool has connections, and on_error fail
my @h;
for my $i (1 .. 12) {
    push @h, login_start(port => $P, path => ($i % 2 ? '/fail/login' : undef),
                         user => "u$i\@ctx" . (1 + $i % 6) . '.example.com');
}
# some clients give up while their login hangs
my @gone = map { login_start(port => $P, user => "gone$_\@ctx1.example.com") }
           1 .. 5;
Time::HiRes::sleep(0.1);
$_->close for @gone;
@slow = ();
for (1 .. 10) {
    my $r = OxTest::http(GET => '/plain', port => $P);
    push @slow, sprintf('%.1f ms (status %d)', $r->{ms}, $r->{status})
        if $r->{status} != 200 || $r->{ms} >= 100;
    Time::HiRes::sleep(0.05);
}
is("@slow", '', 'while 17 logins hang, plain requests answered in < 100 ms');
my ($bad, $max) = (0, 0);
for my $i (1 .. 12) {
    my $r = $h[$i - 1]->wait;
    $max = $r->{ms} if $r->{ms} > $max;
    if ($i % 2) {
        my $j = OxTest::json($r->{body});
        $bad++ unless $r->{status} == 503 && $j && $j->{code} eq 'LGI-0005';
    } else {
        $bad++ unless $r->{status} == 200 && $r->{body} eq "old cluster\n";
    }
}
is($bad, 0, '12 hung logins: pass, or 503 LGI-0005 with on_error fail');
ok($max < 3500, sprintf('... all ended by their timeouts (max %.0f ms)', $max));
oxerror_ok(login(port => $P, path => '/fail/login', user => 'd@ctx4.example.com'),
           'LGI-0005', undef, 'a hung login with on_error fail: LGI-0005');

# the lock goes away: decided again
$lock->kill;
$db->do('UNLOCK TABLES');
ok(OxTest::wait_for(sub {
    my $r = login(port => $P, user => 'd@ctx4.example.com');
    ($r->{headers}{'x-decision'} // '') ne 'error'
}, 5), 'after the lock: no more errors');
oxerror_ok(login(port => $P, user => 'd@ctx4.example.com'), 'LGI-0016',
           ['https://upgrade.example.com/'], 'decided after the lock');
pass_ok(login(port => $P, user => 'a@ctx1.example.com'), 'old cluster',
        'pass after the lock');

$ng->stop;
done_testing;
