# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Checks an answer of the admin API against docs/openapi.yaml: the
# operation (method and path), the status, and the JSON body against the
# schema of that response (the subset of JSON Schema the document uses:
# type, required, properties, additionalProperties, items, enum, const,
# oneOf, allOf, $ref, maxLength, minimum, maximum).
#
#   my @errors = OxOpenAPI::check(METHOD, PATH_BELOW_V1, STATUS, JSON);
#
# t/94-openapi.t; OxAdmin::api checks every answer of the admin tests with
# it (issue 19; OXM_OPENAPI=0 turns that off).
package OxOpenAPI;

use strict;
use warnings;
use B ();
use Scalar::Util qw(blessed);
use YAML::XS ();
use OxTest;

my $doc;

sub doc { $doc //= YAML::XS::LoadFile(OxTest::root() . '/docs/openapi.yaml') }

sub deref {
    my ($o) = @_;
    while (ref $o eq 'HASH' && $o->{'$ref'}) {
        my @path = split m{/}, $o->{'$ref'} =~ s{^#/}{}r;
        $o = doc();
        $o = $o->{$_} for @path;
    }
    return $o;
}

# the operation of METHOD and a concrete path ("schemas/x/disable")
sub operation {
    my ($method, $path) = @_;
    $path =~ s/\?.*//;
    my @seg = split m{/}, $path, -1;
    for my $p (keys %{ doc()->{paths} }) {
        my @t = split m{/}, $p =~ s{^/}{}r, -1;
        next unless @t == @seg;
        my $ok = 1;
        for my $i (0 .. $#t) {
            next if $t[$i] =~ /^\{/;
            $ok = 0, last if $t[$i] ne $seg[$i];
        }
        next unless $ok;
        my $op = doc()->{paths}{$p}{ lc $method } or next;
        return ($op, "$method $p");
    }
    return;
}

sub check {
    my ($method, $path, $status, $json) = @_;
    my ($op, $name) = operation($method, $path);
    # no such route (404 not_found) or method (405 method_not_allowed):
    # the Error object, as the document's description says
    if (!$op && ($status == 404 || $status == 405)) {
        return map { "$method /$path $status: $_" }
               validate($json, { '$ref' => '#/components/schemas/Error' }, '$');
    }
    return ("no operation for $method /$path in docs/openapi.yaml") unless $op;
    my $resp = deref($op->{responses}{$status})
        or return ("$name: status $status is not documented");
    my $schema = $resp->{content}{'application/json'}{schema}
        or return ();
    return ("$name $status: the body is not JSON") unless defined $json;
    return map { "$name $status: $_" } validate($json, $schema, '$');
}

sub _type {
    my ($v) = @_;
    return 'null' unless defined $v;
    return 'boolean' if blessed($v) && $v->isa('JSON::PP::Boolean');
    return 'object' if ref $v eq 'HASH';
    return 'array' if ref $v eq 'ARRAY';
    my $f = B::svref_2object(\$v)->FLAGS;
    if ($f & (B::SVp_IOK | B::SVp_NOK)) {
        return $v == int($v) ? 'integer' : 'number';
    }
    return 'string';
}

sub validate {
    my ($v, $s, $at) = @_;
    $s = deref($s);
    return () unless ref $s eq 'HASH';
    my @e;
    my $t = _type($v);
    if (my $want = $s->{type}) {
        my @w = ref $want ? @$want : ($want);
        my $ok = grep { $_ eq $t || ($_ eq 'number' && $t eq 'integer') } @w;
        return ("$at: $t, not " . join('|', @w)) unless $ok;
    }
    if ($s->{enum}) {
        push @e, "$at: '" . ($v // 'null') . "' is not one of the enum"
            unless grep { (defined $_ ? $_ : "\0null") eq (defined $v ? "$v" : "\0null") } @{ $s->{enum} };
    }
    if (exists $s->{const}) {
        push @e, "$at: not the const $s->{const}"
            unless defined $v && "$v" eq (ref $s->{const} ? ($s->{const} ? 1 : 0) : "$s->{const}")
                   || _type($v) eq 'boolean' && !!$v == !!$s->{const};
    }
    push @e, "$at: longer than $s->{maxLength}"
        if $t eq 'string' && defined $s->{maxLength} && length $v > $s->{maxLength};
    push @e, "$at: below $s->{minimum}"
        if $t =~ /integer|number/ && defined $s->{minimum} && $v < $s->{minimum};
    push @e, "$at: above $s->{maximum}"
        if $t =~ /integer|number/ && defined $s->{maximum} && $v > $s->{maximum};
    if ($t eq 'object') {
        for my $r (@{ $s->{required} // [] }) {
            push @e, "$at: no $r" unless exists $v->{$r};
        }
        my $props = $s->{properties} // {};
        for my $k (sort keys %$v) {
            if ($props->{$k}) {
                push @e, validate($v->{$k}, $props->{$k}, "$at.$k");
            } elsif (defined $s->{additionalProperties} && !ref $s->{additionalProperties}
                     && !$s->{additionalProperties}) {
                push @e, "$at: $k is not allowed";
            }
        }
    }
    if ($t eq 'array' && $s->{items}) {
        push @e, validate($v->[$_], $s->{items}, "$at\[$_]") for 0 .. $#$v;
    }
    for my $sub (@{ $s->{allOf} // [] }) {
        push @e, validate($v, $sub, $at);
    }
    if ($s->{oneOf}) {
        my $n = grep { !validate($v, $_, $at) } @{ $s->{oneOf} };
        push @e, "$at: matches $n of oneOf, not 1" unless $n == 1;
    }
    return @e;
}

1;
