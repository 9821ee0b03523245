-- Accounts, roles, sessions, sign-in throttling and the audit trail (issue 4).
--
-- Conventions for every Kito table (DESIGN.md; CONVENTIONS.md 7 and 17):
--   * keys are BIGINT UNSIGNED AUTO_INCREMENT; the API shows them as opaque ids
--     (api/validate.h: kito_id_format, e.g. acc_0000000000001);
--   * times are DATETIME(3) in UTC; defaults use UTC_TIMESTAMP(3) so they do not depend on the
--     session time zone;
--   * money is BIGINT minor units beside a CHAR(3) currency; rates are INT basis points;
--     weights are INT hundredths of a carat;
--   * enumerations are short strings guarded by CHECK constraints (a bad value is an error,
--     never a silent '' as with ENUM in non-strict mode);
--   * text is utf8mb4 with the charset's default collation (as 001, so foreign keys to its
--     tables match); hashes and tokens are ASCII with binary collation.

-- A women miners' association (TAWOMA, AWEIK...). It may take a levy on its members' sales.
CREATE TABLE associations (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(120) NOT NULL,
  country CHAR(2) NOT NULL,
  levy_bps INT NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY associations_country_name (country, name),
  CONSTRAINT associations_country_fk FOREIGN KEY (country) REFERENCES countries (code),
  CONSTRAINT associations_levy_bps CHECK (levy_bps BETWEEN 0 AND 10000),
  CONSTRAINT associations_name_nonempty CHECK (CHAR_LENGTH(name) > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Everyone who signs in. Miners register with a phone number and a PIN, buyers with an e-mail
-- address and a password; organizers, valuers and operators are made by kitoctl. secret_hash is
-- the self-describing scrypt string of api/crypto.h (kito_crypto_secret_hash).
CREATE TABLE accounts (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  role VARCHAR(16) NOT NULL,
  name VARCHAR(120) NOT NULL,
  phone VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
  email VARCHAR(254) NULL,
  secret_kind VARCHAR(8) NOT NULL,
  secret_hash VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  country CHAR(2) NULL,
  locale VARCHAR(8) NOT NULL DEFAULT 'en',
  status VARCHAR(16) NOT NULL DEFAULT 'active',
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  updated_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY accounts_phone (phone),
  -- case-insensitive (the default collation): Buyer@x.com and buyer@x.com are one account
  UNIQUE KEY accounts_email (email),
  -- lets other tables require a role with a composite foreign key (miner_profiles, stones...)
  UNIQUE KEY accounts_id_role (id, role),
  KEY accounts_role_id (role, id),
  KEY accounts_status_id (status, id),
  CONSTRAINT accounts_role CHECK (role IN ('miner', 'valuer', 'buyer', 'organizer', 'operator')),
  CONSTRAINT accounts_status CHECK (status IN ('active', 'suspended', 'closed')),
  CONSTRAINT accounts_secret_kind CHECK (secret_kind IN ('pin', 'password')),
  CONSTRAINT accounts_secret_hash CHECK (secret_hash LIKE 'scrypt$%'),
  CONSTRAINT accounts_phone_e164 CHECK (phone IS NULL OR phone REGEXP '^[+][1-9][0-9]{7,14}$'),
  CONSTRAINT accounts_email_shape CHECK (email IS NULL OR email LIKE '_%@_%._%'),
  CONSTRAINT accounts_locale CHECK (locale IN ('en', 'sw')),
  CONSTRAINT accounts_contact CHECK (phone IS NOT NULL OR email IS NOT NULL),
  CONSTRAINT accounts_miner_phone CHECK (role <> 'miner' OR (phone IS NOT NULL AND secret_kind = 'pin')),
  CONSTRAINT accounts_buyer_email CHECK (role <> 'buyer' OR (email IS NOT NULL AND secret_kind = 'password')),
  CONSTRAINT accounts_name_nonempty CHECK (CHAR_LENGTH(name) > 0),
  CONSTRAINT accounts_country_fk FOREIGN KEY (country) REFERENCES countries (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A miner's payout details and association. One row per miner account; role is pinned to
-- 'miner' and checked against accounts by the composite key.
CREATE TABLE miner_profiles (
  account_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  account_role VARCHAR(16) NOT NULL DEFAULT 'miner',
  association_id BIGINT UNSIGNED NULL,
  country CHAR(2) NOT NULL,
  payout_msisdn VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  payout_rail VARCHAR(16) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  updated_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  KEY miner_profiles_association (association_id, account_id),
  CONSTRAINT miner_profiles_role CHECK (account_role = 'miner'),
  CONSTRAINT miner_profiles_msisdn CHECK (payout_msisdn REGEXP '^[+][1-9][0-9]{7,14}$'),
  -- the mobile-money rails of DEMO-DATA.md; the country says which M-Pesa (Safaricom, Vodacom)
  CONSTRAINT miner_profiles_rail
    CHECK (payout_rail IN ('mpesa', 'airtel_money', 'tigo_pesa', 'mtn_momo', 'tnm_mpamba')),
  CONSTRAINT miner_profiles_account_fk FOREIGN KEY (account_id, account_role)
    REFERENCES accounts (id, role) ON DELETE CASCADE,
  CONSTRAINT miner_profiles_association_fk FOREIGN KEY (association_id) REFERENCES associations (id),
  CONSTRAINT miner_profiles_country_fk FOREIGN KEY (country) REFERENCES countries (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Signed-in sessions. The bearer token itself is never stored: token_sha256 is the SHA-256 hex of
-- the token (api/crypto.h, kito_crypto_token_digest). A session is live while revoked_at is NULL
-- and expires_at is in the future.
CREATE TABLE sessions (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  token_sha256 CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  account_id BIGINT UNSIGNED NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  expires_at DATETIME(3) NOT NULL,
  revoked_at DATETIME(3) NULL,
  last_seen_at DATETIME(3) NULL,
  ip VARCHAR(45) CHARACTER SET ascii COLLATE ascii_bin NULL,
  user_agent VARCHAR(255) NULL,
  UNIQUE KEY sessions_token (token_sha256),
  KEY sessions_account (account_id, expires_at),
  KEY sessions_expires (expires_at),
  CONSTRAINT sessions_token_hex CHECK (token_sha256 REGEXP '^[0-9a-f]{64}$'),
  CONSTRAINT sessions_expiry CHECK (expires_at > created_at),
  CONSTRAINT sessions_revoked CHECK (revoked_at IS NULL OR revoked_at >= created_at),
  CONSTRAINT sessions_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Every failed sign-in, for the sliding-window counts that slow down and then lock sign-ins
-- (per account and per address) and for the audit. account_id is NULL when the identifier
-- matched no account; identifier is the phone or e-mail as normalised by the API.
CREATE TABLE signin_failures (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id BIGINT UNSIGNED NULL,
  identifier VARCHAR(254) NOT NULL,
  ip VARCHAR(45) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  KEY signin_failures_account (account_id, at),
  KEY signin_failures_ip (ip, at),
  KEY signin_failures_at (at),
  CONSTRAINT signin_failures_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id)
    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Current throttle state, one row per account and per address, updated with
-- INSERT ... ON DUPLICATE KEY UPDATE. subject is the account id in decimal (scope 'account') or
-- the textual IP address (scope 'address'). While locked_until is in the future, sign-in is
-- refused with KITO_E_LOCKED; a success clears the account's row.
CREATE TABLE signin_lockouts (
  scope VARCHAR(8) NOT NULL,
  subject VARCHAR(45) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  failures INT UNSIGNED NOT NULL DEFAULT 0,
  first_failure_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  last_failure_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  locked_until DATETIME(3) NULL,
  PRIMARY KEY (scope, subject),
  KEY signin_lockouts_until (locked_until),
  CONSTRAINT signin_lockouts_scope CHECK (scope IN ('account', 'address')),
  CONSTRAINT signin_lockouts_account_subject
    CHECK (scope <> 'account' OR subject REGEXP '^[1-9][0-9]{0,19}$'),
  CONSTRAINT signin_lockouts_order CHECK (last_failure_at >= first_failure_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Append-only trail of every state-changing and money-moving action (DESIGN.md, "Bad input and
-- faults"). actor_id is NULL for the system itself (workers, migrations). entity names the table
-- family ('account', 'stone', 'certificate', 'sale', 'lot', ...) and entity_id its key. The
-- application only ever INSERTs here; grant its database user no UPDATE or DELETE on it.
CREATE TABLE audit_log (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  actor_id BIGINT UNSIGNED NULL,
  action VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  entity VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  entity_id BIGINT UNSIGNED NULL,
  detail_json MEDIUMTEXT NULL,
  ip VARCHAR(45) CHARACTER SET ascii COLLATE ascii_bin NULL,
  at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  KEY audit_log_entity (entity, entity_id, id),
  KEY audit_log_actor (actor_id, id),
  KEY audit_log_at (at),
  CONSTRAINT audit_log_action CHECK (action REGEXP '^[a-z][a-z0-9_.]*$'),
  CONSTRAINT audit_log_entity_name CHECK (entity REGEXP '^[a-z][a-z0-9_]*$'),
  CONSTRAINT audit_log_detail CHECK (detail_json IS NULL OR JSON_VALID(detail_json)),
  CONSTRAINT audit_log_actor_fk FOREIGN KEY (actor_id) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
