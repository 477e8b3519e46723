#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# oxmigrate_ox_tools ... via=COMMAND: the wrapper's words come first (as
# "ssh -o BatchMode=yes oxadmin@ox-xyz-1" would), one wrapper per cluster;
# at the timeout the whole process group (wrapper and tool) is killed and
# reaped.  And the event loop of the single worker stays responsive while
# a 30 s runupdate runs.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_oxvia', schemas => 2, contexts => 2);
my @s = @{ $site->{schemas} };
my $P = $OxAdmin::PASS;

my $ox = OxAdmin::oxtools($site, tasks => [
    { name => 't.A' },
    { name => 't.Slow', sleep => 30, sleep_if_table => 'slow_flag' },
]);

# a wrapper like ssh: "wrap --node NAME CMD ARGS"; it stays the parent of
# the tool (no exec), so a timeout must kill the group, not just the pid
my $dir = OxTest::tmpdir();
my $wrap = "$dir/wrap";
my $wlog = "$dir/wrap.log";
open my $fh, '>', $wrap or die "$wrap: $!";
print $fh "#!/bin/sh\necho \"\$\$ \$*\" >> $wlog\nshift 2\n\"\$@\"\nexit \$?\n";
close $fh;
chmod 0755, $wrap;

my $ng = OxAdmin::nginx($site, ox => $ox, ox_quick => '2s',
                        via_old => "$wrap --node ox-old-1",
                        via_new => "$wrap  --node   ox-new-1");
sub api { OxAdmin::api($ng, @_) }
sub wrapped { [ map { s/^\d+ //r } split /\n/, OxTest::_slurp($wlog) // '' ] }

my $r = api(POST => "schemas/$s[0]/disable");
is($r->{status}, 200, 'disable via the old wrapper: 200');
is_deeply(wrapped(), [ "--node ox-old-1 " . $ox->dir('old')
          . "/disableschema -A oxadminmaster -m $s[0]" ],
          'the wrapper got its words, then the tool and its flags (no'
          . ' password: it travels in ADMIN_PASSWORD)');
is_deeply($r->{json}{ox}{argv}, [ $wrap, '--node', 'ox-old-1',
          $ox->dir('old') . '/disableschema', '-A', 'oxadminmaster',
          '-m', $s[0] ], 'the answer shows it');
is_deeply($ox->trace, [ "old:disableschema -A oxadminmaster -m $s[0]" ],
          'and the tool ran');
ok($ox->calls->[-1]{env_password}, 'with the password from the environment');

unlink $wlog;
$r = api(POST => "schemas/$s[0]/update");
is($r->{status}, 200, 'runupdate via the new wrapper: 200');
my $pw = OxTest::root() . '/contrib/oxmigrate-ox-password';
is_deeply([ wrapped()->[0] ], [ "--node ox-new-1 $pw " . $ox->dir('new')
          . "/runupdate -A oxadminmaster -n $s[0]" ], 'the new cluster\'s'
          . ' wrapper, extra blanks in via= ignored; the password wrapper'
          . ' runs on the node');

# ------------------------------------------------ timeout kills the group

unlink $wlog;
$ox->behave('old', 'enableschema', { hold => 30, pidfile => 1 });
my $t0 = time;
$r = api(POST => "schemas/$s[0]/enable");
is($r->{status}, 504, 'a hanging tool behind the wrapper: 504');
ok(time - $t0 < 6, 'answered after the timeout');
my ($wpid) = (OxTest::_slurp($wlog) // '') =~ /^(\d+) /;
my $tpid = OxTest::_slurp($ox->dir('old') . '/enableschema.pid');
chomp $tpid if defined $tpid;
ok($wpid && !-e "/proc/$wpid", "the wrapper ($wpid) was killed and reaped");
ok($tpid && OxTest::wait_for(sub { !-e "/proc/$tpid" }, 3),
   "the tool under it ($tpid) was killed too (process group)");
$ox->behave('old', 'enableschema', undef);

# ------------------------------------------------ a 30 s tool call

OxAdmin::schema_sql($s[1], 'CREATE TABLE slow_flag (id INT)');
my $call = OxTest::http_start('POST', "/oxmigrate/v1/schemas/$s[1]/update",
    port => $ng->port('A'), timeout => 60,
    headers => { Authorization => 'Basic '
                 . MIME::Base64::encode_base64("oxadminmaster:$P", '') });
$t0 = time;
my $started;
ok(OxTest::wait_for(sub {
    $started = $site->{db}->sql("SELECT status, result FROM oxmigrate_audit"
                                . " WHERE action = 'runupdate' ORDER BY id"
                                . " DESC LIMIT 1")->[0];
    return $started && $started->[0] == 0;
}, 5, 0.1), 'while runupdate runs, its audit row is there: "started"');
is($started->[1], '{"state":"started"}', 'result {"state":"started"}');
my ($n, $worst, $bad) = (0, 0, 0);
while (time - $t0 < 25) {
    my $t = time;
    my $g = api(GET => 'servers', timeout => 5);
    my $d = time - $t;
    $worst = $d if $d > $worst;
    $bad++ if $g->{status} != 200;
    $n++;
    sleep 0.5;
}
ok($n >= 30, "$n requests while runupdate ran");
is($bad, 0, 'all answered 200');
ok($worst < 0.5, sprintf('the slowest in %.0f ms', $worst * 1000));
$r = $call->wait;
my $j = OxTest::json($r->{body});
is($r->{status}, 200, 'the 30 s runupdate: 200');
ok(time - $t0 >= 29, sprintf('after %.1f s', time - $t0));
is_deeply($j->{executed}, [ 't.A', 't.Slow' ], 'both tasks ran');
my $done = $site->{db}->sql("SELECT status, result FROM oxmigrate_audit"
                            . " WHERE action = 'runupdate' ORDER BY id DESC");
is($done->[0][0], 200, 'the same row completed: 200');
like($done->[0][1], qr/"executed":\["t\.A","t\.Slow"\]/, 'with the answer');
is(scalar(grep { $_->[0] == 0 } @$done), 0, 'no "started" row left');

done_testing();
