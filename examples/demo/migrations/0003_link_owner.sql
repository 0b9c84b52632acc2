-- Links belong to the account that created them (NULL: created without signing in).
-- migrate:up
ALTER TABLE links ADD COLUMN owner_id VARCHAR(64);

-- migrate:down
ALTER TABLE links DROP COLUMN owner_id;
