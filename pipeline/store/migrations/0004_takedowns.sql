-- 0004: takedown lists, kept whole so the dashboard can show and re-download the list a
-- platform received (pipeline.takedown). ``accounts`` is the JSON array of the account
-- keys on the list: the job reads it to recognise a list whose accounts were never
-- marked ``reported`` (a crash between saving the list and marking them).
CREATE TABLE takedown_lists (
    id         TEXT NOT NULL PRIMARY KEY,   -- '2026-11-23-weibo-1a2b3c4d'
    platform   TEXT NOT NULL,
    created_at TEXT NOT NULL,               -- UTC text, sorts as time
    period     TEXT NOT NULL DEFAULT '',
    count      INTEGER NOT NULL,
    accounts   TEXT NOT NULL DEFAULT '[]',
    data       TEXT NOT NULL                -- TakedownList as msgspec JSON
);
CREATE INDEX takedown_lists_created ON takedown_lists (created_at, id);
CREATE INDEX takedown_lists_platform ON takedown_lists (platform, created_at);
