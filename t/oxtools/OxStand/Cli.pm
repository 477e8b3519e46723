# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
package OxStand::Cli;

# Command-line parsing as OX's tools do it: commons-cli (PosixParser in
# 7.10.x, DefaultParser in 8.x) for the update-task tools, and OX's
# AdminParser/CLIParser (commons-cli PosixParser, errors re-worded) for the
# admin console tools; plus their help/usage texts.  See FORMATS.md 0.2/0.3.
#
# An option spec: { s => 'n', l => 'name', arg => 1, desc => '...',
#   argname => 'schemaName', req => 0, need => 'needed'|'possibly'|
#   'eitheror'|'notneeded' (AdminParser), hidden => 1 }.

use strict;
use warnings;
use Exporter qw(import);

our @EXPORT = qw(cc_parse cc_help admin_parse admin_usage);

sub _key { $_[0]{s} // $_[0]{l} }

sub _find {
    my ($opts, $tok) = @_;
    my $name = $tok;
    $name =~ s/^--?//;
    for my $o (@$opts) {
        return $o if defined $o->{s} && $o->{s} eq $name;
    }
    for my $o (@$opts) {
        return $o if defined $o->{l} && $o->{l} eq $name;
    }
    return undef;
}

# commons-cli: returns ($cmd, $error); $cmd->{key} = value (1 for flags),
# $cmd->{_args} the other arguments; $error = { kind, msg }
sub cc_parse {
    my ($args, $opts, %o) = @_;
    my @t = @$args;
    my (%cmd, @rest, %groupsel);
    my $set = sub {
        my ($opt, $val) = @_;
        my $k = _key($opt);
        if (defined $opt->{group}) {
            my $g = $groupsel{ $opt->{group} };
            if (defined $g && $g ne $k) {
                return { kind => 'already_selected',
                         msg => "The option '$k' was specified but an option"
                              . " from this group has already been selected:"
                              . " '$g'" };
            }
            $groupsel{ $opt->{group} } = $k;
        }
        $cmd{$k} = $val;
        $cmd{ $opt->{l} } = $val if defined $opt->{l};
        return undef;
    };
    my $value = sub {
        my ($opt) = @_;
        # PosixParser: the next token is a value unless it names an option;
        # DefaultParser (8.x): unless its first letter is a short option too
        if (!@t || (($t[0] =~ /^-/) && (_find($opts, $t[0] =~ s/=.*//r)
                    || (($o{parser} // '') eq 'default' && $t[0] =~ /^-(\w)/
                        && _find($opts, "-$1"))))) {
            return (undef, { kind => 'missing_arg',
                             msg => 'Missing argument for option: '
                                  . _key($opt) });
        }
        return (shift @t, undef);
    };
    while (@t) {
        my $tok = shift @t;
        if ($tok eq '--') { push @rest, @t; last }
        if ($tok =~ /^--(.+)$/) {
            my ($name, $v) = split /=/, $1, 2;
            my $opt = _find($opts, "--$name");
            return (undef, { kind => 'unrecognized',
                             msg => "Unrecognized option: $tok" })
                unless $opt;
            my $e;
            if ($opt->{arg} && !defined $v) { ($v, $e) = $value->($opt) }
            return (undef, $e) if $e;
            $e = $set->($opt, $opt->{arg} ? $v : 1);
            return (undef, $e) if $e;
            next;
        }
        if ($tok =~ /^-./) {
            my $opt = _find($opts, $tok);
            if (!$opt && length($tok) > 2) {
                # burst: -nSCHEMA, -abc
                my $first = _find($opts, '-' . substr($tok, 1, 1));
                if ($first) {
                    if ($first->{arg}) {
                        my $e = $set->($first, substr($tok, 2));
                        return (undef, $e) if $e;
                        next;
                    }
                    my $ok = 1;
                    for my $c (split //, substr($tok, 1)) {
                        my $f = _find($opts, "-$c");
                        if (!$f || $f->{arg}) { $ok = 0; last }
                    }
                    if ($ok) {
                        for my $c (split //, substr($tok, 1)) {
                            my $e = $set->(_find($opts, "-$c"), 1);
                            return (undef, $e) if $e;
                        }
                        next;
                    }
                }
            }
            return (undef, { kind => 'unrecognized',
                             msg => "Unrecognized option: $tok" })
                unless $opt;
            my ($v, $e) = (1, undef);
            ($v, $e) = $value->($opt) if $opt->{arg};
            return (undef, $e) if $e;
            $e = $set->($opt, $v);
            return (undef, $e) if $e;
            next;
        }
        push @rest, $tok;
    }
    $cmd{_args} = \@rest;
    return (\%cmd, undef) if $o{no_required};
    # required options and groups, in the order they were added
    my (@missing, %gdone);
    for my $opt (@$opts) {
        if (defined $opt->{group}) {
            my $g = $opt->{group};
            next if $gdone{$g}++;
            next unless $o{groups} && $o{groups}{$g};
            next if defined $groupsel{$g};
            my @m = grep { defined $_->{group} && $_->{group} eq $g } @$opts;
            push @missing, '[' . join(', ', map {
                (defined $_->{s} ? "-$_->{s}" : "--$_->{l}")
                . (defined $_->{desc} ? " $_->{desc}" : '') } @m) . ']';
            next;
        }
        next unless $opt->{req};
        push @missing, _key($opt) unless exists $cmd{ _key($opt) };
    }
    if (@missing) {
        return (undef, { kind => 'missing_opts',
                         msg => 'Missing required option'
                              . (@missing > 1 ? 's' : '') . ': '
                              . join(', ', @missing) });
    }
    return (\%cmd, undef);
}

# ----------------------------------------------------------- HelpFormatter

sub _wrap_pos {
    my ($text, $width, $start) = @_;
    my $p = index($text, "\n", $start);
    return $p + 1 if $p != -1 && $p <= $width;
    $p = index($text, "\t", $start);
    return $p + 1 if $p != -1 && $p <= $width;
    return -1 if $start + $width >= length $text;
    for ($p = $start + $width; $p >= $start; --$p) {
        my $c = substr($text, $p, 1);
        last if $c eq ' ' || $c eq "\n" || $c eq "\r";
    }
    return $p if $p > $start;
    $p = $start + $width;
    return $p == length($text) ? -1 : $p;
}

sub _wrapped {
    my ($width, $tab, $text) = @_;
    my $s = '';
    my $pos = _wrap_pos($text, $width, 0);
    if ($pos == -1) { return $text =~ s/\s+\z//r }
    $s .= (substr($text, 0, $pos) =~ s/\s+\z//r) . "\n";
    $tab = 1 if $tab >= $width;
    my $pad = ' ' x $tab;
    while (1) {
        $text = $pad . (substr($text, $pos) =~ s/^\s+|\s+\z//gr);
        $pos = _wrap_pos($text, $width, 0);
        return $s . $text if $pos == -1;
        $pos = $width if length($text) > $width && $pos == $tab - 1;
        $s .= (substr($text, 0, $pos) =~ s/\s+\z//r) . "\n";
    }
}

# HelpFormatter.printHelp(74, name, null, options, footer, false)
sub cc_help {
    my ($name, $opts, $footer) = @_;
    my $w = 74;
    my $s = _wrapped($w, 7, "usage: $name") . "\n";
    my @sorted = sort { lc(_key($a)) cmp lc(_key($b)) }
                 grep { !$_->{hidden} } @$opts;
    my @bufs;
    my $max = 0;
    for my $o (@sorted) {
        my $b = defined $o->{s} ? " -$o->{s}" . (defined $o->{l}
                                                 ? ",--$o->{l}" : '')
                                : "    --$o->{l}";
        $b .= ' <' . ($o->{argname} // 'arg') . '>' if $o->{arg};
        push @bufs, $b;
        $max = length $b if length $b > $max;
    }
    my @lines;
    for my $i (0 .. $#sorted) {
        my $b = $bufs[$i];
        $b .= ' ' x ($max + 3 - length $b);
        $b .= $sorted[$i]{desc} // '';
        push @lines, _wrapped($w, $max + 3, $b);
    }
    $s .= join("\n", @lines) . "\n";
    $s .= _wrapped($w, 0, $footer) . "\n"
        if defined $footer && $footer =~ /\S/;
    return $s;
}

# ------------------------------------------------------------ AdminParser

# CLIParser.parse + AdminParser.ownparse: returns ($vals, $error) with
# $error = { code, msg, usage } (msg without "Error: ")
sub admin_parse {
    my ($args, $opts) = @_;
    my ($cmd, $e) = cc_parse($args, $opts, no_required => 1);
    if ($e) {
        if ($e->{kind} eq 'unrecognized') {
            (my $o = $e->{msg}) =~ s/^[^:]*://;
            return (undef, { code => 111, usage => 1,
                msg => "Unrecognized options on the command line: "
                     . "Unknown option ``$o'" });
        }
        (my $o = $e->{msg}) =~ s/^[^:]*://;
        return (undef, { code => 111, usage => 1,
            msg => "Unrecognized options on the command line: "
                 . "Missing argument for option '$o'" });
    }
    my @rest = @{ $cmd->{_args} };
    if (@rest) {
        return (undef, { code => 111, usage => 1,
            msg => "Unrecognized options on the command line: "
                 . "Unknown option ``$rest[0]'" });
    }
    return ($cmd, { help => 1 }) if $cmd->{help};
    return ($cmd, { environment => 1 }) if $cmd->{environment};
    my @miss = map { $_->{l} } grep { ($_->{need} // '') eq 'needed'
                                       && !defined $cmd->{ $_->{l} } } @$opts;
    if (@miss) {
        return (undef, { code => 104, usage => 1,
            msg => 'Option(s) "' . join(',', @miss) . '" missing' });
    }
    return ($cmd, undef);
}

my %MARK = (needed => '*', possibly => '?', eitheror => '|');

# AdminParser.printUsage
sub admin_usage {
    my ($app, $opts) = @_;
    my $s = "Usage: $app \n";
    for my $o (grep { !$_->{hidden} && !$_->{extended} } @$opts) {
        my $long = "--$o->{l}";
        $long .= " <" . ($o->{argname} // $o->{l}) . ">" if $o->{arg};
        my $m = $MARK{ $o->{need} // '' } // ' ';
        if (defined $o->{s}) {
            $s .= sprintf(" %s,%-45s%-2s%-28s\n", "-$o->{s}", $long, $m,
                          $o->{desc} // '');
        } else {
            $s .= sprintf(" %s %-45s%-2s%-28s\n", '  ', $long, $m,
                          $o->{desc} // '');
        }
    }
    $s .= "\nEntries marked with an asterisk (*) are mandatory.\n"
        . "Entries marked with an question mark (?) are mandatory depending"
        . " on your\nconfiguration.\n"
        . "Entries marked with a pipe (|) are mandatory for one another"
        . " which means that\nat least one of them must be set.\n\n";
    return $s;
}

1;
