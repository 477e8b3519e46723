-- Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
-- OX configdb tables, as the Open-Xchange middleware 8.x creates them
-- (see ox-facts.md section 4).  The login router reads login2context,
-- context, context_server2db_pool and server; the admin API also writes
-- configdb_sequence, server, context and context_server2db_pool.
--
-- No CREATE DATABASE / USE here: the loader picks the database, e.g.
--   mariadb configdb < sql/configdb.sql
-- 7.x sites lack server.uuid and contexts_per_dbschema.creating_date;
-- nothing in oxmigrate depends on those two columns.

CREATE TABLE configdb_sequence (
    id INT UNSIGNED NOT NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ids are taken with UPDATE configdb_sequence SET id = LAST_INSERT_ID(id + 1)
INSERT INTO configdb_sequence VALUES (0);

CREATE TABLE server (
    server_id INT UNSIGNED NOT NULL,
    name VARCHAR(255) NOT NULL,
    uuid BINARY(16) NOT NULL,
    PRIMARY KEY (server_id),
    UNIQUE KEY name_unique (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE context (
    cid INT UNSIGNED NOT NULL,
    name VARCHAR(128) NOT NULL,
    enabled BOOLEAN,
    reason_id INT UNSIGNED,
    filestore_id INT UNSIGNED,
    filestore_name VARCHAR(32),
    filestore_login VARCHAR(32),
    filestore_passwd VARCHAR(32),
    quota_max BIGINT,
    PRIMARY KEY (cid),
    UNIQUE KEY context_name_unique (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE login2context (
    cid INT UNSIGNED NOT NULL,
    login_info VARCHAR(255) NOT NULL,
    PRIMARY KEY (login_info),
    INDEX (cid),
    FOREIGN KEY (cid) REFERENCES context (cid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE context_server2db_pool (
    server_id INT UNSIGNED NOT NULL,
    cid INT UNSIGNED NOT NULL,
    read_db_pool_id INT UNSIGNED NOT NULL,
    write_db_pool_id INT UNSIGNED NOT NULL,
    db_schema VARCHAR(32) NOT NULL,
    PRIMARY KEY (cid, server_id),
    INDEX (write_db_pool_id),
    INDEX (server_id),
    INDEX (db_schema),
    INDEX poolAndSchema (write_db_pool_id, db_schema),
    FOREIGN KEY (cid) REFERENCES context (cid)
        ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE db_pool (
    db_pool_id INT UNSIGNED NOT NULL,
    url VARCHAR(255) NOT NULL,
    driver VARCHAR(128) NOT NULL,
    login VARCHAR(128) NOT NULL,
    password VARCHAR(128) NOT NULL,
    hardlimit INT,
    max INT,
    initial INT,
    name VARCHAR(128) NOT NULL,
    PRIMARY KEY (db_pool_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE db_cluster (
    cluster_id INT UNSIGNED NOT NULL,
    read_db_pool_id INT UNSIGNED NOT NULL,
    write_db_pool_id INT UNSIGNED NOT NULL,
    weight INT UNSIGNED,
    max_units INT,
    PRIMARY KEY (cluster_id),
    FOREIGN KEY (write_db_pool_id) REFERENCES db_pool (db_pool_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE contexts_per_dbschema (
    db_pool_id INT UNSIGNED NOT NULL,
    schemaname VARCHAR(32) NOT NULL,
    count INT UNSIGNED NOT NULL,
    creating_date BIGINT NOT NULL,
    PRIMARY KEY (db_pool_id, schemaname),
    FOREIGN KEY (db_pool_id) REFERENCES db_pool (db_pool_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE dbschema_lock (
    db_pool_id INT UNSIGNED NOT NULL,
    schemaname VARCHAR(32) NOT NULL,
    PRIMARY KEY (db_pool_id, schemaname),
    FOREIGN KEY (db_pool_id) REFERENCES db_pool (db_pool_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE reason_text (
    id INT UNSIGNED NOT NULL,
    text VARCHAR(255) NOT NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
