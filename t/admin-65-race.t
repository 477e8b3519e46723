#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Concurrent disable, enable and changeserver of one schema (SQL steps):
# MariaDB's deadlocks (1213) and lock wait timeouts (1205) are retried, so
# no call answers 500; a refused changeserver is always a well-formed 409
# schema_not_disabled naming enabled contexts (never "schema_empty" with an
# empty list).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MIME::Base64 qw(encode_base64);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_race', schemas => 1, contexts => 40);
my $s = $site->{schemas}[0];
my $ng = OxAdmin::nginx($site, pool => 'threads=16');

my %h = (Authorization => 'Basic '
         . encode_base64("$OxAdmin::USER:$OxAdmin::PASS", ''),
         'Content-Type' => 'application/json');
my @kinds = ([ 'disable', undef ], [ 'enable', undef ],
             [ 'changeserver', '{"server_id":8}' ],
             [ 'changeserver', '{"server_id":2}' ]);

my (%status, @bad);
for my $round (1 .. 15) {
    my @reqs = map {
        my $k = $kinds[$_ % 4];
        [ 'POST', "/oxmigrate/v1/schemas/$s/$k->[0]",
          headers => \%h, (defined $k->[1] ? (body => $k->[1]) : ()) ]
    } 0 .. 23;
    my @r = OxTest::http_many(\@reqs, port => $ng->port('A'), timeout => 30);
    for my $i (0 .. $#r) {
        my $st = $r[$i]{status} // 0;
        $status{$st}++;
        my $j = OxTest::json($r[$i]{body}) // {};
        if ($st == 409) {
            my $code = $j->{error}{code} // '';
            push @bad, "409 $code: $j->{error}{message}"
                unless $code eq 'schema_not_disabled'
                    && @{ $j->{enabled_contexts} // [] }
                    && $j->{error}{message} =~ /enabled: \[\d+(, \d+)*/;
        } elsif ($st != 200) {
            push @bad, "$st: $r[$i]{body}";
        }
    }
}

diag(join ', ', map { "$_: $status{$_}" } sort keys %status);
is(scalar @bad, 0, '360 concurrent calls: only 200 and well-formed 409')
    or diag(join "\n", @bad[0 .. ($#bad > 9 ? 9 : $#bad)]);
ok($status{200} > 0, 'some changed the schema');
my $retried = () = $ng->error_log =~ /trying again/g;
diag("$retried statements retried after a deadlock or lock wait timeout");

done_testing();
