-- Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
-- The configdb change log the balancers follow (src/ngx_http_oxmigrate_changes.c).
-- Load after sql/configdb.sql (OX's own tables), into the configdb:
--   mariadb configdb < sql/changelog.sql
-- Idempotent: the table is created when missing, the triggers are replaced.
--
-- Every change of what a routing decision depends on writes one row, whoever
-- makes it (the admin API, OX's disableschema/changeserver/enableschema, plain
-- SQL): a context's state, its server, a login name, a server's name.  Each
-- balancer polls the rows after the last one it applied, twice a second, and
-- drops exactly the cache entries they touch.
--
-- Privileges: loading this needs CREATE and TRIGGER on the configdb (and,
-- with binary logging on, SUPER or log_bin_trust_function_creators = 1); the
-- pruning event needs EVENT and runs only with event_scheduler = ON (else
-- prune from cron: DELETE FROM oxmigrate_change WHERE ts < NOW() - INTERVAL
-- 1 DAY).  The balancers' user needs SELECT on oxmigrate_change.  The rows
-- replicate like any other, so balancers reading a replica see them there.

CREATE TABLE IF NOT EXISTS oxmigrate_change (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    cid INT UNSIGNED NULL,             -- this context's entries
    server_id INT UNSIGNED NULL,       -- every entry on this server
    login_info VARCHAR(255) NULL,      -- the entry of this login name
    PRIMARY KEY (id),
    INDEX (ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- context: enabled / reason_id (disableschema, enableschema), deletion
CREATE OR REPLACE TRIGGER oxmigrate_context_au AFTER UPDATE ON context
    FOR EACH ROW
    INSERT INTO oxmigrate_change (cid) SELECT NEW.cid FROM DUAL
     WHERE NOT (OLD.enabled <=> NEW.enabled
                AND OLD.reason_id <=> NEW.reason_id);

CREATE OR REPLACE TRIGGER oxmigrate_context_ad AFTER DELETE ON context
    FOR EACH ROW
    INSERT INTO oxmigrate_change (cid) VALUES (OLD.cid);

-- context_server2db_pool: the server a context lives on (changeserver)
CREATE OR REPLACE TRIGGER oxmigrate_cs2db_ai
    AFTER INSERT ON context_server2db_pool FOR EACH ROW
    INSERT INTO oxmigrate_change (cid) VALUES (NEW.cid);

CREATE OR REPLACE TRIGGER oxmigrate_cs2db_au
    AFTER UPDATE ON context_server2db_pool FOR EACH ROW
    INSERT INTO oxmigrate_change (cid) SELECT NEW.cid FROM DUAL
     WHERE NOT (OLD.server_id <=> NEW.server_id
                AND OLD.db_schema <=> NEW.db_schema
                AND OLD.cid <=> NEW.cid);

CREATE OR REPLACE TRIGGER oxmigrate_cs2db_ad
    AFTER DELETE ON context_server2db_pool FOR EACH ROW
    INSERT INTO oxmigrate_change (cid) VALUES (OLD.cid);

-- login2context: a name that appears (negatively cached until now), moves
-- or goes away
CREATE OR REPLACE TRIGGER oxmigrate_l2c_ai AFTER INSERT ON login2context
    FOR EACH ROW
    INSERT INTO oxmigrate_change (cid, login_info)
    VALUES (NEW.cid, NEW.login_info);

CREATE OR REPLACE TRIGGER oxmigrate_l2c_au AFTER UPDATE ON login2context
    FOR EACH ROW
    INSERT INTO oxmigrate_change (cid, login_info)
    VALUES (OLD.cid, OLD.login_info), (NEW.cid, NEW.login_info);

CREATE OR REPLACE TRIGGER oxmigrate_l2c_ad AFTER DELETE ON login2context
    FOR EACH ROW
    INSERT INTO oxmigrate_change (cid, login_info)
    VALUES (OLD.cid, OLD.login_info);

-- server: a name registered, renamed or removed changes every decision of
-- the contexts on it
CREATE OR REPLACE TRIGGER oxmigrate_server_ai AFTER INSERT ON server
    FOR EACH ROW
    INSERT INTO oxmigrate_change (server_id) VALUES (NEW.server_id);

CREATE OR REPLACE TRIGGER oxmigrate_server_au AFTER UPDATE ON server
    FOR EACH ROW
    INSERT INTO oxmigrate_change (server_id)
    VALUES (OLD.server_id), (NEW.server_id);

CREATE OR REPLACE TRIGGER oxmigrate_server_ad AFTER DELETE ON server
    FOR EACH ROW
    INSERT INTO oxmigrate_change (server_id) VALUES (OLD.server_id);

-- a day of changes is plenty: a balancer is at most a poll behind
CREATE EVENT IF NOT EXISTS oxmigrate_change_prune
    ON SCHEDULE EVERY 1 HOUR
    DO DELETE FROM oxmigrate_change WHERE ts < NOW(3) - INTERVAL 1 DAY;
