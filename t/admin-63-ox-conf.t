#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The OX connector's directives: what nginx refuses at start (one cluster
# only, no credentials, a credentials file that is not one safe
# "user:password" line, a bad via= or timeout, a credentials file open to
# group or others); and without oxmigrate_ox_tools: the SQL steps,
# "ox_caches":"not invalidated" in every answer and the job record, and
# one warning in the error log at start.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_oxconf', schemas => 2, contexts => 2);
my @s = @{ $site->{schemas} };
my $ox = OxAdmin::oxtools($site);
my $dir = OxTest::tmpdir();

sub check {
    my ($extra) = @_;
    my $conf = OxAdmin::admin_conf($site, extra => $extra);
    return OxTest::nginx_check($conf, db => $site->{db},
                               main => 'thread_pool oxmigrate threads=2;');
}

sub cred_file {
    my ($name, $text, $mode) = @_;
    open my $fh, '>', "$dir/$name" or die "$dir/$name: $!";
    print $fh $text;
    close $fh;
    chmod $mode // 0600, "$dir/$name";
    return "$dir/$name";
}

my $old = $ox->dir('old');
my $new = $ox->dir('new');
my $good = cred_file('good', "oxadminmaster:s3cr3t.pw\n");

my ($rc, $out) = check("oxmigrate_ox_tools old $old;"
                       . " oxmigrate_ox_credentials $good;");
isnt($rc, 0, 'only the old cluster: refused');
like($out, qr/needs both "old" and "new"/, 'says why');

($rc, $out) = check("oxmigrate_ox_tools old $old; oxmigrate_ox_tools new"
                    . " $new;");
isnt($rc, 0, 'no credentials: refused');
like($out, qr/needs "oxmigrate_ox_credentials"/, 'says why');

for my $bad ("nocolon\n", "a:\n", "a:b\nc:d\n", "-A:x\n", "a b:x\n") {
    my $f = cred_file('bad', $bad);
    ($rc, $out) = check("oxmigrate_ox_tools old $old; oxmigrate_ox_tools new"
                        . " $new; oxmigrate_ox_credentials $f;");
    (my $show = $bad) =~ s/\n/\\n/g;
    isnt($rc, 0, "credentials \"$show\": refused");
    unlike($out, qr/\Q$bad\E/, 'and not echoed') if $bad =~ /:/;
}

# like ssh with a private key (issue 17 f)
for my $mode (0644, 0640, 0604, 0620, 0602, 0666, 0610) {
    # a password no temporary path can contain by chance
    my $open = cred_file('open', "oxadminmaster:Secret_9!\n", $mode);
    ($rc, $out) = check("oxmigrate_ox_tools old $old; oxmigrate_ox_tools new"
                        . " $new; oxmigrate_ox_credentials $open;");
    my $m = sprintf '0%o', $mode;
    isnt($rc, 0, "a credentials file of mode $m: nginx -t fails");
    like($out, qr/open to others than its owner \(mode $m\)/, 'says why');
    unlike($out, qr/Secret_9!/, 'the password is not shown');
}
my $own = cred_file('own', "oxadminmaster:pw\n", 0400);
($rc, $out) = check("oxmigrate_ox_tools old $old; oxmigrate_ox_tools new"
                    . " $new; oxmigrate_ox_credentials $own;");
is($rc, 0, 'mode 0400: accepted') or diag $out;

# any character in the password (it travels in ADMIN_PASSWORD)
my $odd = cred_file('odd', "oxadminmaster:p !#\$&*?'\"\\ w:d\n");
($rc, $out) = check("oxmigrate_ox_tools old $old; oxmigrate_ox_tools new"
                    . " $new password_wrapper=/usr/local/sbin/w;"
                    . " oxmigrate_ox_credentials $odd;");
is($rc, 0, 'a password with !#$&*? \'"\\ and blanks: accepted') or diag $out;
unlike($out, qr/password_wrapper/, 'no warning with a wrapper on the new cluster');
($rc, $out) = check("oxmigrate_ox_tools old $old; oxmigrate_ox_tools new"
                    . " $new; oxmigrate_ox_credentials $odd;");
is($rc, 0, 'without a wrapper: accepted');
like($out, qr/no "password_wrapper=" on "oxmigrate_ox_tools new": the tools that take the password only as -P show it in the process list/,
     'with a warning');
($rc, $out) = check("oxmigrate_ox_tools old $old \"via=ssh x\"; oxmigrate_ox_tools"
                    . " new $new password_wrapper=/w; oxmigrate_ox_credentials $odd;");
isnt($rc, 0, 'via= without a wrapper and a password a remote shell splits:'
     . ' refused');
like($out, qr/"oxmigrate_ox_tools old" with "via=" needs "password_wrapper="/,
     'says why');
unlike($out, qr/!#/, 'and shows no password');

for my $bad ("oxmigrate_ox_tools old $old version=7.10;",
             "oxmigrate_ox_tools old $old version=7.x.0;",
             "oxmigrate_ox_tools old $old \"rmi=a b\";",
             "oxmigrate_ox_tools old $old password_wrapper=rel/w;",
             "oxmigrate_ox_tools old $old lock_idle=0;",
             "oxmigrate_ox_tools old $old \"via=a\" \"via=b\";",
             "oxmigrate_ox_tools middle $old;",
             "oxmigrate_ox_tools old relative/dir;",
             "oxmigrate_ox_tools old $old via=;",
             "oxmigrate_ox_tools old $old ssh=x;",
             "oxmigrate_ox_tools_timeout 0;",
             "oxmigrate_ox_tools_timeout 1h fast=1s;")
{
    ($rc, $out) = check($bad . " oxmigrate_ox_tools new $new;"
                        . " oxmigrate_ox_credentials $good;");
    isnt($rc, 0, "\"$bad\": refused");
}

($rc, $out) = check("oxmigrate_ox_tools old $old \"via=ssh -o BatchMode=yes"
                    . " oxadmin\@ox-old-1\"; oxmigrate_ox_tools new $new"
                    . " \"via=ssh -o BatchMode=yes oxadmin\@ox-xyz-1\";"
                    . " oxmigrate_ox_credentials $good;"
                    . " oxmigrate_ox_tools_timeout 12h quick=5m;");
is($rc, 0, 'a real site\'s configuration (ssh per cluster): accepted')
    or diag $out;
unlike($out, qr/not invalidated/, 'no warning with the tools');

# ------------------------------------------------ without the tools

my $ng = OxAdmin::nginx($site);
sub api { OxAdmin::api($ng, @_) }

my @warn = ($ng->error_log =~ /no "oxmigrate_ox_tools"/g);
is(scalar @warn, 1, 'one warning at start');
like($ng->error_log, qr/caches are not invalidated/, 'saying what it means');

my $r = api(POST => "schemas/$s[0]/disable");
is($r->{status}, 200, 'SQL disable: 200');
is($r->{json}{ox_caches}, 'not invalidated', 'ox_caches: not invalidated');
ok(!exists $r->{json}{ox}, 'no tool ran');
for my $step (qw(changeserver update enable)) {
    $r = api(POST => "schemas/$s[0]/$step",
             ($step eq 'changeserver' ? (json => { server_id => 8 }) : ()));
    is($r->{status}, 200, "SQL $step: 200");
    is($r->{json}{ox_caches}, 'not invalidated', "$step: not invalidated");
}
$r = api(POST => 'upgrade', json => { server => 'oxserver-xyz',
                                      continue => JSON::PP::true,
                                      dry_run => JSON::PP::true });
is($r->{json}{ox_caches}, 'not invalidated', 'dry_run: not invalidated');
is($r->{json}{steps}, 'disable, changeserver, update, enable',
   "SQL steps, OX's order");
$r = api(POST => 'upgrade', json => { server => 'oxserver-xyz',
                                      continue => JSON::PP::true });
is($r->{status}, 202, 'SQL upgrade: 202');
my $job = OxAdmin::wait_job($ng, $r->{json}{job});
is($job->{state}, 'done', 'done');
is($job->{ox_caches}, 'not invalidated', 'the job record: not invalidated');
is(api(GET => 'jobs')->{json}{jobs}[0]{ox_caches}, 'not invalidated',
   'also in the list');
is_deeply($ox->calls, [], 'no tool ran at all');

$ng->reload;
@warn = ($ng->error_log =~ /no "oxmigrate_ox_tools"/g);
is(scalar @warn, 2, 'warned once more at the reload, not per request');

done_testing();
