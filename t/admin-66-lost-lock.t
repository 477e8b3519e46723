#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# OX's lock taken over by another process while the LAST update task runs
# (SQL runner): the update is an error (500 update_error naming the lost
# lock), not a 200; the job marks the schema failed; the other holder's
# lock row stays.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_lost', schemas => 2, contexts => 1);
my @s = @{ $site->{schemas} };
my $tasks = OxAdmin::tasks(
    '010_a.sql' => "-- task: t.A\nSELECT 1;\n",
    '020_slow.sql' => "-- task: t.Slow\nSELECT SLEEP(3);\n",
);
my $ng = OxAdmin::nginx($site, tasks => $tasks, refresh => '1s',
                        idle => '3s');
my $U = '8d8b93e559794baca39daef8f87087a1';

sub take_over {
    my ($schema) = @_;
    # wait for our lock, then do what a second runner does after idle
    OxTest::wait_for(sub {
        eval { OxAdmin::schema_sql($schema, "SELECT 1 FROM updateTask WHERE"
            . " taskName = 't.A'")->[0] } }, 10, 0.05);
    OxAdmin::schema_sql($schema, "UPDATE updateTask SET lastModified ="
        . " lastModified + 424242 WHERE cid = 0 AND uuid = UNHEX('$U')");
}

my $call = OxTest::http_start('POST', "/oxmigrate/v1/schemas/$s[0]/update",
    port => $ng->port('A'), timeout => 30,
    headers => { Authorization => 'Basic ' . MIME::Base64::encode_base64(
                 "$OxAdmin::USER:$OxAdmin::PASS", '') });
take_over($s[0]);
my $r = $call->wait;
my $j = OxTest::json($r->{body});
is($r->{status}, 500, 'lock lost during the last task: 500');
is($j->{error}{code}, 'update_error', 'update_error');
like($j->{error}{message}, qr/taken over by another process/, 'says so');
is_deeply($j->{executed}, [ 't.A', 't.Slow' ], 'what ran is listed');
is(OxAdmin::schema_sql($s[0], "SELECT COUNT(*) FROM updateTask WHERE"
   . " uuid = UNHEX('$U')")->[0][0], 1, "the other holder's lock stays");

$r = OxAdmin::api($ng, POST => 'upgrade', json => {
    server => 'oxserver-xyz', continue => JSON::PP::true,
    skip => [ $s[0] ] });
is($r->{status}, 202, 'an upgrade of the other schema');
take_over($s[1]);
my $job = OxAdmin::wait_job($ng, $r->{json}{job});
is($job->{state}, 'failed', 'the job failed');
like($job->{schemas}[0]{message} // '', qr/taken over/, 'schema failed: lost'
     . ' lock');
is_deeply($site->{db}->sql("SELECT DISTINCT c.enabled, p.server_id FROM"
          . " context c JOIN context_server2db_pool p USING (cid) WHERE"
          . " p.db_schema = '$s[1]'"), [ [ 0, 8 ] ],
          "it stays disabled, on the new server (OX's order moved it)");

done_testing();
