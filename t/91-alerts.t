#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The Prometheus alert rules (contrib/prometheus-alerts.yml) with promtool
# (Debian's prometheus package, scripts/deps.sh): they load, and their unit
# tests (contrib/prometheus-alerts.test.yml) pass: each alert fires on the
# input it is for, with the balancer's instance label, and none fires on a
# healthy balancer.  Every rule has such tests, and the tests catch the
# bugs of issue 19 (max without "by (instance)", buckets without
# "ignoring(le)").

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest;

my $root = OxTest::root();
my $promtool = `sh -c 'command -v promtool'`;
chomp $promtool;
plan skip_all => 'no promtool (scripts/deps.sh installs prometheus)' unless $promtool;

my $rules = "$root/contrib/prometheus-alerts.yml";
my $tests = "$root/contrib/prometheus-alerts.test.yml";

sub run {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = run("$promtool check rules '$rules'");
is($rc, 0, 'promtool check rules') or diag $out;
($rc, $out) = run("$promtool test rules '$tests'");
is($rc, 0, 'promtool test rules: every test passes') or diag $out;

# every alert is tested: fires (exp_alerts with its instance) and healthy
my @alerts = OxTest::_slurp($rules) =~ /^\s+- alert: (\w+)$/mg;
ok(@alerts >= 9, scalar(@alerts) . ' alerts');
my $t = OxTest::_slurp($tests);
my ($healthy) = $t =~ /healthy: no alert(.*)\z/s;
for my $a (@alerts) {
    like($t, qr/alertname: \Q$a\E\n\s+exp_alerts:\n\s+- exp_labels: \{[^}]*instance: "lb1:9145"/,
         "$a: a test where it fires for lb1, with instance");
    like($healthy // '', qr/alertname: \Q$a\E\}/, "$a: silent on the healthy balancer");
}

# the tests fail on the rules of before issue 19
my $tmp = OxTest::tmpdir();
for my $bug (['max by (instance)' => 'max', 'max() without by (instance)'],
             ['sum by (instance)' => 'max', 'the stale locks: max() without by (instance)'],
             ['- ignoring(le)' => '-', 'buckets subtracted without ignoring(le)']) {
    my ($fixed, $broken, $what) = @$bug;
    (my $r = OxTest::_slurp($rules)) =~ s/\Q$fixed\E/$broken/g;
    OxTest::_spew("$tmp/prometheus-alerts.yml", $r);
    OxTest::_spew("$tmp/prometheus-alerts.test.yml", $t);
    ($rc, $out) = run("$promtool test rules '$tmp/prometheus-alerts.test.yml'");
    isnt($rc, 0, "$what: the tests fail");
}

done_testing();
