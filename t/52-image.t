#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The runtime image (Dockerfile, target runtime): configured only from the
# environment, it balances logins with the packaged module against the
# suite's MariaDB, serves the admin API, its packaged `oxmigrate` moves a
# schema, and its access log goes to stdout.  A missing variable stops it.
#
# With Redis (OXM_REDIS_HOST), whose epoch the admin API bumps.
#
# Needs Docker and the image:  docker build --target runtime -t oxmigrate .
#                              OXM_IMAGE=oxmigrate t/run.sh MODULE t/52-image.t
# (skipped without OXM_IMAGE).  The container shares the host's network.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use OxTest;
use OxAdmin;

my $image = $ENV{OXM_IMAGE};
plan skip_all => 'OXM_IMAGE not set (docker build --target runtime -t oxmigrate .)'
    unless $image;
system("docker image inspect '$image' >/dev/null 2>&1") == 0
    or plan skip_all => "no docker image $image";

my $name = "oxm-image-test-$$";
END { system("docker rm -f $name >/dev/null 2>&1") if $name }

sub run {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

# ------------------------------------------------------------ refuses a bad environment

my ($rc, $out) = run("docker run --rm '$image'");
is($rc, 64, 'no environment: exit 64');
like($out, qr/OXM_ROLE is not set/, 'names the variable');
($rc, $out) = run("docker run --rm -e OXM_ROLE=tertiary -e OXM_SERVERS=a"
                  . " -e OXM_BACKENDS=127.0.0.1:1 -e OXM_DB_HOST=127.0.0.1"
                  . " -e OXM_DB_USER=u '$image'");
is($rc, 64, 'a wrong role: exit 64');
($rc, $out) = run("docker run --rm -e OXM_ROLE=primary -e OXM_SERVERS=a"
                  . " -e OXM_BACKENDS=127.0.0.1:1 -e OXM_DB_HOST=127.0.0.1"
                  . " -e OXM_DB_USER=u '$image'");
like($out, qr/OXM_REDIRECT_URL is not set/, 'a primary needs OXM_REDIRECT_URL');

($rc, $out) = run("docker run --rm '$image' sh -c 'command -v cc gcc; dpkg -l nginx"
                  . " libnginx-mod-http-oxmigrate oxmigrate-tools | grep ^ii | wc -l'");
is($out, "3\n", 'Debian\'s nginx and both packages installed, no compiler');

# ------------------------------------------------------------ a primary balancer

my $site = OxAdmin::site('img', schemas => 2, contexts => 2);
my ($s1) = @{ $site->{schemas} };
my $backend = OxTest::echo_backend(name => 'old');
my ($lb, $adm, $met) = (OxTest::free_port(), OxTest::free_port(), OxTest::free_port());
my $htpasswd = OxTest::_slurp(OxAdmin::htpasswd());
chomp $htpasswd;

my $redis = OxTest::redis();
my %env = (OXM_ROLE => 'primary', OXM_SERVERS => 'oxserver-old',
           OXM_REDIS_HOST => '127.0.0.1', OXM_REDIS_PORT => $redis->port,
           OXM_BACKENDS => '127.0.0.1:' . $backend->port,
           OXM_NEW_BACKENDS => '127.0.0.1:' . $backend->port,
           OXM_METRICS_LISTEN => "127.0.0.1:$met",
           OXM_REDIRECT_URL => 'https://upgrade.example.com/appsuite/',
           OXM_DB_HOST => '127.0.0.1', OXM_DB_PORT => $ENV{OXM_MYSQL_PORT},
           OXM_DB_USER => 'root', OXM_DB_NAME => $site->{db}->name,
           OXM_LISTEN => "127.0.0.1:$lb", OXM_ADMIN_LISTEN => "127.0.0.1:$adm",
           OXM_ADMIN_HTPASSWD => $htpasswd, OXM_THREADS => 4);
my $envs = join ' ', map { "-e $_='$env{$_}'" } sort keys %env;
($rc, $out) = run("docker run -d --name $name --network host $envs '$image'");
is($rc, 0, 'the container starts') or diag $out;

my $up = OxTest::wait_for(sub { OxTest::_port_open($lb) && OxTest::_port_open($adm) }, 30, 0.2);
ok($up, 'it listens (balancer and admin API)')
    or diag scalar `docker logs $name 2>&1`;

my $r = OxTest::login(port => $lb, user => 'alice@ctx3.example.com');
is($r->{status}, 200, 'a context on oxserver-old passes to the backend');
my $m = OxTest::http(GET => '/metrics', port => $met);
like($m->{body}, qr/^oxmigrate_build_info\{/m, 'the metrics on OXM_METRICS_LISTEN');
like($m->{body}, qr/^# TYPE oxmigrate_job_schemas gauge$/m, '... with the admin API\'s');

# the packaged CLI inside the image moves schema 1 to oxserver-xyz (8)
my $cli = "docker exec -e OXMIGRATE_URL=http://127.0.0.1:$adm/oxmigrate/v1 $name"
        . " oxmigrate";
my $auth = "-A $OxAdmin::USER -P $OxAdmin::PASS";
($rc, $out) = run("$cli checkdatabase $auth");
is($rc, 0, 'oxmigrate checkdatabase in the container') or diag $out;
like($out, qr/^3 +oxdb +127\.0\.0\.1 +\Q$s1\E +Needs update$/m, '... the seed\'s table');
for my $step ("disableschema -m $s1", "changeserver -s 8 -m $s1", "enableschema -m $s1") {
    ($rc, $out) = run("$cli $step $auth");
    is($rc, 0, "oxmigrate $step") or diag $out;
}
is($redis->cmd('GET', 'oxmigrate:epoch'), 3,
   'each routing change bumped the epoch in OXM_REDIS_HOST (3 steps)');
($rc, $out) = run("docker exec $name disableschema --help");
like($out, qr/-m,--schema/, 'the OX tool names are on PATH');

$r = OxTest::login(port => $lb, user => 'alice@ctx1.example.com');
my $j = OxTest::json($r->{body}) // {};
is($j->{code}, 'LGI-0016', 'a moved context: LGI-0016 from the balancer');
is_deeply($j->{error_params}, ['https://upgrade.example.com/appsuite/'],
          '... with OXM_REDIRECT_URL');

my $logs = `docker logs $name 2>/dev/null`;
like($logs, qr/"POST \/ajax\/login\?action=login HTTP\/1\.1" 200 cid=1 server=8 schema=\Q$s1\E decision=redirect/,
     'the access log (oxmigrate format) on stdout');

# the same image as the secondary balancer: no redirect, CTX-0012
my $name2 = "$name-2";
my $lb2 = OxTest::free_port();
my %env2 = (%env, OXM_ROLE => 'secondary', OXM_SERVERS => 'oxserver-xyz',
            OXM_LISTEN => "127.0.0.1:$lb2",
            OXM_METRICS_LISTEN => '127.0.0.1:' . OxTest::free_port(),
            OXM_MISDIRECTED_LISTEN => '127.0.0.1:' . OxTest::free_port());
delete @env2{qw(OXM_REDIRECT_URL OXM_ADMIN_LISTEN OXM_ADMIN_HTPASSWD)};
$envs = join ' ', map { "-e $_='$env2{$_}'" } sort keys %env2;
($rc, $out) = run("docker run -d --name $name2 --network host $envs '$image'");
is($rc, 0, 'a secondary starts');
ok(OxTest::wait_for(sub { OxTest::_port_open($lb2) }, 30, 0.2), '... and listens')
    or diag scalar `docker logs $name2 2>&1`;
$r = OxTest::login(port => $lb2, user => 'alice@ctx1.example.com');
is($r->{status}, 200, 'the moved context passes to its backend there');
like($r->{body}, qr/^name=alice%40ctx1\.example\.com&/, '... the echo backend got its body');
$j = OxTest::json(OxTest::login(port => $lb2, user => 'alice@ctx3.example.com')->{body}) // {};
is($j->{code}, 'CTX-0012', 'a context still on oxserver-old: CTX-0012, no redirect');
is_deeply($j->{error_params}, [3, 2], '... [cid, server_id]');
run("docker rm -f $name2");

run("docker rm -f $name");
done_testing();
