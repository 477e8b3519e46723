-- Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
-- task: com.openexchange.groupware.update.tasks.ResourceTablesUtf8Mb4UpdateTask
-- namespace: groupware.utf8mb4
--
-- Converts the resource tables to utf8mb4 (emoji and other 4-byte UTF-8 in
-- names).  Rewrites every row: sites exclude the namespace with
-- "oxmigrate_excluded_namespaces groupware.utf8mb4;" and run it later.
ALTER TABLE resource
    CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
ALTER TABLE del_resource
    CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
