-- Payouts to miners' mobile-money wallets (issue 7; DESIGN.md, "Settlement and payouts").
-- Conventions as in 002_accounts.sql. The worker and the state machine are api/payouts.c; the
-- provider driver (M-Pesa Daraja B2C) is api/mpesa.c.
--
-- Flow: an invoice is paid -> the payout worker creates the settlement's payout (UNIQUE
-- settlement_id), converting the miner's net into her local currency at the current exchange
-- rate (copied onto the payout) -> it creates attempt 1 and sends it -> the provider's result
-- callback (or a status query) finishes the attempt -> on success the payout is succeeded and
-- ONE ledger transaction (kind 'payout', reference = the payout id) is posted.
--
-- States. payouts.state: pending -> submitted -> succeeded | failed; failed -> submitted only by
-- a retry, which is a NEW attempt. payout_attempts.state: queued (written, not sent) -> sending
-- (claimed by a worker, outcome unknown until the provider answers) -> accepted (the provider
-- took it) -> succeeded | failed; queued/sending may also go straight to failed (a definite
-- refusal). succeeded and failed are final: nothing ever changes them.
--
-- No payout is paid twice, by construction:
--   * a payout has at most ONE open attempt (queued, sending or accepted): open_payout_id below;
--   * a payout has at most ONE succeeded attempt: succeeded_payout_id below;
--   * an attempt is sent at most once (claimed queued -> sending by one UPDATE, committed before
--     the request leaves); a request whose outcome is unknown is never sent again: the provider
--     is asked for its status, and only when it says it never received it is the attempt failed
--     and a new one (new OriginatorConversationID) made;
--   * the ledger transaction is unique by (kind 'payout', the payout id).

-- Exchange rates the operator maintains (`kitoctl fx set --from USD --to KES --rate 129.50`).
-- Never edited: a change is a new row with a later effective_from. rate_micros is units of
-- to_currency per unit of from_currency, times 10^6 (129.50 -> 129500000).
CREATE TABLE exchange_rates (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  from_currency CHAR(3) NOT NULL,
  to_currency CHAR(3) NOT NULL,
  rate_micros BIGINT NOT NULL,
  effective_from DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  set_by BIGINT UNSIGNED NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY exchange_rates_key (from_currency, to_currency, effective_from),
  CONSTRAINT exchange_rates_rate CHECK (rate_micros BETWEEN 1 AND 1000000000000000),
  CONSTRAINT exchange_rates_pair CHECK (from_currency <> to_currency),
  CONSTRAINT exchange_rates_from_fk FOREIGN KEY (from_currency) REFERENCES currencies (code),
  CONSTRAINT exchange_rates_to_fk FOREIGN KEY (to_currency) REFERENCES currencies (code),
  CONSTRAINT exchange_rates_set_by_fk FOREIGN KEY (set_by) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One payout per settlement. amount_minor is the miner's net converted to her local currency,
-- half up to the minor unit; M-Pesa pays whole units only, so paid_units = floor(amount_minor /
-- 10^exponent) is what is sent, and remainder_minor (less than one unit) stays owed to the
-- miner in her local currency (the ledger keeps it in her miner_payable). source_* is the
-- settlement's miner net in the sale's currency; exchange_rate_id and rate_micros are the rate
-- used (copied: later rate changes never alter a payout; rate_micros = 1000000 and no rate row
-- when the sale's currency is already hers).
CREATE TABLE payouts (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  settlement_id BIGINT UNSIGNED NOT NULL,
  miner_id BIGINT UNSIGNED NOT NULL,
  msisdn VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  rail VARCHAR(16) NOT NULL,
  currency CHAR(3) NOT NULL,
  amount_minor BIGINT NOT NULL,
  paid_units BIGINT NOT NULL,
  remainder_minor BIGINT NOT NULL,
  source_minor BIGINT NOT NULL,
  source_currency CHAR(3) NOT NULL,
  exchange_rate_id BIGINT UNSIGNED NULL,
  rate_micros BIGINT NOT NULL,
  state VARCHAR(16) NOT NULL DEFAULT 'pending',
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  current_attempt_id BIGINT UNSIGNED NULL,
  ledger_transaction_id BIGINT UNSIGNED NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  updated_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  succeeded_at DATETIME(3) NULL,
  UNIQUE KEY payouts_settlement (settlement_id),
  UNIQUE KEY payouts_ledger (ledger_transaction_id),
  KEY payouts_miner (miner_id, id),
  KEY payouts_state (state, id),
  CONSTRAINT payouts_state CHECK (state IN ('pending', 'submitted', 'succeeded', 'failed')),
  CONSTRAINT payouts_rail
    CHECK (rail IN ('mpesa', 'airtel_money', 'tigo_pesa', 'mtn_momo', 'tnm_mpamba')),
  CONSTRAINT payouts_msisdn CHECK (msisdn REGEXP '^[+][1-9][0-9]{7,14}$'),
  CONSTRAINT payouts_amounts CHECK (amount_minor >= 0 AND paid_units >= 0 AND remainder_minor >= 0
                                    AND source_minor >= 1 AND rate_micros >= 1),
  -- the ledger transaction exists exactly when the payout succeeded
  CONSTRAINT payouts_success CHECK ((state = 'succeeded') = (ledger_transaction_id IS NOT NULL)
                                    AND (state = 'succeeded') = (succeeded_at IS NOT NULL)),
  CONSTRAINT payouts_settlement_fk FOREIGN KEY (settlement_id) REFERENCES settlements (id),
  CONSTRAINT payouts_miner_fk FOREIGN KEY (miner_id) REFERENCES accounts (id),
  CONSTRAINT payouts_currency_fk FOREIGN KEY (currency) REFERENCES currencies (code),
  CONSTRAINT payouts_source_currency_fk FOREIGN KEY (source_currency) REFERENCES currencies (code),
  CONSTRAINT payouts_rate_fk FOREIGN KEY (exchange_rate_id) REFERENCES exchange_rates (id),
  CONSTRAINT payouts_ledger_fk FOREIGN KEY (ledger_transaction_id)
    REFERENCES ledger_transactions (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One request to the provider for a payout. originator_conversation_id is Kito's id for it
-- (unique; the result callback is matched by it); conversation_id is the provider's (recorded
-- when it accepts); transaction_id is the provider's receipt of a payment (unique when set: one
-- M-Pesa transaction can never pay two attempts). request_json is exactly what was sent (the
-- security credential replaced by "***"). next_check_at: when to ask the provider about an
-- attempt whose result has not come (sending or accepted). MariaDB has no partial indexes, so
-- the two rules are unique keys on generated columns that are NULL outside the rule.
CREATE TABLE payout_attempts (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  payout_id BIGINT UNSIGNED NOT NULL,
  attempt_no INT UNSIGNED NOT NULL,
  originator_conversation_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  conversation_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  request_json TEXT NOT NULL,
  state VARCHAR(16) NOT NULL DEFAULT 'queued',
  result_code VARCHAR(32) NULL,
  result_desc VARCHAR(256) NULL,
  transaction_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  sent_at DATETIME(3) NULL,
  next_check_at DATETIME(3) NULL,
  checks INT UNSIGNED NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  updated_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  open_payout_id BIGINT UNSIGNED
    AS (IF(state IN ('queued', 'sending', 'accepted'), payout_id, NULL)) PERSISTENT,
  succeeded_payout_id BIGINT UNSIGNED AS (IF(state = 'succeeded', payout_id, NULL)) PERSISTENT,
  UNIQUE KEY payout_attempts_number (payout_id, attempt_no),
  UNIQUE KEY payout_attempts_originator (originator_conversation_id),
  UNIQUE KEY payout_attempts_transaction (transaction_id),
  UNIQUE KEY payout_attempts_one_open (open_payout_id),
  UNIQUE KEY payout_attempts_one_success (succeeded_payout_id),
  KEY payout_attempts_state_check (state, next_check_at, id),
  CONSTRAINT payout_attempts_state
    CHECK (state IN ('queued', 'sending', 'accepted', 'succeeded', 'failed')),
  CONSTRAINT payout_attempts_number_positive CHECK (attempt_no >= 1),
  CONSTRAINT payout_attempts_request CHECK (JSON_VALID(request_json)),
  CONSTRAINT payout_attempts_success CHECK (state <> 'succeeded' OR transaction_id IS NOT NULL),
  CONSTRAINT payout_attempts_payout_fk FOREIGN KEY (payout_id) REFERENCES payouts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
