# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
package OxAdmin;

# Helpers for the admin API tests (t/admin-*.t), on top of OxTest:
#
#   my $site = OxAdmin::site('adm_basic', schemas => 2, contexts => 3);
#       a configdb (OxTest::db) with servers oxserver-old (2) and
#       oxserver-xyz (8), one database (db_pool 3) on the suite's MariaDB
#       and $site->{schemas} user schemas (real databases with a few OX
#       tables the example update tasks touch); contexts numbered from 1,
#       login2context "ctxN.example.com".  db => OxTest::DB: configdb
#       there (e.g. on a private MariaDB), the schemas stay on the suite's.
#   my $ng = OxAdmin::nginx($site, extra => '...', tasks => $dir, ...);
#       nginx with the admin location on %%PORT_A%%, auth_basic with a
#       bcrypt htpasswd ($OxAdmin::USER / $OxAdmin::PASS)
#   my $r = OxAdmin::api($ng, POST => 'schemas/x/disable', json => {...});
#       $r->{status}, $r->{json}
#   OxAdmin::wait_job($ng, $id)  -> the job once it is no longer running
#   my $ox = OxAdmin::oxtools($site, tasks => [{name => 't.A'}, ...],
#                             new_version => '8.0.0');
#       the stand-in OX tools (t/oxtools/oxtool) of an old (7.10.0) and a
#       new (7.10.1) cluster; OxAdmin::nginx($site, ox => $ox) configures
#       them (oxmigrate_ox_tools, _credentials, _timeout).  $ox->calls:
#       every call, in order; $ox->cache('old'): that cluster's node cache;
#       $ox->node_log('new'), $ox->rmi('new'), $ox->node_fault(...)

use strict;
use warnings;
use Carp qw(croak);
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(time sleep);
use OxTest;

our $USER = 'oxadminmaster';
our $PASS = 'secret';

my @DROP;

# The OX tables the example update tasks (sql/updatetasks) work on, in the
# character set a 7.x schema has (utf8, so the utf8mb4 task has work).
our $SCHEMA_SQL = <<'EOF';
CREATE TABLE calendar_attendee (
    cid INT UNSIGNED NOT NULL, account INT UNSIGNED NOT NULL,
    id INT UNSIGNED NOT NULL, event INT UNSIGNED NOT NULL,
    entity INT NOT NULL, uri VARCHAR(512) NOT NULL,
    PRIMARY KEY (cid, account, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
CREATE TABLE prg_contacts (
    cid INT UNSIGNED NOT NULL, intfield01 INT UNSIGNED NOT NULL,
    fid INT UNSIGNED NOT NULL, field01 VARCHAR(320),
    field65 VARCHAR(256),
    PRIMARY KEY (cid, intfield01)
) ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
CREATE TABLE resource (
    cid INT UNSIGNED NOT NULL, id INT UNSIGNED NOT NULL,
    identifier VARCHAR(128) NOT NULL, displayName VARCHAR(128) NOT NULL,
    PRIMARY KEY (cid, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
CREATE TABLE del_resource LIKE resource;
EOF

sub suite { OxTest::suite_mariadb() }

# A configdb plus real schema databases.  Schema names are
# "<name>_<n>" (unique per test file: the suite's MariaDB is shared).
sub site {
    my ($name, %o) = @_;
    my $nschemas = $o{schemas} // 2;
    my $nctx = $o{contexts} // 3;
    my $db = $o{db} // OxTest::db($name);
    my $port = $ENV{OXM_MYSQL_PORT};
    my $prefix = $o{prefix} // $name;
    croak "schema prefix too long" if length($prefix) > 24;

    my @schemas = map { "${prefix}_$_" } 1 .. $nschemas;
    my $sql = qq{
        UPDATE configdb_sequence SET id = 100;
        INSERT INTO server (server_id, name, uuid) VALUES
            (2, 'oxserver-old', UNHEX(REPLACE(UUID(), '-', ''))),
            (8, 'oxserver-xyz', UNHEX(REPLACE(UUID(), '-', '')));
        INSERT INTO db_pool VALUES (3, 'jdbc:mysql://127.0.0.1:$port/',
            'com.mysql.jdbc.Driver', 'root', '', 0, 100, 0, 'oxdb');
    };
    my (@ctx, @l2c, @map, @cps);
    my $cid = 1;
    for my $s (@schemas) {
        for (1 .. $nctx) {
            push @ctx, "($cid, 'ctx$cid', 1, NULL, -1)";
            push @l2c, "($cid, 'ctx$cid.example.com')", "($cid, '$cid')";
            push @map, "(2, $cid, 3, 3, '$s')";
            $cid++;
        }
        push @cps, "(3, '$s', $nctx, 0)";
    }
    $sql .= "INSERT INTO context (cid, name, enabled, reason_id, quota_max)"
          . " VALUES " . join(',', @ctx) . ";\n" if @ctx;
    $sql .= "INSERT INTO login2context (cid, login_info) VALUES "
          . join(',', @l2c) . ";\n" if @l2c;
    $sql .= "INSERT INTO context_server2db_pool (server_id, cid,"
          . " read_db_pool_id, write_db_pool_id, db_schema) VALUES "
          . join(',', @map) . ";\n" if @map;
    $sql .= "INSERT INTO contexts_per_dbschema VALUES "
          . join(',', @cps) . ";\n" if @cps;
    $db->do($sql);

    for my $s (@schemas) {
        suite()->do("DROP DATABASE IF EXISTS `$s`; CREATE DATABASE `$s`"
                    . " CHARACTER SET utf8 COLLATE utf8_unicode_ci");
        suite()->sql_in($s, $SCHEMA_SQL);
        push @DROP, $s;
    }

    return { db => $db, schemas => \@schemas, name => $name,
             contexts => $nctx, prefix => $prefix };
}

END {
    if (@DROP && $ENV{OXM_MYSQL_PORT} && !$ENV{OXM_KEEP}) {
        eval { suite()->do(join '', map { "DROP DATABASE IF EXISTS `$_`;" }
                                    @DROP) };
    }
}

# A directory with update tasks: { '001_a.sql' => "SQL", ... }
sub tasks {
    my (%files) = @_;
    my $dir = OxTest::tmpdir() . '/tasks-' . OxTest::free_port();
    mkdir $dir or croak "$dir: $!";
    for my $f (keys %files) {
        open my $fh, '>', "$dir/$f" or croak "$dir/$f: $!";
        print $fh $files{$f};
        close $fh;
    }
    return $dir;
}

sub htpasswd {
    my $file = OxTest::tmpdir() . '/htpasswd';
    return $file if -f $file;
    system("htpasswd -bBc -C 5 '$file' '$USER' '$PASS' >/dev/null 2>&1") == 0
        or croak "htpasswd failed";
    return $file;
}

# The admin server block (with auth) on %%PORT_A%%; options:
#   tasks => DIR, refresh => '20s', idle => '60s', extra => TEXT (in the
#   location), http => TEXT (before the server), redis => OxTest::Redis,
#   workers => N, main => TEXT, pool => 'threads=8' (the thread_pool)
sub admin_conf {
    my ($site, %o) = @_;
    my $htpasswd = htpasswd();
    my $tasks = $o{tasks} // (OxTest::root() . '/sql/updatetasks');
    my $refresh = $o{refresh} // '1s';
    my $idle = $o{idle} // '3s';
    my $extra = $o{extra} // '';
    my $http = ($o{http} // '') . ($o{clock} ? $o{clock}->directive : '');
    my $redis = $o{redis}
        ? "oxmigrate_redis host=127.0.0.1 port=" . $o{redis}->port . ";"
        : '';
    return <<"EOF";
    @{[ $site->{db}->directive ]}
    $redis
    $http

    server {
        listen 127.0.0.1:%%PORT_A%%;

        location /oxmigrate/v1/ {
            auth_basic "oxmigrate";
            auth_basic_user_file $htpasswd;

            oxmigrate_admin on;
            oxmigrate_thread_pool oxmigrate;
            oxmigrate_update_tasks $tasks;
            oxmigrate_update_lock_refresh $refresh;
            oxmigrate_update_lock_idle $idle;
            $extra
        }
    }
EOF
}

sub nginx {
    my ($site, %o) = @_;
    $o{extra} = ($o{extra} // '') . $o{ox}->directives(%o) if $o{ox};
    my $conf = admin_conf($site, %o);
    return OxTest::nginx($conf, db => $site->{db},
                         workers => $o{workers} // 1,
                         main => ($o{main} // '')
                                 . "\nthread_pool oxmigrate "
                                 . ($o{pool} // 'threads=8') . ';',
                         allow => $o{allow});
}

# api($ng, METHOD, PATH, json => REF | body => BYTES, user =>, pass =>,
#     auth => 0, headers => {}, port => N)
my $MAIN_PID = $$;

sub api {
    my ($ng, $method, $path, %o) = @_;
    my %h = %{ $o{headers} // {} };
    unless (defined $o{auth} && !$o{auth}) {
        my $cred = ($o{user} // $USER) . ':' . ($o{pass} // $PASS);
        $h{Authorization} = 'Basic ' . encode_base64($cred, '');
    }
    my $body = $o{body};
    if (exists $o{json}) {
        $body = JSON::PP->new->utf8->canonical->encode($o{json});
    }
    $h{'Content-Type'} //= 'application/json' if defined $body;
    my $r = OxTest::http($method, "/oxmigrate/v1/$path",
                         port => $o{port} // $ng->port('A'),
                         headers => \%h,
                         (defined $body ? (body => $body) : ()),
                         timeout => $o{timeout} // 60);
    $r->{json} = OxTest::json($r->{body});
    _record($method, $path, $body, $r) if $ENV{OXM_RECORD};
    # every answer checked against docs/openapi.yaml (issue 19; OXM_OPENAPI=0
    # turns it off), in the test's own process only
    if (($ENV{OXM_OPENAPI} // 1) && $r->{status} != 401 && $$ == $MAIN_PID) {
        require OxOpenAPI;
        my @e = OxOpenAPI::check($method, $path, $r->{status}, $r->{json});
        Test::More::ok(!@e, "docs/openapi.yaml: $method /$path $r->{status}")
            or Test::More::diag(join "\n", @e);
    }
    return $r;
}

# OXM_RECORD=DIR: every call and its answer, one file per test file, to
# compare the API's answers before and after a change (docs/testing.md)
sub _record {
    my ($method, $path, $body, $r) = @_;
    (my $name = $0) =~ s{.*/}{};
    open my $fh, '>>', "$ENV{OXM_RECORD}/$name.log" or return;
    print $fh "$method $path ", ($body // ''), "\n-> $r->{status} ",
              ($r->{body} // ''), "\n";
    close $fh;
}

# Polls GET jobs/ID until the job is no longer running (or timeout).
sub wait_job {
    my ($ng, $id, $timeout) = @_;
    my $job;
    OxTest::wait_for(sub {
        my $r = api($ng, GET => "jobs/$id");
        $job = $r->{json};
        return $job && $job->{state} && $job->{state} ne 'running';
    }, $timeout // 60, 0.2);
    return $job;
}

# The stand-in OX tools of both clusters (t/oxtools/oxtool, formats in
# t/oxtools/FORMATS.md): DIR/old and DIR/new hold a symlink named like
# each real tool of that version, oxtool.json, tasks.json (the update
# tasks of the new version), behave.json (set by ->behave), node.json
# (->node_fault), cache.json and node.log.  Options:
#   old_version => '7.10.0', new_version => '7.10.1' (the generation of
#   the tools: < 7.10.1 JMX, 7.10.1+ RMI, >= 8.0.0 8.x lock rules;
#   listUpdateTasks exists from 7.10.2), tasks => [...], user/pass,
#   master_auth => 1, excluded_tasks/excluded_ns => [...],
#   refresh_ms/idle_ms/stale_ms (default: OX's values per version).
# Each cluster has an RMI address ($ox->rmi('old')) and every oxtool.json
# maps the site's RMI addresses to cluster directories, so that
# disableschema/enableschema -r reach the other cluster's cache.json.
our @OX_TOOLS = qw(registerserver listdatabaseschema disableschema
                   enableschema changeserver runupdate runallupdate
                   forceupdatetask listUpdateTasks listUpdateTaskNamespaces
                   checkdatabase unblockdatabase);

my @OX_BASES;
my $OX_PARENT = $$;     # forked children must not end the nodes

sub _vge {
    my ($a, $b) = @_;
    my @a = split /\./, $a;
    my @b = split /\./, $b;
    for (0 .. 2) { my $c = ($a[$_] // 0) <=> ($b[$_] // 0); return $c > 0
                   if $c }
    return 1;
}

sub oxtools {
    my ($site, %o) = @_;
    my $base = OxTest::tmpdir() . '/ox-' . OxTest::free_port();
    my $J = JSON::PP->new->utf8->canonical;
    mkdir $base or croak "$base: $!";
    push @OX_BASES, $base;
    my $self = bless { base => $base, log => "$base/calls.log",
                       cred => "$base/credentials", J => $J }, 'OxAdmin::Tools';
    my %ver = (old => $o{old_version} // '7.10.0',
               new => $o{new_version} // '7.10.1');
    my %rmi = map { $_ => '127.0.0.1:' . OxTest::free_port() } qw(old new);
    $self->{rmi} = \%rmi;
    $self->{version} = \%ver;
    for my $c (qw(old new)) {
        mkdir "$base/$c" or croak "$base/$c: $!";
        for my $t (@OX_TOOLS) {
            next if $t eq 'listUpdateTasks' && !_vge($ver{$c}, '7.10.2');
            symlink OxTest::root() . '/t/oxtools/oxtool', "$base/$c/$t"
                or croak "symlink: $!";
        }
        $self->_write("$c/oxtool.json", {
            cluster => $c, version => $ver{$c},
            socket => $ENV{OXM_MYSQL_SOCKET},
            configdb => $site->{db}->name, log => $self->{log},
            user => $o{user} // $USER, pass => $o{pass} // $PASS,
            master_auth => (exists $o{master_auth}
                            ? ($o{master_auth} ? JSON::PP::true
                                               : JSON::PP::false)
                            : JSON::PP::true),
            rmi => $rmi{$c},
            site => { map { $rmi{$_} => "$base/$_" } qw(old new) },
            (map { defined $o{$_} ? ($_ => $o{$_}) : () }
             qw(refresh_ms idle_ms stale_ms timezone)),
            ($o{clock} ? (clock => $o{clock}->file) : ()),
            excluded_tasks => $o{excluded_tasks} // [],
            excluded_ns => $o{excluded_ns} // [] });
        $self->_write("$c/tasks.json", $o{tasks} // []);
    }
    open my $fh, '>', $self->{cred} or croak "$self->{cred}: $!";
    print $fh (($o{user} // $USER) . ':' . ($o{pass} // $PASS) . "\n");
    close $fh;
    chmod 0600, $self->{cred};
    return $self;
}

# updates still running inside a stand-in "node" end with the test file
END {
    for my $base ($$ == $OX_PARENT ? @OX_BASES : ()) {
        for my $pf (glob("$base/*/node-*.pid")) {
            open my $fh, '<', $pf or next;
            my $pid = <$fh>;
            close $fh;
            kill 'KILL', $1 if defined $pid && $pid =~ /^(\d+)/;
        }
    }
}

package OxAdmin::Tools;

use strict;
use warnings;

sub dir { "$_[0]{base}/$_[1]" }

sub _write {
    my ($self, $file, $data) = @_;
    my $tmp = "$self->{base}/$file.tmp";
    open my $fh, '>', $tmp or die "$tmp: $!";
    print $fh $self->{J}->encode($data);
    close $fh;
    rename $tmp, "$self->{base}/$file" or die "rename: $!";
}

# the directives; nginx(ox => $ox, via_old => CMD, via_new => CMD,
# ox_timeout => '60s', ox_quick => '10s', rmi => 1 (both clusters' RMI
# addresses: disable/enable get -r), wrapper => 0 (no password_wrapper=:
# -P is an argument), lock_idle => '3s' (the new cluster's), version_new
# => '7.10.0' (a version= other than the stand-in's))
sub directives {
    my ($self, %o) = @_;
    my $t = $o{ox_timeout} // '60s';
    my $q = $o{ox_quick} // '20s';
    my $wrap = ($o{wrapper} // 1)
        ? ' password_wrapper=' . OxTest::root() . '/contrib/oxmigrate-ox-password'
        : '';
    my $d = '';
    for my $c (qw(old new)) {
        my $v = $o{"version_$c"} // $self->{version}{$c};
        $d .= "\n            oxmigrate_ox_tools $c $self->{base}/$c"
            . " version=$v$wrap"
            . ($o{"via_$c"} ? qq{ "via=$o{"via_$c"}"} : '')
            . ($o{rmi} ? " rmi=$self->{rmi}{$c}" : '')
            . ($c eq 'new' && $o{lock_idle} ? " lock_idle=$o{lock_idle}" : '')
            . ';';
    }
    return "$d\n            oxmigrate_ox_credentials $self->{cred};"
         . "\n            oxmigrate_ox_tools_timeout $t quick=$q;\n";
}

# every call so far: {cluster, tool, argv, pid, start, end, exit}
sub calls {
    my ($self) = @_;
    open my $fh, '<', $self->{log} or return [];
    my @c = map { $self->{J}->decode($_) } grep { /\S/ } <$fh>;
    close $fh;
    return \@c;
}

# "cluster:tool arg arg" per call (the password shown as given)
sub trace {
    my ($self) = @_;
    return [ map { "$_->{cluster}:$_->{tool} @{ $_->{argv} }" }
             @{ $self->calls } ];
}

sub clear_log { unlink $_[0]{log} }

sub behave {
    my ($self, $cluster, $tool, $what) = @_;
    my $f = "$self->{base}/$cluster/behave.json";
    my $b = -f $f ? $self->{J}->decode(OxTest::_slurp($f)) : {};
    if ($what) { $b->{$tool} = $what } else { delete $b->{$tool} }
    unlink "$self->{base}/$cluster/$tool.release";
    $self->_write("$cluster/behave.json", $b);
}

# waits until the tool writes its pidfile (behave pidfile => 1): it runs;
# removes the file for the next call
sub running {
    my ($self, $cluster, $tool) = @_;
    my $f = $self->dir($cluster) . "/$tool.pid";
    my $ok = OxTest::wait_for(sub { -e $f }, 20, 0.02);
    unlink $f;
    return $ok;
}

# lets a tool held by behave(..., { hold => S }) go on, and every later
# call of it (until the next behave)
sub release {
    my ($self, $cluster, $tool) = @_;
    OxTest::_spew("$self->{base}/$cluster/$tool.release", '');
}

sub tasks { my ($self, $tasks) = @_; $self->_write("new/tasks.json", $tasks) }

sub cache {
    my ($self, $cluster) = @_;
    my $f = "$self->{base}/$cluster/cache.json";
    return {} unless -s $f;
    return $self->{J}->decode(OxTest::_slurp($f));
}

sub set_cache {
    my ($self, $cluster, $cache) = @_;
    $self->_write("$cluster/cache.json", $cache);
}


sub rmi { $_[0]{rmi}{ $_[1] } }

# changes keys of a cluster's oxtool.json (e.g. refresh_ms => 500)
sub configure {
    my ($self, $cluster, %kv) = @_;
    my $f = "$self->{base}/$cluster/oxtool.json";
    my $c = $self->{J}->decode(OxTest::_slurp($f));
    for (keys %kv) { if (defined $kv{$_}) { $c->{$_} = $kv{$_} }
                     else { delete $c->{$_} } }
    $self->_write("$cluster/oxtool.json", $c);
}

# faults inside the node: node_fault('new', {sql_error => 'lock'})
sub node_fault {
    my ($self, $cluster, $fault) = @_;
    $self->_write("$cluster/node.json", $fault // {});
}

# the lines of the node's log
sub node_log {
    my ($self, $cluster) = @_;
    my $t = OxTest::_slurp("$self->{base}/$cluster/node.log") // '';
    return [ split /\n/, $t ];
}

# pid of the update of $schema running inside the node, or undef
sub node_pid {
    my ($self, $cluster, $schema) = @_;
    my $t = OxTest::_slurp("$self->{base}/$cluster/node-$schema.pid");
    return defined $t && $t =~ /^(\d+)/ && kill(0, $1) ? $1 : undef;
}

package OxAdmin;

# the states of a job's schemas, in order
sub states { [ map { $_->{state} } @{ $_[0]{schemas} } ] }

# the tool calls of one schema's OX procedure as $ox->trace lists them
# (oxtools' default versions), up to step $upto (0..4)
sub ox_procedure {
    my ($schema, $sid, $upto) = @_;
    my $cred = "-A $USER";
    my @c = ("old:disableschema $cred -m $schema",
             "old:changeserver $cred -s $sid -m $schema",
             "new:runupdate --adminpass=$PASS $cred -n $schema",
             "new:checkdatabase $cred",
             "old:enableschema $cred -m $schema");
    return @c[0 .. ($upto // 4)];
}


sub schema_sql {
    my ($schema, $sql) = @_;
    return suite()->sql_in($schema, $sql);
}

# [enabled, reason_id, server_id] of a schema's contexts, distinct
sub ctx_state {
    my ($site, $schema) = @_;
    return $site->{db}->sql("SELECT DISTINCT c.enabled, c.reason_id,"
        . " p.server_id FROM context c JOIN context_server2db_pool p"
        . " USING (cid) WHERE p.db_schema = '$schema'");
}

# taskName => successful of a schema's updateTask (no lock rows)
sub task_rows {
    my ($schema) = @_;
    my $rows = eval {
        suite()->sql_in($schema, "SELECT taskName, successful FROM updateTask"
                        . " WHERE taskName NOT IN ('LOCKED', 'BACKGROUND')")
    } // [];
    return { map { $_->[0] => $_->[1] } @$rows };
}

1;
