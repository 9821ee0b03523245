-- Per-rail limits and payout holds (issue 19: "Amounts above the provider's per-transaction
-- limit (configurable per rail and currency) are split into several attempts, each idempotent,
-- summed in the ledger; below the minimum they wait and accumulate"; "a rate older than a
-- configurable age holds the payout with a clear reason"). Conventions as in 002_accounts.sql;
-- the rules are api/money/payout_rules.c, the writer api/money/payouts.c.
--
-- Parts. A payout above the rail's maximum (KITO_PAYOUT_LIMITS) is made as several payouts,
-- part 1..parts of one group, each at most the maximum: each is a payout like any other (its own
-- attempts and references, so each part is idempotent at the provider on its own; its own ledger
-- transaction, balanced by itself), and the parts sum exactly to the whole (units, local minor
-- units and the sale-currency net). UNIQUE (settlement_id, part_no) keeps "created once".
ALTER TABLE payouts
  ADD COLUMN part_no SMALLINT UNSIGNED NOT NULL DEFAULT 1 AFTER settlement_id,
  ADD COLUMN parts SMALLINT UNSIGNED NOT NULL DEFAULT 1 AFTER part_no,
  ADD UNIQUE KEY payouts_settlement_part (settlement_id, part_no),
  ADD CONSTRAINT payouts_part CHECK (part_no BETWEEN 1 AND parts AND parts <= 100);
ALTER TABLE payouts DROP INDEX payouts_settlement;

-- Which settlements a payout group pays. Normally one (the payout's own settlement_id); when
-- a miner's sales were each below the rail's minimum they wait, and once together they reach
-- it, ONE group pays them all (the payout's settlement_id is the newest of them). The primary
-- key says a settlement is paid by one group only, whatever the number of workers.
CREATE TABLE payout_members (
  settlement_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  payout_id BIGINT UNSIGNED NOT NULL, -- the group's part 1
  source_minor BIGINT NOT NULL,       -- this settlement's miner net in the group
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  KEY payout_members_payout (payout_id),
  CONSTRAINT payout_members_source CHECK (source_minor >= 1),
  CONSTRAINT payout_members_settlement_fk FOREIGN KEY (settlement_id) REFERENCES settlements (id),
  CONSTRAINT payout_members_payout_fk FOREIGN KEY (payout_id) REFERENCES payouts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO payout_members (settlement_id, payout_id, source_minor)
  SELECT settlement_id, id, source_minor FROM payouts;

-- A paid settlement whose payout cannot be made yet, and why, in words an operator and the
-- miner can read: 'fx_stale' (the only exchange rate to her currency is older than
-- KITO_FX_MAX_AGE_S: converting at it would pay her the wrong amount), 'below_minimum' (the
-- amount, with her other waiting sales, is below the rail's minimum per transfer). The row goes
-- when the payout is made; it is re-examined every worker pass.
CREATE TABLE payout_holds (
  settlement_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  reason VARCHAR(32) NOT NULL,
  detail VARCHAR(512) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  updated_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  KEY payout_holds_checked (updated_at),
  CONSTRAINT payout_holds_reason CHECK (reason IN ('fx_stale', 'below_minimum')),
  CONSTRAINT payout_holds_settlement_fk FOREIGN KEY (settlement_id) REFERENCES settlements (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
