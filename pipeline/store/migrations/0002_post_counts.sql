-- 0002: engagement counts as the platform showed them when collected (reposts, comments,
-- likes, views), msgspec JSON; NULL when the source has none. Informational: not indexed.
ALTER TABLE posts ADD COLUMN counts TEXT;
