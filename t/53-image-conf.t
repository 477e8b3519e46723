#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The runtime image's nginx configuration without Docker (issue 19):
# docker/entrypoint.sh renders docker/templates/ from the environment
# exactly as in the image (`oxmigrate-entrypoint render`, into a scratch
# /etc/nginx), and `nginx -t` with the module accepts the result:
#   - a primary and a secondary with everything on (the defaults): the
#     metrics listener, the DAV/ActiveSync/WebDAV/Drive location and the
#     share locations of conf.d/, the admin API next to the primary;
#   - each part switched off by its variable;
#   - a primary with DAV but without OXM_NEW_BACKENDS, or a switch that is
#     neither on nor off, stops with exit 64 naming the variable.
# (t/52-image.t runs the image itself, with Docker.)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use OxTest;

my $root = OxTest::root();
my $tmp = OxTest::tmpdir();
my $n = 0;

# renders with exactly these variables; returns (exit status, output, dir)
sub render {
    my (%env) = @_;
    my $etc = "$tmp/etc-" . ++$n;
    make_path("$etc/conf.d", "$etc/modules-enabled", "$etc/sites-enabled");
    $env{OXM_NGINX_ETC} = $etc;
    $env{OXM_TEMPLATES} = "$root/docker/templates";
    my $vars = join ' ', map { "$_='$env{$_}'" } sort keys %env;
    my $out = `env -i PATH=/usr/bin:/bin $vars sh '$root/docker/entrypoint.sh' render 2>&1`;
    return ($? >> 8, $out, $etc);
}

sub nginx_t {
    my ($etc) = @_;
    return OxTest::nginx_check("include $etc/conf.d/*.conf;",
                               main => "include $etc/modules-enabled/*.conf;");
}

my %base = (OXM_SERVERS => 'oxserver-old', OXM_BACKENDS => '10.0.1.1:8009 10.0.1.2:8009',
            OXM_DB_HOST => '127.0.0.1', OXM_DB_USER => 'oxmigrate',
            OXM_DB_PASSWORD => 'db "secret"', OXM_LISTEN => '127.0.0.1:' . OxTest::free_port());
my %primary = (%base, OXM_ROLE => 'primary',
               OXM_REDIRECT_URL => 'https://upgrade.example.com/appsuite/',
               OXM_NEW_BACKENDS => '10.0.2.1:8009',
               OXM_METRICS_LISTEN => '127.0.0.1:' . OxTest::free_port(),
               OXM_ADMIN_LISTEN => '127.0.0.1:' . OxTest::free_port(),
               OXM_ADMIN_HTPASSWD => 'oxadminmaster:$2y$05$abcdefghijklmnopqrstuuJ0123456789abcdefghijklmnopqrst',
               OXM_REDIS_HOST => '127.0.0.1',
               # the image's default is the packaged examples' directory
               OXM_UPDATE_TASKS => "$root/sql/updatetasks");

# ------------------------------------------------------------ a primary, everything on

my ($rc, $out, $etc) = render(%primary);
is($rc, 0, 'primary: rendered') or diag $out;
my $conf = OxTest::_slurp("$etc/conf.d/oxmigrate-balancer.conf") // '';
ok($conf !~ /\$\{OXM_/, 'no variable left unrendered');
like($conf, qr/^\s+location ~ \^\/\(servlet\/dav\|servlet\/webdav\|infostore\|drive\|Microsoft-Server-ActiveSync\) \{\n\s+oxmigrate on;\n\s+oxmigrate_identify basic;/m,
     'the DAV, WebDAV, Drive and ActiveSync location of conf.d/ (identify basic)');
like($conf, qr/^\s+location \/appsuite\/api\/share\/ \{\n\s+oxmigrate on;\n\s+oxmigrate_identify share;\n\s+oxmigrate_redirect_url https:\/\/upgrade\.example\.com;/m,
     'the share locations, redirecting to the origin of OXM_REDIRECT_URL');
like($conf, qr/^\s+location \/ajax\/share\/ \{/m, '... /ajax/share/ too');
like($conf, qr/^upstream ox_new \{\n\s+ip_hash;\n\s+server 10\.0\.2\.1:8009;/m,
     'the upgraded nodes of OXM_NEW_BACKENDS');
like($conf, qr/^map \$oxmigrate_decision \$oxm_cluster \{\n\s+redirect\s+ox_new;/m,
     '... where moved users\' DAV requests go');
like($conf, qr/^\s+listen \Q$primary{OXM_METRICS_LISTEN}\E;\n(?:.*\n)*?\s+location = \/metrics \{ oxmigrate_metrics; \}/m,
     'the metrics listener on OXM_METRICS_LISTEN');
ok(-f "$etc/conf.d/oxmigrate-admin.conf", 'the admin API');
($rc, $out) = nginx_t($etc);
is($rc, 0, 'nginx -t: the primary with DAV, shares, metrics and the admin API') or diag $out;

# ------------------------------------------------------------ a secondary, everything on

my %secondary = (%base, OXM_ROLE => 'secondary', OXM_SERVERS => 'oxserver-xyz',
                 OXM_METRICS_LISTEN => '127.0.0.1:' . OxTest::free_port(),
                 OXM_MISDIRECTED_LISTEN => '127.0.0.1:' . OxTest::free_port());
($rc, $out, $etc) = render(%secondary);
is($rc, 0, 'secondary: rendered') or diag $out;
$conf = OxTest::_slurp("$etc/conf.d/oxmigrate-balancer.conf") // '';
like($conf, qr/^map \$oxmigrate_decision \$oxm_cluster \{\n\s+ctx0012\s+oxm_misdirected;/m,
     'a context still on the old cluster: 421 (as conf.d/secondary.conf)');
like($conf, qr/oxmigrate_identify basic;/, '... the DAV location');
like($conf, qr/oxmigrate_identify share;/, '... the share locations');
ok($conf !~ /^\s*oxmigrate_redirect_url/m, '... and no redirect anywhere');
($rc, $out) = nginx_t($etc);
is($rc, 0, 'nginx -t: the secondary with DAV, shares and metrics') or diag $out;

# ------------------------------------------------------------ switched off

my %off = (%primary, OXM_DAV => 'off', OXM_SHARES => 'off', OXM_METRICS_LISTEN => 'off');
delete @off{qw(OXM_NEW_BACKENDS OXM_ADMIN_LISTEN)};
($rc, $out, $etc) = render(%off);
is($rc, 0, 'primary, OXM_DAV=off OXM_SHARES=off OXM_METRICS_LISTEN=off: rendered') or diag $out;
$conf = OxTest::_slurp("$etc/conf.d/oxmigrate-balancer.conf") // '';
ok($conf !~ /oxmigrate_identify|oxmigrate_metrics|\$oxm_cluster/, '... no DAV, share or metrics');
ok(!-e "$etc/conf.d/oxmigrate-admin.conf", '... no admin API');
($rc, $out) = nginx_t($etc);
is($rc, 0, 'nginx -t: logins only') or diag $out;

($rc, $out, $etc) = render(%off, OXM_SHARES => 'on');
is($rc, 0, 'primary, shares only (no OXM_NEW_BACKENDS): rendered') or diag $out;
($rc, $out) = nginx_t($etc);
is($rc, 0, '... nginx -t') or diag $out;

# ------------------------------------------------------------ refused

my %nonew = %primary;
delete $nonew{OXM_NEW_BACKENDS};
($rc, $out) = render(%nonew);
is($rc, 64, 'a primary with DAV without OXM_NEW_BACKENDS: exit 64');
like($out, qr/OXM_NEW_BACKENDS is not set/, '... naming it');
($rc, $out) = render(%primary, OXM_DAV => 'yes');
is($rc, 64, 'OXM_DAV=yes: exit 64');
like($out, qr/OXM_DAV must be on or off/, '... naming it');

done_testing();
