#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# health_url reaches only what the site allows (issue 17 c): the URLs come
# from oxmigrate_health_url; a request may only name one of them; control
# bytes (a header or a whole request injected through "\r\n") are 400; a
# URL outside the list is 400 and nothing connects to its listener.
# Also "parallel" out of range says "1 to 64" (issue 17 g).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_health', schemas => 2, contexts => 1);
my @s = @{ $site->{schemas} };
my $ox = OxAdmin::oxtools($site);

# a listener nothing may reach (stands for the balancers' Redis)
my $trap = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1',
                                 LocalPort => 0, ReuseAddr => 1)
    or die "listen: $!";
$trap->blocking(0);
my $tport = $trap->sockport;
sub trapped { my $c = $trap->accept; return $c ? 1 : 0 }

my $hs = 'server { listen 127.0.0.1:%%PORT_H%%;'
         . ' location /ok { return 200 "ok\n"; } }';
# idle 60s: a heartbeat late on a busy machine does not show the job
# "interrupted" to wait_job (OxAdmin's default idle is 3s)
my $ng = OxAdmin::nginx($site, ox => $ox, http => $hs, idle => '60s',
                        extra => 'oxmigrate_health_url'
                                 . ' http://127.0.0.1:%%PORT_H%%/ok;'
                                 . ' oxmigrate_health_url'
                                 . ' http://ox-new-lb.example.com/health;');
sub api { OxAdmin::api($ng, @_) }
my $ok = 'http://127.0.0.1:' . $ng->port('H') . '/ok';

sub upgrade {
    my (%o) = @_;
    return api(POST => 'upgrade', json => { server => 'oxserver-new',
                                            continue => JSON::PP::true, %o });
}

for my $bad ("http://127.0.0.1:$tport/",
             "http://127.0.0.1:$tport/x\r\nSET k v\r\n",
             "$ok\r\nX-Injected: 1",
             "$ok ",
             "http://127.0.0.1:" . $ng->port('H') . "/ok?x",
             "http://127.0.0.1:" . $ng->port('H') . "/",
             'http://ox-new-lb.example.com/health/')
{
    (my $show = $bad) =~ s/\r/\\r/g;
    $show =~ s/\n/\\n/g;
    my $r = upgrade(only => [ $s[0] ], health_url => $bad);
    is($r->{status}, 400, "health_url \"$show\": 400");
    like($r->{json}{error}{message}, $bad =~ /[\r\n]/ ? qr/control bytes/
                                               : qr/oxmigrate_health_url/,
         '... says why');
}
is(trapped(), 0, 'nothing connected to the listener outside the list');
is($site->{db}->value('SELECT COUNT(*) FROM oxmigrate_job'), 0,
   'no job was created');

my $r = upgrade(only => [ $s[0] ], health_url => $ok);
is($r->{status}, 202, 'a configured health_url: accepted');
my $job = OxAdmin::wait_job($ng, $r->{json}{job}, 40);
is($job->{state}, 'done', 'the job ran its health check and finished');
is($job->{schemas}[0]{checks}[0]{check}, 'health', 'health checked');
ok($job->{schemas}[0]{checks}[0]{ok}, '... 200');

# "parallel": the range it says is the one it takes
for my $p (0, 65) {
    $r = upgrade(only => [ $s[1] ], parallel => $p,
                 dry_run => JSON::PP::true);
    is($r->{status}, 400, "parallel $p: 400");
    like($r->{json}{error}{message}, qr/"parallel" must be 1 to 64/, '... 1 to 64');
}
$r = api(PATCH => "jobs/$job->{id}", json => { parallel => 0 });
is($r->{status}, 400, 'PATCH parallel 0: 400');
like($r->{json}{error}{message}, qr/1 to 64/, '... 1 to 64');

# the directive's own checks
for my $bad ('https://x/', 'http://a b/', 'http://h:99999/', 'http://u@h/',
             'http:///x', 'http://h/a"b c') {
    my ($rc, $out) = OxTest::nginx_check(
        OxAdmin::admin_conf($site, extra => "oxmigrate_health_url '$bad';"),
        db => $site->{db}, main => 'thread_pool oxmigrate threads=2;');
    isnt($rc, 0, "oxmigrate_health_url $bad: nginx -t fails");
}

# a location without oxmigrate_health_url takes none
my $ng2 = OxAdmin::nginx($site, ox => $ox);
$r = OxAdmin::api($ng2, POST => 'upgrade',
                  json => { server => 'oxserver-new', only => [ $s[1] ],
                            continue => JSON::PP::true, health_url => $ok });
is($r->{status}, 400, 'no oxmigrate_health_url: every health_url is 400');
like($r->{json}{error}{message}, qr/allows none/, '... says why');

done_testing();
