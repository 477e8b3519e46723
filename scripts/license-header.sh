#!/bin/sh
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The one copyright and license line every source file carries (LICENSE:
# BSD-2-Clause).  Idempotent: a file that has the line is left alone.
#
#   scripts/license-header.sh [PATH...]     add the line where it is missing
#   scripts/license-header.sh --check [PATH...]
#                                           list the files without it; exit 1
#
# PATHs are files or directories of the repository (default: all of it;
# git pathspecs, e.g. `. ':!admin-api'`); the source files are the tracked
# ones (git ls-files) that match the patterns below: C, shell, Perl, SQL,
# make, nginx, Prometheus and roff files.  The line goes first, or after a
# "#!" line, in the file's comment syntax.
set -eu

cd "$(dirname "$0")/.."

check=0
[ "${1:-}" = "--check" ] && { check=1; shift; }

git ls-files -z -- "$@" | CHECK=$check perl -0 -ne '
    BEGIN { $text = "Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE." }
    chomp;
    my $f = $_;
    next unless -f $f;
    my $h;
    if ($f =~ /\.[ch]$/) {
        $h = "/* $text */";
    } elsif ($f =~ /\.sql$/) {
        $h = "-- $text";
    } elsif ($f =~ /\.[1-9]$/) {
        $h = ".\\\" $text";
    } elsif ($f =~ m{(\.(sh|pl|pm|t|conf|template|ya?ml)|(^|/)Makefile|/rules|^config|^Dockerfile)$}) {
        $h = "# $text";
    } else {
        open my $in, "<", $f or next;
        read $in, my $start, 64;
        $h = "# $text" if ($start // "") =~ m{^#!(/bin/(ba)?sh|/usr/bin/perl|/usr/bin/env)};
    }
    next unless defined $h;
    open my $in, "<", $f or die "$f: $!";
    my @lines = do { local $/ = "\n"; <$in> };
    close $in;
    next if grep { defined && s/\n\z//r eq $h } @lines[0 .. 2];
    if ($ENV{CHECK}) {
        push @missing, $f;
        next;
    }
    my $at = @lines && $lines[0] =~ /^#!/ ? 1 : 0;
    splice @lines, $at, 0, "$h\n";
    my $mode = (stat $f)[2] & 07777;
    open my $out, ">", "$f.license-header.$$" or die "$f: $!";
    print $out @lines;
    close $out or die "$f: $!";
    chmod $mode, "$f.license-header.$$";
    rename "$f.license-header.$$", $f or die "$f: $!";
    print "license-header: $f\n";
    END {
        if (@missing) {
            print "missing the line \"$text\" (scripts/license-header.sh adds it):\n",
                  map { "$_\n" } @missing;
            $? = 1;
        }
    }
'
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
