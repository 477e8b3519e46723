#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# conf.d/admin.conf as shipped (only site paths and the port replaced):
# nginx accepts it, the API answers behind auth_basic, and only there.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_conf', schemas => 1, contexts => 1);
my $conf = OxTest::_slurp(OxTest::root() . '/conf.d/admin.conf')
    // die "conf.d/admin.conf: $!";
$conf =~ s/#.*$//mg;
my $htpasswd = OxAdmin::htpasswd();
my $tasks = OxTest::root() . '/sql/updatetasks';

ok($conf =~ s{listen 127\.0\.0\.1:8080;}{listen 127.0.0.1:%%PORT_A%%;},
   'listens on loopback only');
ok($conf =~ s{/etc/nginx/oxmigrate\.htpasswd}{$htpasswd}g, 'htpasswd');
ok($conf =~ s{/etc/nginx/oxmigrate/updatetasks}{$tasks}, 'update tasks');
$conf =~ s{/var/log/nginx/oxmigrate-admin\.log}{%%TMP%%/admin.log};
(my $admin_db = $site->{db}->directive) =~ s/^oxmigrate_db/oxmigrate_admin_db/;
ok($conf =~ s{oxmigrate_admin_db host=10\.20\.0\.5[^;]*;}{$admin_db},
   'its own configdb user (oxmigrate_admin_db)');
unlike($conf, qr{/etc/|/var/}m, 'no other site path left');

my $ng = OxTest::nginx($site->{db}->directive . "\n" . $conf,
                       db => $site->{db});

my $r = OxAdmin::api($ng, GET => 'schemas');
is($r->{status}, 200, 'GET /schemas with credentials');
is($r->{json}{schemas}[0]{name}, $site->{schemas}[0], 'the schema');

$r = OxAdmin::api($ng, GET => "schemas/$site->{schemas}[0]/updatetasks");
is(scalar(grep { $_->{state} eq 'excluded' } @{ $r->{json}{tasks} }), 1,
   'groupware.utf8mb4 excluded as configured');

$r = OxAdmin::api($ng, GET => 'schemas', auth => 0);
is($r->{status}, 401, 'without credentials: 401');

$r = OxTest::http(GET => '/', port => $ng->port('A'));
is($r->{status}, 404, 'nothing else is served');

$ng->stop;
done_testing();
