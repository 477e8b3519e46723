#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# nginx stops (nginx -s stop: fast shutdown) while an OX tool runs: the
# tool's process group is killed and reaped, the worker exits at once
# instead of waiting for the tool; a graceful stop (-s quit) waits for a
# short tool and the call is answered.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use MIME::Base64 qw(encode_base64);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_oxstop', schemas => 1, contexts => 1);
my $s = $site->{schemas}[0];
my $ox = OxAdmin::oxtools($site);
my $auth = { Authorization => 'Basic '
             . encode_base64("$OxAdmin::USER:$OxAdmin::PASS", '') };

sub pid_of {
    my ($tool) = @_;
    my $f = $ox->dir('old') . "/$tool.pid";
    OxTest::wait_for(sub { -s $f }, 10, 0.05);
    my $pid = OxTest::_slurp($f);
    chomp $pid if defined $pid;
    return $pid;
}

# ------------------------------------------------ fast shutdown

my $ng = OxAdmin::nginx($site, ox => $ox, ox_quick => '60s');
my $master = $ng->master_pid;
$ox->behave('old', 'disableschema', { hold => 60, pidfile => 1 });
my $call = OxTest::http_start('POST', "/oxmigrate/v1/schemas/$s/disable",
                              port => $ng->port('A'), headers => $auth,
                              timeout => 30);
my $tpid = pid_of('disableschema');
ok($tpid && kill(0, $tpid), "the tool runs ($tpid)");
my $t0 = time;
$ng->signal('stop');
ok(OxTest::wait_for(sub { !kill(0, $master) }, 10, 0.05),
   sprintf('nginx -s stop: nginx is gone after %.1f s', time - $t0));
ok(time - $t0 < 5, 'without waiting for the 60 s tool');
ok(OxTest::wait_for(sub { !-e "/proc/$tpid" }, 3, 0.05),
   'the tool was killed and reaped');
$call->close;

# ------------------------------------------------ graceful stop

unlink $ox->dir('old') . '/disableschema.pid';
$ng = OxAdmin::nginx($site, ox => $ox, ox_quick => '60s');
$master = $ng->master_pid;
$ox->behave('old', 'disableschema', { hold => 30, pidfile => 1 });
$call = OxTest::http_start('POST', "/oxmigrate/v1/schemas/$s/disable",
                           port => $ng->port('A'), headers => $auth,
                           timeout => 30);
$tpid = pid_of('disableschema');
ok($tpid, "a tool runs ($tpid)");
$ng->signal('quit');
# the tool ends after the quit: nginx waits for it
$ox->release('old', 'disableschema');
my $r = $call->wait;
is($r->{status}, 200, 'nginx -s quit: the call is answered');
ok(OxTest::wait_for(sub { !kill(0, $master) }, 10, 0.05), 'then nginx quits');
ok(!-e "/proc/$tpid", 'the tool was reaped');

done_testing();
