import type { Dialect, Migration } from '@beaver-kit/database'

// The auth package owns its tables and migrates them itself, through @beaver-kit/database's
// migrator with its own `<table>_migrations` history, so it never mixes with the app's own
// migrations. Tokens and keys are stored only as hashes; the e-mail is unique (normalized by
// the facade). Times are epoch milliseconds in BIGINT, the same on every dialect.
export function authMigrations(dialect: Dialect, t: string): Migration[] {
  const key = (n: number): string => (dialect === 'mysql' ? `varchar(${n})` : 'text')
  const int = dialect === 'sqlite' ? 'integer' : 'bigint'
  const ifNot = dialect === 'mysql' ? '' : 'if not exists '
  return [
    {
      id: '0001_auth',
      up: `
create table if not exists ${t}_users (
  id ${key(64)} primary key,
  email ${key(320)} not null,
  password_hash ${key(512)} not null,
  email_verified_at ${int},
  roles text not null,
  created_at ${int} not null,
  updated_at ${int} not null
);
create unique index ${ifNot}${t}_users_email on ${t}_users (email);
create table if not exists ${t}_refresh (
  hash ${key(64)} primary key,
  family_id ${key(64)} not null,
  user_id ${key(64)} not null,
  created_at ${int} not null,
  expires_at ${int} not null,
  family_expires_at ${int} not null,
  used_at ${int},
  revoked_at ${int}
);
create index ${ifNot}${t}_refresh_family on ${t}_refresh (family_id);
create index ${ifNot}${t}_refresh_user on ${t}_refresh (user_id);
create table if not exists ${t}_one_time (
  hash ${key(64)} primary key,
  purpose ${key(16)} not null,
  user_id ${key(64)} not null,
  expires_at ${int} not null
);
create index ${ifNot}${t}_one_time_user on ${t}_one_time (user_id, purpose);
create table if not exists ${t}_failures (
  k ${key(255)} primary key,
  count ${int} not null,
  locked_until ${int} not null,
  updated_at ${int} not null
);
create table if not exists ${t}_api_keys (
  id ${key(64)} primary key,
  user_id ${key(64)} not null,
  name ${key(200)} not null,
  hash ${key(64)} not null,
  scopes text not null,
  created_at ${int} not null,
  expires_at ${int},
  last_used_at ${int},
  revoked_at ${int}
);
create index ${ifNot}${t}_api_keys_user on ${t}_api_keys (user_id);
`,
    },
    {
      // TOTP second factor: the secret encrypted by the krypto ring, when it was confirmed, and
      // the last step used (the replay guard). One statement per column: SQLite adds one at a time.
      id: '0002_totp',
      up: `
alter table ${t}_users add column totp_secret ${key(1024)};
alter table ${t}_users add column totp_enabled_at ${int};
alter table ${t}_users add column totp_last_step ${int};
`,
    },
  ]
}
