-- 0003: the alert outbox (pipeline/alerts/outbox_sqlite.py). An alert is recorded here
-- after its batch is stored, then delivered by a sender loop with retries.
-- id = dedupe_key#channel#seq; seq numbers the alerts of one (dedupe_key, channel) slot,
-- so "the slot's newest alert" is one index lookup and a replay records nothing twice.
-- Times are UTC ISO 8601 text with microseconds ("...T12:00:00.000000Z"): they sort as text.
CREATE TABLE alerts (
    id              TEXT NOT NULL PRIMARY KEY,
    dedupe_key      TEXT NOT NULL,
    channel         TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    rule            TEXT NOT NULL,
    account_key     TEXT,
    created_at      TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',  -- pending | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,                             -- pending only: due from then on
    last_error      TEXT,
    sent_at         TEXT,
    data            TEXT NOT NULL,                    -- the Alert as msgspec JSON
    UNIQUE (dedupe_key, channel, seq)
);
CREATE INDEX alerts_due ON alerts (status, next_attempt_at);
CREATE INDEX alerts_created ON alerts (created_at);
