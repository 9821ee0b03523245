-- Payout anomalies held for the operator (issue 19 "Anomalies are held, not trusted"; issue 15
-- finding 6). Conventions as in 002_accounts.sql; the state machine is api/money/payouts.c.
--
-- A provider report that disagrees with what Kito asked for is never trusted:
--   * a success whose amount, currency or wallet differs from the attempt: the attempt goes to
--     'anomaly' (closed: neither open nor succeeded, so nothing is posted) and the payout too;
--   * a success for an attempt already recorded as failed (the payout may have been retried,
--     and the miner paid twice): the attempt stays failed (final states never change), the
--     payout goes to 'anomaly' whatever its state was, even 'succeeded' (its ledger transaction
--     stays: what Kito recorded as paid was paid);
--   * a success for an open attempt of a payout already held: recorded the same way.
-- Each such report is one payout_anomalies row (the same report twice is one row); a payout in
-- 'anomaly' is never sent, retried or posted by the worker: only an operator decides.
-- `kitoctl reconcile` lists the unresolved rows.

ALTER TABLE payouts DROP CONSTRAINT payouts_state, DROP CONSTRAINT payouts_success;
ALTER TABLE payouts
  ADD CONSTRAINT payouts_state
    CHECK (state IN ('pending', 'submitted', 'succeeded', 'failed', 'anomaly')),
  -- a succeeded payout has its ledger transaction; a held one may (it had succeeded before)
  ADD CONSTRAINT payouts_success
    CHECK ((state <> 'succeeded' OR ledger_transaction_id IS NOT NULL)
           AND (ledger_transaction_id IS NULL OR state IN ('succeeded', 'anomaly'))
           AND (ledger_transaction_id IS NULL) = (succeeded_at IS NULL));

ALTER TABLE payout_attempts DROP CONSTRAINT payout_attempts_state;
ALTER TABLE payout_attempts
  ADD CONSTRAINT payout_attempts_state
    CHECK (state IN ('queued', 'sending', 'accepted', 'succeeded', 'failed', 'anomaly'));

-- kind: 'amount' | 'currency' | 'wallet' (the report differs from the attempt),
-- 'success_after_failure' (the attempt was already failed), 'success_while_held' (the payout was
-- already held). payout_state: the payout's state when the report came. reported_*: what the
-- provider said (NULL when it did not say). resolved_*: set by an operator.
CREATE TABLE payout_anomalies (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  payout_id BIGINT UNSIGNED NOT NULL,
  attempt_id BIGINT UNSIGNED NOT NULL,
  kind VARCHAR(32) NOT NULL,
  payout_state VARCHAR(16) NOT NULL,
  reported_amount_units BIGINT NULL,
  reported_currency CHAR(3) NULL,
  reported_wallet VARCHAR(32) NULL,
  transaction_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  detail VARCHAR(512) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  resolved_at DATETIME(3) NULL,
  resolved_by BIGINT UNSIGNED NULL,
  UNIQUE KEY payout_anomalies_report (attempt_id, kind),
  KEY payout_anomalies_open (resolved_at, id),
  CONSTRAINT payout_anomalies_kind CHECK (kind IN ('amount', 'currency', 'wallet',
    'success_after_failure', 'success_while_held')),
  CONSTRAINT payout_anomalies_payout_fk FOREIGN KEY (payout_id) REFERENCES payouts (id),
  CONSTRAINT payout_anomalies_attempt_fk FOREIGN KEY (attempt_id) REFERENCES payout_attempts (id),
  CONSTRAINT payout_anomalies_resolved_by_fk FOREIGN KEY (resolved_by) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
