#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# One version (issue 19): debian/changelog's is the only one.  The module's
# oxmigrate_build_info and `oxmigrate --version` say it (config and
# cli/Makefile take it from the changelog), no source file defines another,
# and the packages carry it (t/51-deb.t checks the .deb files).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest;

my $root = OxTest::root();
my $tmp = OxTest::tmpdir();

my $version = `dpkg-parsechangelog -l '$root/debian/changelog' -S Version`;
chomp $version;
like($version, qr/^\d+\.\d+\.\d+$/, "debian/changelog: $version");

# the module
my $ng = OxTest::nginx(<<'EOF');
    server {
        listen 127.0.0.1:%%PORT_M%%;
        location = /metrics { oxmigrate_metrics; }
    }
EOF
my $r = OxTest::http(GET => '/metrics', port => $ng->port('M'));
my ($mod) = $r->{body} =~ /^oxmigrate_build_info\{version="([^"]*)"/m;
is($mod, $version, 'the module: oxmigrate_build_info{version=...}');

# the command, built from cli/ as the suite does (or $OXM_CLI)
my $cli = $ENV{OXM_CLI};
unless ($cli) {
    system("make -s -C '$root/cli' BUILD='$tmp' CFLAGS=-O0 >'$tmp/cli.log' 2>&1") == 0
        or BAIL_OUT('building cli/ failed: ' . (OxTest::_slurp("$tmp/cli.log") // ''));
    $cli = "$tmp/oxmigrate";
}
is(`'$cli' --version`, "oxmigrate $version\n", 'the command: oxmigrate --version');

# no source file defines a version of its own
my @own = grep { length }
          split /\n/, `cd '$root' && git grep -nE '#define +[A-Z_]*VERSION +"' -- '*.c' '*.h' 2>/dev/null`;
is_deeply(\@own, [], 'no #define ...VERSION "x" in the sources')
    or diag "use debian/changelog's version (config, cli/Makefile)";

done_testing();
