-- Daily link statistics, computed by the daily-link-stats schedule (src/jobs.ts).
-- migrate:up
CREATE TABLE link_stats (
  day VARCHAR(10) NOT NULL PRIMARY KEY,
  links INTEGER NOT NULL,
  hits BIGINT NOT NULL,
  created INTEGER NOT NULL,
  computed_at BIGINT NOT NULL
);

-- migrate:down
DROP TABLE link_stats;
