#!/usr/bin/perl
# GET /lookup?login= (issue 10): where a login goes and why: the key the
# router uses, what configdb says, the decision of a primary and of a
# secondary (their server names as arguments), and what each cache tier
# holds (shared memory of this nginx, Redis) with age and epoch; reading
# never changes a cache entry.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use OxTest qw(login);
use OxAdmin;

my $site = OxAdmin::site('adm_lookup', schemas => 2, contexts => 2);
my $db = $site->{db};
my $redis = OxTest::redis();
my ($s1, $s2) = @{ $site->{schemas} };
my $echo = OxTest::echo_backend(name => 'old');

my $ng = OxAdmin::nginx($site, redis => $redis,
    http => 'oxmigrate_cache zone=oxt_adm_lookup:1m ttl=60s negative_ttl=60s;'
          . ' server { listen 127.0.0.1:%%PORT_R%%; location /ajax/ {'
          . ' oxmigrate on; oxmigrate_server oxserver-old;'
          . ' oxmigrate_redirect_url https://new.example.com/;'
          . ' proxy_pass http://127.0.0.1:' . $echo->port . '; }'
          . ' location = /metrics { oxmigrate_metrics; } }');
my $R = $ng->port('R');

sub lookup {
    my ($login, $extra) = @_;
    (my $q = $login) =~ s/([^A-Za-z0-9.\-_])/sprintf('%%%02X', ord $1)/ge;
    return OxAdmin::api($ng, GET => "lookup?login=$q"
                        . ($extra // '&primary=oxserver-old&secondary=oxserver-xyz'));
}

my $r = lookup('alice@CTX1.Example.com  ');
is($r->{status}, 200, 'GET /lookup: 200');
my $j = $r->{json};
is($j->{key}, 'ctx1.example.com', 'the key as the router makes it (case, spaces)');
ok($j->{found} && $j->{cid} == 1 && $j->{server} eq 'oxserver-old'
   && $j->{server_id} == 2 && $j->{enabled} && !defined $j->{reason_id},
   'configdb: cid 1 on oxserver-old (2), enabled') or diag(explain($j));
is_deeply($j->{decision}, { primary => 'pass', secondary => 'ctx0012' },
          'decisions: primary pass, secondary ctx0012');
ok(!$j->{cache}{shm}{present} && !$j->{cache}{redis}{present},
   'nothing cached yet');

# a login through the router fills both tiers
login(port => $R, user => 'alice@ctx1.example.com');
# the Redis copy is written after the answer: wait until the lookup sees it
OxTest::wait_for(sub {
    $j = lookup('alice@ctx1.example.com')->{json};
    $j->{cache}{shm}{present} && $j->{cache}{redis}{present} }, 10);
ok($j->{cache}{shm}{present} && $j->{cache}{shm}{current}
   && $j->{cache}{shm}{age_ms} >= 0 && $j->{cache}{shm}{cid} == 1,
   'after a login: in shared memory, current') or diag(explain($j->{cache}));
ok($j->{cache}{redis}{present} && $j->{cache}{redis}{ttl_ms} > 0
   && $j->{cache}{redis}{key} eq 'oxmigrate:v0:ctx1.example.com',
   '... and in Redis under oxmigrate:v0:ctx1.example.com with its ttl');
my $age1 = $j->{cache}{shm}{age_ms};
sleep 0.5;
my $age2 = lookup('alice@ctx1.example.com')->{json}{cache}{shm}{age_ms};
ok($age2 >= $age1 + 400, "reading does not refresh the entry (age $age1 -> $age2 ms)");

# moved, maintenance, unknown
$db->do("UPDATE context_server2db_pool SET server_id = 8 WHERE db_schema = '$s2'");
my ($c2) = $db->value("SELECT MIN(cid) FROM context_server2db_pool WHERE db_schema = '$s2'");
$j = lookup("bob\@ctx$c2.example.com")->{json};
is_deeply($j->{decision}, { primary => 'redirect', secondary => 'pass' },
          'a moved context: primary redirect, secondary pass');
$db->do("UPDATE context SET enabled = 0, reason_id = 1431655765 WHERE cid = $c2");
is_deeply(lookup("bob\@ctx$c2.example.com")->{json}{decision},
          { primary => 'maintenance', secondary => 'maintenance' },
          'disabled for the schema move: maintenance on both');
$db->do("UPDATE context SET enabled = 0, reason_id = 7 WHERE cid = 1");
$j = lookup('alice@ctx1.example.com')->{json};
is_deeply($j->{decision}, { primary => 'pass', secondary => 'pass' },
          'disabled for another reason (7): pass on both, the node answers');
ok(!$j->{enabled} && $j->{reason_id} == 7, '... enabled false, reason_id 7');
$db->do("UPDATE context SET enabled = 1, reason_id = NULL WHERE cid = 1");
$j = lookup("x'; DROP TABLE context; --\@nosuch.example.com")->{json};
ok(!$j->{found} && $j->{decision}{primary} eq 'unknown',
   'an unknown name with SQL metacharacters: not found, unknown');
is($db->value('SELECT COUNT(*) FROM context') > 0 ? 1 : 0, 1, 'table context intact');
$j = lookup('a@ctx1.example.com', '')->{json};
like($j->{decision}{primary}, qr/give primary=/, 'without server names: says what to give');

is(OxAdmin::api($ng, GET => 'lookup')->{status}, 400, 'no login=: 400');
is(OxAdmin::api($ng, GET => 'lookup?login=a', auth => 0)->{status}, 401,
   'without credentials: 401');

# the admin calls in oxmigrate_metrics
my $m = OxTest::http(GET => '/metrics', port => $R)->{body};
like($m, qr/^oxmigrate_admin_requests_total\{action="lookup",status="2xx"\} 8$/m,
     'metrics: 8 lookups answered 2xx');
like($m, qr/^oxmigrate_admin_requests_total\{action="lookup",status="4xx"\} 1$/m,
     'metrics: 1 answered 4xx');

$ng->stop;
done_testing;
