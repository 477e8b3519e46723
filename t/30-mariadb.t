#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# MariaDB down: stopped, frozen (SIGSTOP), killed in the middle of a run.
# Every login is answered within its timeout: it passes (oxmigrate_on_error
# pass, the default) or gets 503 LGI-0005 (fail).  When MariaDB is back,
# logins are decided again without restarting nginx; also when it was down
# when nginx started.  No cache configured: every login goes to MariaDB.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest qw(login login_start oxerror_ok pass_ok);

my $my = OxTest::mariadb_private();
my $db = $my->db('down');
$db->load('demo.sql');
$db->do('UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 4');

my $URL = 'https://upgrade.example.com/';
my $conf = OxTest::standins() . <<"EOF";
    @{[ $db->directive(timeout => '1s', connect_timeout => '1s', pool => 4) ]}
    server {
        listen 127.0.0.1:%%PORT_P%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            add_header X-Decision \$oxmigrate_decision always;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
        location /fail/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            oxmigrate_on_error fail;
            add_header X-Decision \$oxmigrate_decision always;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
        location /plain { return 200 "plain\\n"; }
    }
EOF
my $ng = OxTest::nginx($conf, db => $db, workers => 2);
my $P = $ng->port('P');

sub decided {
    my ($name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    oxerror_ok(login(port => $P, user => 'd@ctx4.example.com'), 'LGI-0016',
               [$URL], "$name: moved context LGI-0016");
    oxerror_ok(login(port => $P, path => '/fail/login',
                     user => 'd@ctx4.example.com'),
               'LGI-0016', [$URL], "$name: on_error fail, LGI-0016");
    pass_ok(login(port => $P, user => 'a@ctx1.example.com'), 'old cluster',
            "$name: context on its server passes");
}

# every login is answered by on_error, within the timeout
sub on_error {
    my ($name, $max_ms) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $r = login(port => $P, user => 'd@ctx4.example.com');
    pass_ok($r, 'old cluster', "$name: on_error pass passes");
    is($r->{headers}{'x-decision'}, 'error', "$name: decision error");
    ok($r->{ms} < $max_ms, sprintf("$name: within %d ms (%.0f ms)",
                                   $max_ms, $r->{ms}));
    $r = login(port => $P, path => '/fail/login', user => 'd@ctx4.example.com');
    oxerror_ok($r, 'LGI-0005', undef, "$name: on_error fail, 503 LGI-0005");
    ok($r->{ms} < $max_ms, sprintf("$name: within %d ms (%.0f ms)",
                                   $max_ms, $r->{ms}));
    $r = OxTest::http(GET => '/plain', port => $P);
    ok($r->{status} == 200 && $r->{ms} < 100,
       sprintf("$name: plain request %.1f ms", $r->{ms}));
}

# back up: decided again within a few seconds (pooled connections to the
# old server are found dead and replaced)
sub recovers {
    my ($name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $t0 = Time::HiRes::time();
    my $ok = OxTest::wait_for(sub {
        my @r = map { login(port => $P, user => 'd@ctx4.example.com') } 1 .. 4;
        !grep { ($_->{headers}{'x-decision'} // 'error') eq 'error' } @r;
    }, 5, 0.1);
    ok($ok, sprintf("$name: decided again after %.1f s",
                    Time::HiRes::time() - $t0));
    decided("$name, back");
}

decided('up');

# --- stopped: connection refused
$my->stop;
on_error('stopped', 1500);
on_error('stopped, again', 1500);
$my->start;
recovers('restarted');

# --- frozen: TCP accepted by the kernel, no answer
$my->sigstop;
on_error('frozen', 2600);
# several at once, both workers
my @h = map { login_start(port => $P, path => ($_ % 2 ? '/fail/login' : undef),
                          user => "u$_\@ctx4.example.com") } 1 .. 10;
my ($bad, $max) = (0, 0);
for my $i (1 .. 10) {
    my $r = $h[$i - 1]->wait;
    $max = $r->{ms} if $r->{ms} > $max;
    $bad++ unless $i % 2 ? $r->{status} == 503 : $r->{body} eq "old cluster\n";
}
is($bad, 0, 'frozen: 10 concurrent logins answered by on_error');
ok($max < 4500, sprintf('frozen: all within their timeouts (max %.0f ms)',
                        $max));
$my->sigcont;
recovers('thawed');

# --- killed in the middle of a run of logins
my @run;
my $t_end = Time::HiRes::time() + 3;
my $killed = 0;
while (Time::HiRes::time() < $t_end) {
    push @run, login_start(port => $P, user => 'd@ctx4.example.com');
    push @run, login_start(port => $P, user => 'a@ctx1.example.com');
    if (!$killed && Time::HiRes::time() > $t_end - 2) {
        $my->kill;
        $killed = 1;
    }
    $_->wait for @run[-2, -1];
}
my %seen;
for my $r (map { $_->wait } @run) {
    my $d = $r->{headers}{'x-decision'} // '?';
    my $what = $r->{status} == 200 && $r->{body} eq "old cluster\n" ? 'pass'
             : $r->{status} == 200 && $r->{body} =~ /LGI-0016/ ? 'LGI-0016'
             : "status $r->{status}";
    $seen{"$what/$d"}++;
}
my @odd = grep { !m{^(pass/(pass|error)|LGI-0016/redirect)$} } keys %seen;
is("@odd", '', 'killed mid-run: every login decided or passed on error')
    or diag explain \%seen;
ok($seen{'pass/error'}, 'killed mid-run: errors after the kill');
$my->start;
recovers('restarted after kill -9');
$ng->stop;

# --- down when nginx starts: nginx starts all the same, logins get
# on_error, and are decided once MariaDB is up, without a reload
$my->stop;
$ng = OxTest::nginx($conf, db => $db, workers => 2);
$P = $ng->port('P');
on_error('down at start', 1500);
$my->start;
recovers('up after nginx started');
$ng->stop;

done_testing;
