-- A miner's payout wallet changes (issue 15, finding 5; issue 18, menu 6: "change payout wallet
-- (PIN required; an SMS goes to the old number; payouts to a new wallet wait 24 hours,
-- configurable, so a stolen session cannot redirect her money at once)"). Conventions as in
-- 002_accounts.sql.
--
-- One row per change, written in the transaction that changes miner_profiles (with its SMS to
-- the old number in sms_outbox and its audit row): api/store/repo_accounts.c. hold_until is the
-- change's time plus KITO_PAYOUT_WALLET_HOLD_S as it was then (a later setting never moves it).
-- A payout to (new_msisdn, new_rail) of that miner is not sent while any of her changes to that
-- wallet is still held: the payout worker's query that picks pending payouts skips it
-- (api/store/repo_payouts.c, KITO_PAYOUT_HELD_UNTIL_SQL), and the payout shows the hold and why until
-- it ends; the next worker pass after hold_until sends it.
CREATE TABLE payout_wallet_changes (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  old_msisdn VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  old_rail VARCHAR(16) NOT NULL,
  new_msisdn VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  new_rail VARCHAR(16) NOT NULL,
  channel VARCHAR(8) NOT NULL,
  hold_until DATETIME(3) NOT NULL,
  ip VARCHAR(45) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  KEY payout_wallet_changes_wallet (account_id, new_msisdn, hold_until),
  CONSTRAINT payout_wallet_changes_channel CHECK (channel IN ('api', 'ussd')),
  CONSTRAINT payout_wallet_changes_changed
    CHECK (old_msisdn <> new_msisdn OR old_rail <> new_rail),
  CONSTRAINT payout_wallet_changes_msisdn
    CHECK (old_msisdn REGEXP '^[+][1-9][0-9]{7,14}$' AND new_msisdn REGEXP '^[+][1-9][0-9]{7,14}$'),
  CONSTRAINT payout_wallet_changes_hold CHECK (hold_until >= created_at),
  CONSTRAINT payout_wallet_changes_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
