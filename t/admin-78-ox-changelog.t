#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Issue 9's "any writer", by OX's own tools: with sql/changelog.sql
# installed and no Redis at all, what the (stand-in) OX tools write to
# configdb through the admin API (disableschema, changeserver,
# enableschema) reaches every worker of a balancer within 2 s, although
# its cache ttl is a minute; the answers say "cache_invalidation":
# "change log" and the tools really ran.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest qw(login);
use OxAdmin;

my $site = OxAdmin::site('adm_oxcl', schemas => 2, contexts => 2);
my ($s1, $s2) = @{ $site->{schemas} };
my $db = $site->{db};
$db->load('changelog.sql');

my $ox = OxAdmin::oxtools($site, tasks => [ { name => 't.A' } ]);
my $ng = OxAdmin::nginx($site, ox => $ox, workers => 2,
    http => 'oxmigrate_cache zone=oxt_adm_oxcl:1m ttl=60s negative_ttl=60s;'
          . ' server { listen 127.0.0.1:%%PORT_R%% reuseport; location /ajax/ {'
          . ' oxmigrate on; oxmigrate_server oxserver-old;'
          . ' oxmigrate_redirect_url https://new.example.com/;'
          . ' add_header X-Pid $pid always; add_header X-Cache $oxmigrate_cache always;'
          . ' proxy_pass http://127.0.0.1:%%PORT_OLD%%; } }'
          . OxTest::standins());
my $R = $ng->port('R');

# what the balancer answers ctx1's user, and which workers said so
sub answers {
    my (%by_pid, %cache);
    for (1 .. 16) {
        my $r = login(port => $R, user => 'alice@ctx1.example.com');
        my $j = OxTest::json($r->{body});
        my $a = $r->{body} eq "old cluster\n" ? 'pass'
              : $j && $j->{code} ? $j->{code} : "status $r->{status}";
        $by_pid{ $r->{headers}{'x-pid'} // '?' }{$a}++;
        $cache{ $r->{headers}{'x-cache'} // '' }++;
    }
    return (\%by_pid, \%cache);
}

# every worker answers $want, within 2 s of $t0
sub all_say {
    my ($want, $t0) = @_;
    my ($by, $ok);
    OxTest::wait_for(sub {
        ($by) = answers();
        $ok = keys(%$by) == 2 && !grep { keys(%$_) != 1 || !$_->{$want} } values %$by;
    }, 2, 0.05);
    return ($ok, time - $t0, $by);
}

ok(OxTest::wait_for(sub { $ng->error_log =~ /following the configdb change log/ }, 5),
   'the balancer follows the change log');
my ($by, $cache) = answers();
ok(keys(%$by) == 2 && !grep({ !$_->{pass} || keys(%$_) != 1 } values %$by),
   'before: both workers pass ctx1') or diag(explain($by));
($by, $cache) = answers();
ok($cache->{shm} && $cache->{shm} >= 14, 'answers come from shared memory (ttl 60 s)')
    or diag(explain($cache));

my $r = OxAdmin::api($ng, POST => "schemas/$s1/disable");
is($r->{status}, 200, 'disableschema through the API: 200');
is($r->{json}{ox}{tool}, 'disableschema', '... OX\'s tool ran');
is($r->{json}{cache_invalidation}, 'change log', '... "cache_invalidation": "change log"');
my ($ok, $dt, $seen) = all_say('CTX-0007', time);
ok($ok, sprintf('every worker answers CTX-0007 (maintenance) within 2 s (%.2f s)', $dt))
    or diag(explain($seen));

$r = OxAdmin::api($ng, POST => "schemas/$s1/changeserver", json => { server_id => 8 });
is($r->{status}, 200, 'changeserver through the API: 200');
is($r->{json}{ox}{tool}, 'changeserver', '... OX\'s tool ran');
$r = OxAdmin::api($ng, POST => "schemas/$s1/enable");
is($r->{status}, 200, 'enableschema through the API: 200');
($ok, $dt, $seen) = all_say('LGI-0016', time);
ok($ok, sprintf('every worker sends ctx1 to the new cluster (LGI-0016) within 2 s (%.2f s)', $dt))
    or diag(explain($seen));

is_deeply([ map { "$_->{cluster}:$_->{tool}" } @{ $ox->calls } ],
          [ 'old:disableschema', 'old:changeserver', 'old:enableschema' ],
          'the OX tools that ran, on the old cluster');

done_testing();
