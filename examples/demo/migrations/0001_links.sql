-- The links table, portable across SQLite, PostgreSQL and MySQL/MariaDB.
-- migrate:up
CREATE TABLE links (
  code VARCHAR(32) NOT NULL PRIMARY KEY,
  url VARCHAR(2048) NOT NULL,
  title VARCHAR(512),
  hits INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);

-- migrate:down
DROP TABLE links;
