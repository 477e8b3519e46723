-- Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
-- Demo / test data for a configdb created by sql/configdb.sql.
--
-- Two middleware servers: oxserver-old (id 2, the running cluster) and
-- oxserver-xyz (id 8, the upgraded one, registered as registerserver
-- would).  One database host (db_pool 3) with two user schemas,
-- oxdatabase_5 (contexts 1..3) and oxdatabase_6 (contexts 4..6), every
-- context enabled on oxserver-old.  Login mappings as createcontext makes
-- them (the cid and the context name) plus a mail domain per context, and
-- "defaultcontext" -> 1 for logins without '@'.
--
-- The JDBC URL of db_pool 3 is site specific (the admin API connects to it
-- to run update tasks).  Set it before loading, in the same session:
--   mariadb configdb -e "SET @oxm_db_url = 'jdbc:mysql://127.0.0.1:3307/';
--                        SOURCE sql/demo.sql"
-- Without it the url is jdbc:mysql://127.0.0.1:3306/.

SET @oxm_db_url = COALESCE(@oxm_db_url, 'jdbc:mysql://127.0.0.1:3306/');

-- the last id handed out; registerserver continues from here
UPDATE configdb_sequence SET id = 100;

INSERT INTO server (server_id, name, uuid) VALUES
    (2, 'oxserver-old', UNHEX('6f787365727665720000000000000002')),
    (8, 'oxserver-xyz', UNHEX('6f787365727665720000000000000008'));

INSERT INTO reason_text (id, text) VALUES
    (1431655765, 'Database schema is being updated or moved');

INSERT INTO db_pool (db_pool_id, url, driver, login, password, hardlimit,
                     max, initial, name) VALUES
    (3, @oxm_db_url, 'com.mysql.jdbc.Driver', 'root', '', 0, 100, 0,
     'oxdb');

INSERT INTO db_cluster (cluster_id, read_db_pool_id, write_db_pool_id,
                        weight, max_units) VALUES
    (1, 3, 3, 100, 1000);

INSERT INTO context (cid, name, enabled, reason_id, filestore_id,
                     filestore_name, filestore_login, filestore_passwd,
                     quota_max) VALUES
    (1, 'ctx1', 1, NULL, 1, '1_ctx_store', NULL, NULL, -1),
    (2, 'ctx2', 1, NULL, 1, '2_ctx_store', NULL, NULL, -1),
    (3, 'ctx3', 1, NULL, 1, '3_ctx_store', NULL, NULL, -1),
    (4, 'ctx4', 1, NULL, 1, '4_ctx_store', NULL, NULL, -1),
    (5, 'ctx5', 1, NULL, 1, '5_ctx_store', NULL, NULL, -1),
    (6, 'ctx6', 1, NULL, 1, '6_ctx_store', NULL, NULL, -1);

INSERT INTO login2context (cid, login_info) VALUES
    (1, '1'), (1, 'ctx1'), (1, 'ctx1.example.com'), (1, 'defaultcontext'),
    (2, '2'), (2, 'ctx2'), (2, 'ctx2.example.com'),
    (3, '3'), (3, 'ctx3'), (3, 'ctx3.example.com'),
    (4, '4'), (4, 'ctx4'), (4, 'ctx4.example.com'),
    (5, '5'), (5, 'ctx5'), (5, 'ctx5.example.com'),
    (6, '6'), (6, 'ctx6'), (6, 'ctx6.example.com');

INSERT INTO context_server2db_pool (server_id, cid, read_db_pool_id,
                                    write_db_pool_id, db_schema) VALUES
    (2, 1, 3, 3, 'oxdatabase_5'),
    (2, 2, 3, 3, 'oxdatabase_5'),
    (2, 3, 3, 3, 'oxdatabase_5'),
    (2, 4, 3, 3, 'oxdatabase_6'),
    (2, 5, 3, 3, 'oxdatabase_6'),
    (2, 6, 3, 3, 'oxdatabase_6');

INSERT INTO contexts_per_dbschema (db_pool_id, schemaname, count,
                                   creating_date) VALUES
    (3, 'oxdatabase_5', 3, 1700000000000),
    (3, 'oxdatabase_6', 3, 1700000000000);
