-- 0006: weak links for the live ring job (pipeline.rings): accounts whose stored risk
-- keeps an ad template or @-mentions (AccountRisk.templates / mentions, omitted from the
-- JSON when empty), and the template peers each ring job run found.
--
-- The ring job pages through accounts holding a linking contact (contacts_account) and,
-- merged in key order, accounts with weak-link inputs: this partial index lists exactly
-- those (an unflagged account's mentions never attach it, so they are not listed). The
-- ring job's query repeats the WHERE below word for word, which is what lets SQLite use it.
CREATE INDEX accounts_weak_inputs ON accounts (key)
WHERE json_type(data, '$.templates') IS NOT NULL
   OR (flagged AND json_type(data, '$.mentions') IS NOT NULL);

-- Per account sharing a counted ad template: the other accounts posting it (JSON list of
-- account keys, capped). Replaced with ring_members / rings in one transaction, and read
-- by every account read as AccountRisk.template_peers.
CREATE TABLE template_peers (
    account_key TEXT NOT NULL PRIMARY KEY,
    peers       TEXT NOT NULL DEFAULT '[]'
) WITHOUT ROWID;
