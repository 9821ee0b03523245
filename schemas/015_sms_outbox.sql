-- SMS to miners (issue 18; DESIGN.md, "Phone channel": "SMS goes out through an outbox table and
-- a gateway driver"). Conventions as in 002_accounts.sql.
--
-- A row is written in the same transaction as the event it tells of (a stone received, offered,
-- sold ...: api/store/repo_sms.h), so an event that happened has its message and one that was
-- rolled back has none; dedupe_key (kind and the event's key) makes it one message per event
-- and miner whatever replays. The sender worker (api/phone/sms_sender.c) sends due rows through
-- Africa's Talking: pending -> sending -> sent -> delivered | undeliverable (the delivery
-- report), or back to pending with a later next_attempt_at when the gateway could not take it,
-- or failed (refused for good, or out of attempts). A row left 'sending' by a crash, or whose
-- call timed out, may or may not have gone: it becomes 'unknown' and is never sent again, so no
-- miner gets the same message twice.
CREATE TABLE sms_outbox (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  phone VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  kind VARCHAR(24) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  dedupe_key VARCHAR(80) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  message VARCHAR(480) NOT NULL,
  state VARCHAR(16) NOT NULL DEFAULT 'pending',
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  next_attempt_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  provider_message_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  provider_status VARCHAR(40) NULL,
  failure_reason VARCHAR(160) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  updated_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY sms_outbox_dedupe (dedupe_key),
  UNIQUE KEY sms_outbox_provider_id (provider_message_id),
  KEY sms_outbox_due (state, next_attempt_at),
  KEY sms_outbox_phone (phone, id),
  CONSTRAINT sms_outbox_state CHECK (state IN ('pending', 'sending', 'sent', 'delivered',
    'undeliverable', 'failed', 'unknown')),
  CONSTRAINT sms_outbox_phone_e164 CHECK (phone REGEXP '^[+][1-9][0-9]{7,14}$'),
  CONSTRAINT sms_outbox_message CHECK (CHAR_LENGTH(message) BETWEEN 1 AND 480),
  CONSTRAINT sms_outbox_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
