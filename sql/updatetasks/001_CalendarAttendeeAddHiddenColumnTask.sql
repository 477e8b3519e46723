-- Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
-- task: com.openexchange.chronos.storage.rdb.groupware.CalendarAttendeeAddHiddenColumnTask
--
-- Adds a column: attendees can hide an event from their calendar.
-- IF NOT EXISTS keeps a forced re-run (forceupdatetask) harmless.
ALTER TABLE calendar_attendee
    ADD COLUMN IF NOT EXISTS hidden BOOLEAN DEFAULT NULL;
