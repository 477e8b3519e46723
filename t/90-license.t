#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The license (issue 19): LICENSE is BSD-2-Clause for "the oxmigrate
# authors", debian/copyright (DEP-5) says the same, and every source file
# of the repository carries the copyright line of scripts/license-header.sh
# (the script itself lists the files without it: that list must be empty).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest;

my $root = OxTest::root();

my $license = OxTest::_slurp("$root/LICENSE") // '';
like($license, qr/^BSD 2-Clause License$/m, 'LICENSE: BSD 2-Clause');
like($license, qr/^Copyright \(c\) \d{4}, the oxmigrate authors$/m,
     '... with the copyright notice of the oxmigrate authors');

my $copyright = OxTest::_slurp("$root/debian/copyright") // '';
like($copyright, qr{^Format: https://www\.debian\.org/doc/packaging-manuals/copyright-format/1\.0/$}m,
     'debian/copyright: DEP-5');
like($copyright, qr/^Files: \*\nCopyright: \d{4} the oxmigrate authors\nLicense: BSD-2-Clause$/m,
     '... all files: the oxmigrate authors, BSD-2-Clause');
like($copyright, qr/^License: BSD-2-Clause\n Redistribution and use/m,
     '... and the license text');

my $out = `cd '$root' && scripts/license-header.sh --check 2>&1`;
is($? >> 8, 0, 'every source file carries the copyright line')
    or diag "$out\nrun: scripts/license-header.sh (it adds the line where it is missing)";

# the check sees a file without it (a scratch copy in a git repository)
my $tmp = OxTest::tmpdir();
system("cd '$tmp' && git init -q . && mkdir scripts && cp '$root/scripts/license-header.sh' scripts/"
       . " && printf 'int x;\\n' >a.c && printf '#!/bin/sh\\necho\\n' >b.sh"
       . " && git add . >/dev/null") == 0 or die;
$out = `cd '$tmp' && scripts/license-header.sh --check 2>&1`;
is($? >> 8, 1, 'a file without the line fails the check');
like($out, qr/^a\.c$/m, '... named');
`cd '$tmp' && scripts/license-header.sh && scripts/license-header.sh`;
is(OxTest::_slurp("$tmp/b.sh"),
   "#!/bin/sh\n# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.\necho\n",
   'the script adds it once, after the #! line');
like(OxTest::_slurp("$tmp/a.c"), qr{\A/\* Copyright \(C\) the oxmigrate authors\. BSD-2-Clause: see LICENSE\. \*/\nint x;\n\z},
     '... first in a C file, as a C comment');

done_testing();
