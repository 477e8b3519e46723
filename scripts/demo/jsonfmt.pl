#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Prints a JSON answer of the admin API for the demo: as compact as the API
# sends it when it fits the line, else one member per line, keys in the
# order the API wrote them (a decode/encode round trip would sort them).
# Anything that is not JSON (nginx's own HTML pages) is shortened to its
# <title>.
#
#   curl -s ... | perl scripts/demo/jsonfmt.pl [WIDTH]
use strict;
use warnings;

my $width = $ARGV[0] || 88;
my $text = do { local $/; <STDIN> } // '';
my $pos = 0;

sub ws { $text =~ /\G\s*/gc }

# a value as [type, ...]: ['s', raw] for scalars (the raw text is kept, so
# strings and numbers print exactly as sent), ['o', [[key, value], ...]],
# ['a', [value, ...]]
sub value {
    ws();
    if ($text =~ /\G\{/gc) {
        my @m;
        ws();
        return ['o', \@m] if $text =~ /\G\}/gc;
        while (1) {
            ws();
            $text =~ /\G("(?:[^"\\]|\\.)*")/gc or die "key\n";
            my $k = $1;
            ws();
            $text =~ /\G:/gc or die ":\n";
            push @m, [$k, value()];
            ws();
            next if $text =~ /\G,/gc;
            last if $text =~ /\G\}/gc;
            die "}\n";
        }
        return ['o', \@m];
    }
    if ($text =~ /\G\[/gc) {
        my @e;
        ws();
        return ['a', \@e] if $text =~ /\G\]/gc;
        while (1) {
            push @e, value();
            ws();
            next if $text =~ /\G,/gc;
            last if $text =~ /\G\]/gc;
            die "]\n";
        }
        return ['a', \@e];
    }
    return ['s', $1]
        if $text =~ /\G("(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null)/gc;
    die "value\n";
}

sub compact {
    my ($v) = @_;
    return $v->[1] if $v->[0] eq 's';
    return '{' . join(',', map { "$_->[0]:" . compact($_->[1]) } @{ $v->[1] })
         . '}' if $v->[0] eq 'o';
    return '[' . join(',', map { compact($_) } @{ $v->[1] }) . ']';
}

# $lead: what stands before the value on its first line (indent, key)
sub pretty {
    my ($v, $indent, $lead) = @_;
    my $c = compact($v);
    return $c if $v->[0] eq 's' || length($lead) + length($c) <= $width
                 || !@{ $v->[1] };
    my $in = "$indent  ";
    my @lines = $v->[0] eq 'o'
        ? map { "$in$_->[0]: " . pretty($_->[1], $in, "$in$_->[0]: ") }
              @{ $v->[1] }
        : map { $in . pretty($_, $in, $in) } @{ $v->[1] };
    my ($open, $close) = $v->[0] eq 'o' ? ('{', '}') : ('[', ']');
    return "$open\n" . join(",\n", @lines) . "\n$indent$close";
}

my $tree = eval { my $v = value(); ws(); $pos = pos($text) // 0;
                  die "trailing\n" if $pos != length $text; $v };
if ($tree) {
    print pretty($tree, '', ''), "\n";
} elsif ($text =~ m{<title>\s*(.*?)\s*</title>}is) {
    print "(HTML page: $1)\n";
} elsif ($text =~ /\S/) {
    print $text, ($text =~ /\n\z/ ? '' : "\n");
}
