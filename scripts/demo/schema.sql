-- Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
-- The demo's user schemas (oxdatabase_5, oxdatabase_6): the few OX tables
-- the example update tasks of sql/updatetasks/ work on, as a 7.10 schema
-- has them (utf8, no hidden column, no auto-completion index).
-- scripts/demo.sh loads it into each schema database; the admin API
-- then runs the update tasks there (db_pool 3 points at the demo MariaDB).
CREATE TABLE calendar_attendee (
    cid INT UNSIGNED NOT NULL,
    account INT UNSIGNED NOT NULL,
    id INT UNSIGNED NOT NULL,
    event INT UNSIGNED NOT NULL,
    entity INT NOT NULL,
    uri VARCHAR(512) NOT NULL,
    PRIMARY KEY (cid, account, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;

CREATE TABLE prg_contacts (
    cid INT UNSIGNED NOT NULL,
    intfield01 INT UNSIGNED NOT NULL,
    fid INT UNSIGNED NOT NULL,
    field01 VARCHAR(320),
    field65 VARCHAR(256),
    PRIMARY KEY (cid, intfield01)
) ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;

CREATE TABLE resource (
    cid INT UNSIGNED NOT NULL,
    id INT UNSIGNED NOT NULL,
    identifier VARCHAR(128) NOT NULL,
    displayName VARCHAR(128) NOT NULL,
    PRIMARY KEY (cid, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;

CREATE TABLE del_resource LIKE resource;

