-- Lanes within a room (src/engine/rooms.rs): a message waits only for earlier events of its
-- own sender (its lane) and for earlier state events; a state event (lane '') waits for every
-- earlier event of the room and holds every later one. Rows from before are state-like: they
-- keep the strict room order they were queued with.
ALTER TABLE room_events ADD COLUMN lane TEXT NOT NULL DEFAULT '';
