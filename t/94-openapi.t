#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# docs/openapi.yaml (issue 19) cannot disagree with the admin API's code:
#   - it is a valid OpenAPI 3.1 document: `redocly lint` (the pinned Redocly
#     CLI that scripts/deps.sh installs) with its recommended rules passes;
#   - every route of the route table (the admin-api/ C files) is a path and
#     method in it, with every body field of the route's field table in its
#     request body, and it describes no route the table does not have;
#   - every error code the code answers (and the errors table of
#     docs/admin-api.md) is in its ErrorCode enum;
#   - the real answers of a running admin API (every GET, the schema steps,
#     a job, errors) are valid against it (t/lib/OxOpenAPI.pm, which
#     OxAdmin::api applies to every answer under OXM_OPENAPI=1), and a
#     deliberately wrong answer is not.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use YAML::XS ();
use OxTest;
use OxAdmin;
use OxOpenAPI;

my $root = OxTest::root();
my $file = "$root/docs/openapi.yaml";

# ------------------------------------------------------------ lint

my $redocly = `'$root/scripts/deps.sh' --redocly-path` =~ s/\s+$//r
              . '/node_modules/.bin/redocly';
if (-x $redocly) {
    my $out = `REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICES=true NO_COLOR=1 '$redocly' lint --format=stylish '$file' 2>&1`;
    is($? >> 8, 0, 'redocly lint docs/openapi.yaml') or diag $out;
    unlike($out, qr/You have \d+ warning/, '... without warnings') or diag $out;
} else {
    fail("no Redocly CLI at $redocly: run scripts/deps.sh");
}

# ------------------------------------------------------------ the route table

my $api = YAML::XS::LoadFile($file);
is($api->{openapi}, '3.1.0', 'OpenAPI 3.1');

my (%fields, @routes);
for my $f (split /\n/, `cd '$root' && git ls-files -co --exclude-standard 'admin-api/*.c' 'admin-api/**/*.c'`) {
    my $c = OxTest::_slurp("$root/$f") // next;
    while ($c =~ /ngx_http_oxmigrate_field_t\s+(\w+)\[\]\s*=\s*\{(.*?)\{\s*NULL/sg) {
        my ($name, $body) = ($1, $2);
        $fields{$name} = [ $body =~ /\{\s*"(\w+)",/g ];
    }
    # { method, path, action, service, answer, fields, work }
    while ($c =~ /\{\s*NGX_HTTP_(GET|POST|PATCH|PUT|DELETE),\s*"([^"]+)",\s*(?:"\w+"|NULL),\s*\w+,\s*\w+,\s*(\w+|NULL),\s*\d+\s*\}/sg) {
        push @routes, { method => lc $1, path => $2, fields => $3, file => $f };
    }
}
ok(@routes >= 26, scalar(@routes) . ' routes in the route table');

# the document's paths with {param} as "*"
my %doc;
for my $p (keys %{ $api->{paths} }) {
    (my $k = $p) =~ s/\{[^}]+\}/*/g;
    $k =~ s{^/}{};
    for my $m (grep { /^(get|post|patch|put|delete)$/ } keys %{ $api->{paths}{$p} }) {
        $doc{"$m $k"} = $api->{paths}{$p}{$m};
    }
}

sub deref {
    my ($o) = @_;
    while (ref $o eq 'HASH' && $o->{'$ref'}) {
        my @path = split m{/}, $o->{'$ref'} =~ s{^#/}{}r;
        $o = $api;
        $o = $o->{$_} for @path;
    }
    return $o;
}

for my $r (@routes) {
    my $key = "$r->{method} $r->{path}";
    my $op = $doc{$key};
    ok($op, "docs/openapi.yaml: " . uc($r->{method}) . " /$r->{path}")
        or diag "add it to docs/openapi.yaml (a route of $r->{file})";
    next unless $op;
    ok(exists $op->{responses}{401}, "... its 401");
    my @f = $r->{fields} eq 'NULL' ? () : @{ $fields{ $r->{fields} } // [] };
    next unless @f;
    my $schema = deref(deref(deref($op->{requestBody}) // {})->{content}{'application/json'}{schema});
    for my $f (@f) {
        ok($schema && exists $schema->{properties}{$f}, "... its body field $f")
            or diag "the route's field table $r->{fields} has \"$f\"";
    }
}
my %table = map { ("$_->{method} $_->{path}" => 1) } @routes;
for my $k (sort keys %doc) {
    ok($table{$k}, "the route table has $k");
}

# ------------------------------------------------------------ error codes

my %code;
for my $f (split /\n/, `cd '$root' && git ls-files -co --exclude-standard 'admin-api/*.c' 'admin-api/**/*.c'`) {
    my $c = OxTest::_slurp("$root/$f") // next;
    while ($c =~ /\b\w*error\w*\s*\(([^;]*);/g) {
        $code{$_} //= $f for $1 =~ /"([a-z]+(?:_[a-z]+)+|UPD-\d+)"/g;
    }
    $code{$_} //= $f for $c =~ /\bcode\s*=\s*"([a-z]+(?:_[a-z]+)+|UPD-\d+)"/g;
    # the answer layer's reasons: { "code[#variant]", NGX_HTTP_... }
    $code{$_} //= $f for $c =~ /\{\s*"([a-z]+(?:_[a-z]+)+|UPD-\d+)(?:#\w+)?",\s*NGX_HTTP_\w+\s*\}/g;
}
my $md = OxTest::_slurp("$root/docs/admin-api.md") // '';
my ($table) = $md =~ /^\*\*Errors\.\*\*.*?\n\n(\| status.*?)\n\n/ms;
ok($table, 'docs/admin-api.md: the errors table');
for my $line (split /\n/, $table // '') {
    next unless $line =~ /^\| (\d{3}) \| (.*) \|$/;
    my $codes = $2;
    $code{$_} //= 'docs/admin-api.md' for map { /^(?:[a-z]+(?:_[a-z]+)*|UPD-\d+)$/ && !/^oxmigrate_/ ? $_ : () }
                                           $codes =~ /`([^`]+)`/g;
}
ok(keys %code >= 30, scalar(keys %code) . ' error codes');
my %enum = map { $_ => 1 } @{ $api->{components}{schemas}{ErrorCode}{enum} // [] };
for my $c (sort keys %code) {
    ok($enum{$c}, "ErrorCode has $c") or diag "answered in $code{$c}";
}
like(YAML::XS::Dump($api->{components}{schemas}{Error}), qr/ErrorCode/, 'the Error object names its code');

# ------------------------------------------------------------ real answers

{
    local $ENV{OXM_OPENAPI} = 1;
    my $site = OxAdmin::site('openapi', schemas => 2, contexts => 2);
    my ($s1, $s2) = @{ $site->{schemas} };
    my $ng = OxAdmin::nginx($site);
    my $api = sub { OxAdmin::api($ng, @_) };
    $api->(GET => $_) for 'servers', 'schemas', "schemas/$s1", 'databases/check',
        'updatetasks/namespaces', "schemas/$s1/updatetasks?state=all", 'jobs',
        'audit?limit=5', 'lookup?login=alice%40ctx1.example.com&primary=oxserver-old';
    $api->(POST => 'servers', json => { name => 'oxserver-openapi' });
    $api->(POST => 'servers', json => { name => 'oxserver-openapi' });       # 409
    $api->(POST => "schemas/$s1/disable");
    $api->(POST => "schemas/$s1/changeserver", json => { server => 'oxserver-openapi' });
    $api->(POST => "schemas/$s1/update");
    $api->(POST => "schemas/$s1/enable");
    $api->(POST => "schemas/nosuch/disable");                                # 404
    $api->(POST => "schemas/$s2/changeserver", json => { server_id => 8 });  # 409
    $api->(POST => 'upgrade', json => { server => 'oxserver-xyz', dry_run => JSON::PP::true });
    my $r = $api->(POST => 'upgrade', json => { server => 'oxserver-xyz', continue => JSON::PP::true });
    my $job = $r->{json}{job} // 0;
    is($r->{status}, 202, 'the sample started a job');
    OxAdmin::wait_job($ng, $job, 60);
    $api->(GET => "jobs/$job");
    $api->(POST => "jobs/$job/pause");                                       # 409
    $api->(PATCH => "jobs/$job", json => { parallel => 2 });
    $api->(GET => 'jobs');
    $api->(POST => 'servers', json => { nmae => 'x' });                      # 400
    $api->(GET => 'no/such/route');                                          # 404
    $api->(DELETE => 'servers');                                             # 405
}

# a deliberately wrong answer fails the validation
my @e = OxOpenAPI::check('POST', 'schemas/x/disable', 200,
                         { schema => 'x', contexts => '3', cache_invalidation => 'redis epoch' });
like("@e", qr/\$\.contexts: string, not integer/, 'a count as a string is refused');
@e = OxOpenAPI::check('POST', 'schemas/x/disable', 200, { schema => 'x', contexts => 3 });
like("@e", qr/no cache_invalidation/, 'a missing field is refused');
@e = OxOpenAPI::check('GET', 'jobs/7', 200, { id => 7, kind => 'upgrade', state => 'sleeping' });
like("@e", qr/\$\.state: 'sleeping' is not one of the enum/, 'a state outside the enum is refused');
@e = OxOpenAPI::check('POST', 'servers', 418, { });
like("@e", qr/status 418 is not documented/, 'an undocumented status is refused');
@e = OxOpenAPI::check('POST', 'servers', 409, { error => { code => 'server_taken', message => 'm' } });
like("@e", qr/server_taken' is not one of the enum/, 'an undocumented error code is refused');

done_testing();
