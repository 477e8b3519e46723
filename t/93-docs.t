#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The reference documentation cannot drift from the code (issue 19):
#   - docs/directives.md has a Syntax/Default/Context entry for every
#     directive of the ngx_command_t tables of both modules (found in every
#     C file of the repository), with the context the table gives, "on |
#     off" for a flag, no arguments where it takes none; and documents no
#     directive the code does not have;
#   - oxmigrate.1 (cli/oxmigrate.1, the man page oxmigrate-tools installs)
#     names every command, long option and exit code of cli/, and man
#     renders it without a warning.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest;

my $root = OxTest::root();

# ------------------------------------------------------------ the directive tables

my %ctx_name = (NGX_HTTP_MAIN_CONF => 'http', NGX_HTTP_SRV_CONF => 'server',
                NGX_HTTP_LOC_CONF => 'location');
my (%code, @order);
for my $file (split /\n/, `cd '$root' && git ls-files -co --exclude-standard '*.c'`) {
    my $c = OxTest::_slurp("$root/$file") // next;
    while ($c =~ /static\s+ngx_command_t\s+(\w+)\[\]\s*=\s*\{(.*?)ngx_null_command/sg) {
        my ($table, $body) = ($1, $2);
        my $module = $table =~ /admin/ ? 'ngx_http_oxmigrate_admin_module'
                                       : 'ngx_http_oxmigrate_module';
        while ($body =~ /\{\s*ngx_string\("([^"]+)"\),\s*([A-Z0-9_|\s]+),/g) {
            my ($name, $flags) = ($1, $2);
            my @f = split /\s*\|\s*/, $flags =~ s/\s+//gr;
            my @ctx = map { $ctx_name{$_} } grep { $ctx_name{$_} } @f;
            my ($args) = grep { /^NGX_CONF_/ } @f;
            $code{$name} = { file => $file, table => $table, module => $module,
                             context => join(', ', @ctx), args => $args // '' };
            push @order, $name;
        }
    }
}
ok(@order >= 30, scalar(@order) . ' directives in the code');
ok($code{oxmigrate} && $code{oxmigrate_admin}, '... of both modules');

my $doc = OxTest::_slurp("$root/docs/directives.md") // '';
my %doc;
while ($doc =~ /^### (\S+)\n\n```\n(Syntax: .*?)\n```\n/msg) {
    $doc{$1} = $2;
}

sub entry {
    my ($n) = @_;
    my $d = $code{$n};
    my $syntax = $d->{args} eq 'NGX_CONF_FLAG' ? "$n on | off;"
               : $d->{args} eq 'NGX_CONF_NOARGS' ? "$n;" : "$n ...;";
    my $default = $d->{args} eq 'NGX_CONF_FLAG' ? "$n off;" : "—";
    return "### $n\n\n```\nSyntax:  $syntax\nDefault: $default\n"
         . "Context: $d->{context}\n```\n\nWhat it does, in a sentence or two.\n";
}

for my $n (@order) {
    my $d = $code{$n};
    my $e = $doc{$n};
    ok(defined $e, "docs/directives.md documents $n")
        or diag "docs/directives.md has no entry for \"$n\" ($d->{table} in "
              . "$d->{file}). Add it under \"## $d->{module}\", in nginx's form "
              . "(Syntax, Default: the default or —, Context as below):\n\n" . entry($n);
    next unless defined $e;
    like($e, qr/^Syntax:  \Q$n\E[ ;]/m, "$n: Syntax names it");
    like($e, qr/^Default: \S/m, "$n: a Default line");
    like($e, qr/^Context: \Q$d->{context}\E$/m, "$n: Context: $d->{context}")
        or diag "its ngx_command_t entry in $d->{file} allows: $d->{context}";
    like($e, qr/^Syntax:  \Q$n\E on \| off;$/m, "$n: a flag, on | off")
        if $d->{args} eq 'NGX_CONF_FLAG';
    like($e, qr/^Syntax:  \Q$n\E;$/m, "$n: no arguments")
        if $d->{args} eq 'NGX_CONF_NOARGS';
    my ($section) = $doc =~ /^## \Q$d->{module}\E\b(.*?)(?=^## |\z)/ms;
    like($section // '', qr/^### \Q$n\E$/m, "$n: in the section of $d->{module}");
}
for my $n (sort keys %doc) {
    ok($code{$n}, "docs/directives.md: $n is a directive of the code");
}

# ------------------------------------------------------------ oxmigrate.1

my $man = OxTest::_slurp("$root/cli/oxmigrate.1") // '';
like($man, qr/^\.TH OXMIGRATE 1 /m, 'oxmigrate.1: section 1');
(my $text = $man) =~ s/\\-/-/g;
my $cli = join '', map { OxTest::_slurp($_) // '' } glob("$root/cli/*.c"), "$root/cli/oxmigrate.h";
my @cmds = $cli =~ /^\s+\{ "(\w+)", run_\w+,/mg;
ok(@cmds >= 16, scalar(@cmds) . ' commands in cli/');
ok($text =~ /^\.B \Q$_\E\b/m, "oxmigrate.1: the command $_") for @cmds;
my %opts = map { $_ => 1 } $cli =~ /\{ "([a-z][a-z-]*)", (?:'.'|0), (?:OPT_NEED|\d), O_/g;
ok(keys %opts >= 25, scalar(keys %opts) . ' long options in cli/');
ok($text =~ /--\Q$_\E\b/, "oxmigrate.1: --$_") for sort keys %opts;
my @codes = $cli =~ /^#define EX_\w+\s+(\d+)/mg;
ok(@codes >= 15, scalar(@codes) . ' exit codes in cli/oxmigrate.h');
ok($text =~ /^\.SH EXIT STATUS\n(?:.*\n)*?\.B $_\n/m, "oxmigrate.1: exit status $_") for @codes;
ok($text =~ /\bOXMIGRATE_URL\b/, 'oxmigrate.1: OXMIGRATE_URL');
ok($text =~ /\bOXMIGRATE_CREDENTIALS\b/, 'oxmigrate.1: OXMIGRATE_CREDENTIALS');

my $warn = `LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l '$root/cli/oxmigrate.1' 2>&1 >/dev/null`;
is($warn, '', 'man renders it without warnings');

done_testing();
