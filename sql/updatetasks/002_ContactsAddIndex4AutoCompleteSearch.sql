-- Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
-- task: com.openexchange.groupware.update.tasks.ContactsAddIndex4AutoCompleteSearch
--
-- Adds an index: the address-book auto-completion searches display names
-- and e-mail addresses per context and folder.
CREATE INDEX IF NOT EXISTS autocomplete
    ON prg_contacts (cid, fid, field01(64), field65(64));
