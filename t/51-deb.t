#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The Debian packages of `make deb` (debian/, scripts/deb.sh):
#   - their files (dpkg-deb -c) and dependencies (the nginx ABI this
#     system's nginx provides, the shared libraries);
#   - unpacked into a scratch root, the package's own postinst (paths moved
#     into that root) enables the module through modules-enabled, and
#     `nginx -t` with Debian's layout (prefix /usr/share/nginx, its
#     "modules" link, include modules-enabled/*.conf) loads it and accepts
#     its directives; without the link it does not; prerm/postrm undo it;
#   - every path the shipped confs (conf.d/) name exists as installed, and
#     `nginx -t` passes with each balancer's conf next to admin.conf;
#   - the packages and the packaged command have debian/changelog's version;
#   - the packaged module serves the admin API and the packaged CLI (also
#     through a link named like the OX tool) talks to it.
# Packages from $OXM_DEBS, else $(BUILD)/deb next to the module under test,
# else build/deb (make deb; `make test` builds them).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use OxTest;
use OxAdmin;

my $root = OxTest::root();
# $OXM_DEBS, else next to the module under test ($(BUILD)/deb), else build/deb
my ($debs, $mod, $tools);
for my $d (grep { defined } $ENV{OXM_DEBS},
           ($ENV{OXM_MODULE} // '') =~ s{/[^/]*$}{/deb}r, "$root/build/deb") {
    ($mod) = glob("$d/libnginx-mod-http-oxmigrate_*.deb");
    ($tools) = glob("$d/oxmigrate-tools_*.deb");
    $debs = $d;
    last if $mod && $tools || defined $ENV{OXM_DEBS};
}
plan skip_all => "no packages in $debs (make deb)" unless $mod && $tools;

my $tmp = OxTest::tmpdir();
my $sr = "$tmp/root";               # the scratch root
make_path("$sr/etc/nginx/modules-enabled", "$sr/etc/nginx/conf.d");

sub run {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

# ------------------------------------------------------------ contents

my ($rc, $out) = run("dpkg-deb -c '$mod'");
is($rc, 0, 'dpkg-deb -c of the module package');
like($out, qr{ \./usr/lib/nginx/modules/ngx_http_oxmigrate_module\.so$}m, 'the .so in nginx\'s module dir');
like($out, qr{ \./usr/share/nginx/modules-available/mod-http-oxmigrate\.conf$}m,
     'the load file in modules-available (dh_nginx)');

($rc, $out) = run("dpkg-deb -c '$tools'");
like($out, qr{ \./usr/bin/oxmigrate$}m, 'tools: /usr/bin/oxmigrate');
for my $t (qw(upgradeschemata registerserver listdatabaseschema disableschema
              changeserver runupdate enableschema runallupdate listUpdateTasks
              forceupdatetask listupdatetasknamespaces checkdatabase
              unblockdatabase)) {
    like($out, qr{ \./usr/lib/oxmigrate/bin/$t -> \.\./\.\./\.\./bin/oxmigrate$}m, "tools: link $t");
}
for my $f (map { s{.*/}{}r } glob("$root/sql/*.sql")) {
    like($out, qr{ \./usr/share/oxmigrate/sql/\Q$f\E$}m, "tools: sql/$f");
}
like($out, qr{ \./usr/share/oxmigrate/sql/updatetasks/001_\S+\.sql$}m, 'tools: example update tasks');
like($out, qr{ \./usr/share/oxmigrate/conf\.d/admin\.conf$}m, 'tools: example confs');
like($out, qr{^-rwxr-xr-x .* \./usr/share/oxmigrate/contrib/oxmigrate-ox-password$}m,
     'tools: the node-side password wrapper, executable');
like($out, qr{ \./usr/share/doc/oxmigrate-tools/cli\.md\.gz$}m, 'tools: docs/cli.md');
like($out, qr{ \./usr/share/man/man1/oxmigrate\.1\.gz$}m, 'tools: the man page oxmigrate(1)');
like($out, qr{ \./usr/share/doc/oxmigrate-tools/openapi\.yaml$}m, 'tools: docs/openapi.yaml, uncompressed');
like($out, qr{ \./usr/share/doc/oxmigrate-tools/directives\.md\.gz$}m, 'tools: docs/directives.md');

(my $abi = `dpkg-query -W -f='\${Provides}' nginx`) =~ s/.*(nginx-abi-[\w.~+-]+).*/$1/s;
like($abi, qr/^nginx-abi-/, "this system's nginx provides $abi");
($rc, $out) = run("dpkg-deb -f '$mod' Depends");
like($out, qr/(^|, )\Q$abi\E(,|$)/m, "the module depends on $abi (dh_nginx)");
like($out, qr/libmariadb3/, '... and on libmariadb3');
like($out, qr/libhiredis/, '... libhiredis');
like($out, qr/libyajl2/, '... libyajl2 (shlibs)');
($rc, $out) = run("dpkg-deb -f '$tools' Depends");
like($out, qr/libcurl4/, 'the tools depend on libcurl4');

# ------------------------------------------------------------ unpacked, enabled

for my $d ($mod, $tools) {
    ($rc, $out) = run("dpkg-deb -x '$d' '$sr'");
    is($rc, 0, "unpacked " . ($d =~ s{.*/}{}r)) or diag $out;
}
($rc, $out) = run("dpkg-deb -e '$mod' '$tmp/control'");
is($rc, 0, 'control files');

# the package's maintainer scripts, with / moved to the scratch root
sub script {
    my ($name, @args) = @_;
    my $text = OxTest::_slurp("$tmp/control/$name") // return (1, "no $name");
    $text =~ s{/etc/nginx/}{$sr/etc/nginx/}g;
    $text =~ s{/usr/share/nginx/}{$sr/usr/share/nginx/}g;
    $text =~ s{dpkg-trigger --no-await nginx-reload}{true}g;
    OxTest::_spew("$tmp/$name.sh", $text);
    return run("sh '$tmp/$name.sh' " . join ' ', @args);
}

($rc, $out) = script('postinst', 'configure');
is($rc, 0, 'postinst configure') or diag $out;
my $link = "$sr/etc/nginx/modules-enabled/50-mod-http-oxmigrate.conf";
ok(-l $link, 'modules-enabled/50-mod-http-oxmigrate.conf is a link');
is(readlink($link), "$sr/usr/share/nginx/modules-available/mod-http-oxmigrate.conf",
   '... to the load file');
is(OxTest::_slurp($link), "load_module modules/ngx_http_oxmigrate_module.so;\n",
   'which loads the module from nginx\'s modules dir');

# Debian's layout: prefix /usr/share/nginx, modules -> ../../lib/nginx/modules
symlink('../../lib/nginx/modules', "$sr/usr/share/nginx/modules") or die $!;
my $port = OxTest::free_port();
OxTest::_spew("$sr/etc/nginx/nginx.conf", <<"EOF");
include $sr/etc/nginx/modules-enabled/*.conf;
pid $tmp/nginx-t.pid;
error_log $tmp/nginx-t.log;
events { }
http {
    include $sr/etc/nginx/conf.d/*.conf;
}
EOF
OxTest::_spew("$sr/etc/nginx/conf.d/oxmigrate.conf", <<"EOF");
oxmigrate_db host=127.0.0.1 port=$ENV{OXM_MYSQL_PORT} user=root database=configdb;
server {
    listen 127.0.0.1:$port;
    location /appsuite/api/ { oxmigrate on; oxmigrate_server oxserver-old; return 204; }
    location /oxmigrate/v1/ { auth_basic "x"; auth_basic_user_file /dev/null; oxmigrate_admin on; }
}
EOF
my $nginx_t = "/usr/sbin/nginx -p '$sr/usr/share/nginx/' -c '$sr/etc/nginx/nginx.conf' -t";
($rc, $out) = run($nginx_t);
is($rc, 0, 'nginx -t with the packaged module through modules-enabled') or diag $out;
like($out, qr/syntax is ok/, '... syntax is ok');

# ------------------------------------------------------------ the shipped confs, as installed

# Every file or directory a shipped conf names (outside comments) exists
# once the packages are installed: the packages create it, or nginx's own
# packages do (the log directory).  Then `nginx -t` with each balancer's
# conf and the admin API's enabled together, as the confs' comments say
# (/etc/nginx and /var/log/nginx moved into the scratch root).
my $shipped = "$sr/usr/share/oxmigrate/conf.d";
my @confs = map { s{.*/}{}r } glob("$shipped/*.conf");
is_deeply(\@confs, [qw(admin.conf primary.conf secondary.conf)], 'the shipped confs');
my %nginx_owns = map { chomp; $_ => 1 } `dpkg -L nginx-common nginx 2>/dev/null`;
ok(-d "$sr/etc/nginx/oxmigrate/updatetasks", 'the package creates /etc/nginx/oxmigrate/updatetasks');
for my $c (@confs) {
    my $text = OxTest::_slurp("$shipped/$c");
    $text =~ s/#.*//g;
    my %paths = map { $_ => 1 } $text =~ m{\s(/(?:etc|var|usr|run|opt)/[^\s;"]+)}g;
    for my $p (sort keys %paths) {
        (my $dir = $p) =~ s{/[^/]+$}{};
        my $where = -e "$sr$p" ? 'installed'
                  : -d "$sr$dir" ? 'its directory is installed'
                  : $nginx_owns{$p} || $nginx_owns{$dir} ? "nginx's" : undef;
        ok($where, "$c names $p: " . ($where // 'nobody creates it'));
    }
}
mkdir "$tmp/log";
rename("$sr/etc/nginx/conf.d/oxmigrate.conf", "$tmp/oxmigrate.conf") or die $!;
for my $set (['primary.conf', 'admin.conf'], ['secondary.conf', 'admin.conf']) {
    unlink glob("$sr/etc/nginx/conf.d/*.conf");
    for my $c (@$set) {
        my $text = OxTest::_slurp("$shipped/$c");
        $text =~ s{/etc/nginx/}{$sr/etc/nginx/}g;
        $text =~ s{/var/log/nginx/}{$tmp/log/}g;
        OxTest::_spew("$sr/etc/nginx/conf.d/$c", $text);
    }
    ($rc, $out) = run($nginx_t);
    is($rc, 0, "nginx -t with the installed @$set") or diag $out;
}
unlink glob("$sr/etc/nginx/conf.d/*.conf");
rename("$tmp/oxmigrate.conf", "$sr/etc/nginx/conf.d/oxmigrate.conf") or die $!;

# the version of the packages and of the packaged command: debian/changelog's
my $version = `dpkg-parsechangelog -l '$root/debian/changelog' -S Version`;
chomp $version;
is(`dpkg-deb -f '$_' Version`, "$version\n", "the version of " . s{.*/}{}r) for $mod, $tools;
is(`'$sr/usr/bin/oxmigrate' --version`, "oxmigrate $version\n", 'the packaged oxmigrate --version');

# the link is what loads it: prerm (remove) moves it aside
($rc, $out) = script('prerm', 'remove');
is($rc, 0, 'prerm remove');
ok(!-e $link && -l "$link.removed", 'the link is set aside (.removed)');
($rc, $out) = run($nginx_t);
isnt($rc, 0, 'without it nginx -t fails');
like($out, qr/unknown directive "oxmigrate_db"/, '... on the module\'s directive');
($rc, $out) = script('postinst', 'configure', '0.1.0');
ok(-l $link, 'a reinstall after remove enables it again');
($rc, $out) = script('postrm', 'purge');
ok(!-e $link && !-l "$link.removed", 'postrm purge removes it');
script('postinst', 'configure');

# ------------------------------------------------------------ the packaged CLI against the packaged module

my $site = OxAdmin::site('deb', schemas => 2, contexts => 2);
my $so = "$sr/usr/lib/nginx/modules/ngx_http_oxmigrate_module.so";
my $ng = OxTest::nginx(OxAdmin::admin_conf($site), db => $site->{db}, no_load => 1,
                       main => "load_module $so;\nthread_pool oxmigrate threads=4;");
my $netrc = "$tmp/netrc";
OxTest::_spew($netrc, "machine 127.0.0.1 login $OxAdmin::USER password $OxAdmin::PASS\n");
chmod 0600, $netrc;
local $ENV{OXMIGRATE_URL} = "http://127.0.0.1:" . $ng->port('A') . "/oxmigrate/v1";
local $ENV{OXMIGRATE_CREDENTIALS} = $netrc;

($rc, $out) = run("'$sr/usr/bin/oxmigrate' --help");
is($rc, 0, 'packaged oxmigrate --help');
($rc, $out) = run("'$sr/usr/bin/oxmigrate' checkdatabase");
is($rc, 0, 'packaged oxmigrate checkdatabase against the packaged module') or diag $out;
like($out, qr/^3 +oxdb +127\.0\.0\.1 +deb_1 +Needs update$/m, '... the seed\'s table');
($rc, $out) = run("'$sr/usr/lib/oxmigrate/bin/disableschema' -m deb_1");
is($rc, 0, 'the link disableschema -m') or diag $out;
is($out, "schema deb_1 disabled (2 contexts changed)\n", '... disabled the schema');
($rc, $out) = run("'$sr/usr/lib/oxmigrate/bin/enableschema' -m deb_1 -P wrong");
is($rc, 101, '... and a wrong password is 101');

done_testing();
