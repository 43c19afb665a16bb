-- 0005: rings found by the ring job (pipeline.rings) over all stored accounts.
--
-- The live folds see one account at a time and cannot know its ring, so the ring lives
-- here, not in accounts: every account read joins ring_members for AccountRisk.ring, and
-- an account write (which carries whatever ring it read) can never erase or revive one.
-- save_rings replaces both tables in one transaction.
CREATE TABLE rings (
    id       TEXT NOT NULL PRIMARY KEY,     -- 'ring-' + hash of its smallest shared contact
    size     INTEGER NOT NULL,
    contacts TEXT NOT NULL DEFAULT '[]',    -- JSON: canonical contacts its members share
    found_at TEXT NOT NULL                  -- UTC text of the job run that saved it
);

CREATE TABLE ring_members (
    account_key TEXT NOT NULL PRIMARY KEY,
    ring        TEXT NOT NULL,
    contacts    TEXT NOT NULL DEFAULT '[]', -- JSON: what this account shares with the ring
    weak        TEXT NOT NULL DEFAULT '[]'  -- JSON: 'kind:account' weak links that attached it
) WITHOUT ROWID;
CREATE INDEX ring_members_ring ON ring_members (ring, account_key);

-- accounts.ring is no longer written (the fold's copy was always NULL or stale).
DROP INDEX accounts_ring;
UPDATE accounts SET ring = NULL WHERE ring IS NOT NULL;
