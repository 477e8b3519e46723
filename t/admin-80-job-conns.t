#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# A job reuses its connections (jobs' driver, jobsteps.c): one configdb
# connection passed from step to step and one per database host, reset
# between schemas.  12 schemas on one host must not cost a connection
# each: MariaDB's Connections counter says how many were opened while the
# job ran (nothing else talks to this test's MariaDB meanwhile but the
# counter's own reads).  Sabotage (a step closes its configdb connection
# instead of handing it back): 16 connections.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_conns', schemas => 12, contexts => 1);
my $ng = OxAdmin::nginx($site);
my $suite = OxAdmin::suite();

sub connections { $suite->sql("SHOW GLOBAL STATUS LIKE 'Connections'")->[0][1] }

my $c0 = connections();
my $r = OxAdmin::api($ng, POST => 'upgrade', json => { server => 'oxserver-new' });
is($r->{status}, 202, 'upgrade of 12 schemas: 202');

# no polling through the API or a client meanwhile (each opens its own
# connection): the driver's log line says when the job ended
my $done = OxTest::wait_for(sub {
    $ng->error_log =~ /job $r->{json}{job} ends: /;
}, 120, 0.2);
my $c1 = connections();
ok($done, 'the job ended');
is(OxAdmin::api($ng, GET => "jobs/$r->{json}{job}")->{json}{state}, 'done', '... done');

my $opened = $c1 - $c0;
ok($opened <= 8, "$opened connections opened for 12 schemas (the API call,"
                 . " the job's configdb and host connections, a counter read)");

done_testing();
