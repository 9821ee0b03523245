-- Settlement, invoices, buyer payments and the double-entry ledger (issue 7; DESIGN.md,
-- "Settlement and payouts"). Conventions as in 002_accounts.sql. The arithmetic is
-- engine/fees.h's: every part is hammer x rate rounded half up, and the parts add up exactly;
-- the CHECK constraints below hold the database to the same identities.
--
-- Flow: a lot closes -> its result is in the Redis outbox (ops/REDIS.md) -> the settlement
-- worker (api/settlement.h) writes, in ONE transaction, the lot's final state, a settlement, the
-- buyer's invoice and a balanced ledger transaction, then acknowledges the outbox entry. Buyer
-- payments post their own ledger transactions; payouts to miners (the payouts migration) post
-- theirs against the same accounts.

-- Royalty rates the operator maintains (`kitoctl royalty set`; DEMO-DATA.md). Rates are never
-- edited: a change is a new row with a later effective_from, so a settlement can always say
-- which rate applied. The rate for (country, species, form) at time t is the row with the
-- latest effective_from <= t, a row for the exact species winning over the country's catch-all
-- species '*'. form is the stone's state when sold: 'rough' (the default) or 'cut' (cut and
-- polished; Tanzania charges 1% instead of 6%). species uses stones.species' names.
CREATE TABLE royalty_rates (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  country CHAR(2) NOT NULL,
  species VARCHAR(24) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  form VARCHAR(8) NOT NULL DEFAULT 'rough',
  rate_bps INT NOT NULL,
  effective_from DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  set_by BIGINT UNSIGNED NULL,
  source VARCHAR(200) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY royalty_rates_key (country, species, form, effective_from),
  CONSTRAINT royalty_rates_species CHECK (species = '*' OR species REGEXP '^[a-z]{2,24}$'),
  CONSTRAINT royalty_rates_form CHECK (form IN ('rough', 'cut')),
  CONSTRAINT royalty_rates_rate CHECK (rate_bps BETWEEN 0 AND 10000),
  CONSTRAINT royalty_rates_country_fk FOREIGN KEY (country) REFERENCES countries (code),
  CONSTRAINT royalty_rates_set_by_fk FOREIGN KEY (set_by) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A lot's result as the settlement worker writes it from the outbox entry: the hammer and the
-- winner of a sold lot, and when it closed (sold, unsold or withdrawn).
ALTER TABLE lots
  ADD COLUMN hammer_minor BIGINT NULL AFTER reserve_minor,
  ADD COLUMN winner_id BIGINT UNSIGNED NULL AFTER hammer_minor,
  ADD COLUMN closed_at DATETIME(3) NULL AFTER winner_id,
  ADD KEY lots_winner (winner_id, id),
  ADD CONSTRAINT lots_hammer CHECK (hammer_minor IS NULL OR hammer_minor BETWEEN 1 AND 1000000000000000),
  ADD CONSTRAINT lots_result CHECK ((hammer_minor IS NULL) = (winner_id IS NULL)
                                    AND (hammer_minor IS NULL OR state = 'sold')),
  ADD CONSTRAINT lots_winner_fk FOREIGN KEY (winner_id) REFERENCES accounts (id);

-- The chart of accounts of the ledger. Codes 1..6 are engine/fees.h's enum kito_ledger_account
-- (stored numbers: never renumber); 7..9 are the money that actually moves. A later migration
-- adds accounts by inserting rows here.
CREATE TABLE ledger_accounts (
  code SMALLINT UNSIGNED NOT NULL PRIMARY KEY,
  name VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  description VARCHAR(200) NOT NULL,
  UNIQUE KEY ledger_accounts_name (name),
  CONSTRAINT ledger_accounts_name_shape CHECK (name REGEXP '^[a-z][a-z_]*$')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO ledger_accounts (code, name, description) VALUES
  (1, 'buyer_receivable', 'what a buyer owes Kito (party: the buyer)'),
  (2, 'miner_payable', 'what Kito owes a miner (party: the miner)'),
  (3, 'platform_revenue', 'buyer premium and seller commission'),
  (4, 'royalty_payable', 'royalty withheld for the government of the stone''s country'),
  (5, 'levy_payable', 'levy owed to a miner''s association (party: none; see settlements)'),
  (6, 'shipping_payable', 'shipping charged to the buyer, owed to the carrier'),
  (7, 'cash', 'money received from buyers (bank, card, mobile money in)'),
  (8, 'mobile_money_clearing', 'payouts sent to a mobile-money provider, until it confirms'),
  (9, 'fx_conversion', 'currency conversion of a payout (one entry per currency side)');

-- One ledger transaction: a set of entries that sums to zero per currency (checked by the
-- writer before INSERT and by `kitoctl reconcile` after). kind + reference is the idempotency
-- key of whatever posted it: 'settlement' + lot id, 'payment' + payment reference, 'payout' +
-- payout attempt id... so a replay can never post twice.
CREATE TABLE ledger_transactions (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  kind VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  reference VARCHAR(80) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  currency CHAR(3) NOT NULL,
  memo VARCHAR(200) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY ledger_transactions_kind_reference (kind, reference),
  KEY ledger_transactions_created (created_at, id),
  CONSTRAINT ledger_transactions_kind
    CHECK (kind IN ('settlement', 'payment', 'payout', 'payout_reversal', 'refund', 'adjustment')),
  CONSTRAINT ledger_transactions_reference CHECK (reference REGEXP '^[!-~]{1,80}$'),
  CONSTRAINT ledger_transactions_currency_fk FOREIGN KEY (currency) REFERENCES currencies (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The postings of a ledger transaction: a debit is positive, a credit negative (engine/fees.h,
-- struct kito_posting). party_id says whose sub-account it is (the buyer of a receivable, the
-- miner of a payable); NULL for the platform's own accounts. currency is per entry so that a
-- payout converting currency can post both sides (each currency sums to zero on its own).
-- Append-only: corrections are new transactions.
CREATE TABLE ledger_entries (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  transaction_id BIGINT UNSIGNED NOT NULL,
  account_code SMALLINT UNSIGNED NOT NULL,
  party_id BIGINT UNSIGNED NULL,
  amount_minor BIGINT NOT NULL,
  currency CHAR(3) NOT NULL,
  KEY ledger_entries_transaction (transaction_id, id),
  KEY ledger_entries_account (account_code, party_id, currency, id),
  CONSTRAINT ledger_entries_nonzero CHECK (amount_minor <> 0),
  CONSTRAINT ledger_entries_bound
    CHECK (amount_minor BETWEEN -4000000000000000 AND 4000000000000000),
  CONSTRAINT ledger_entries_transaction_fk FOREIGN KEY (transaction_id)
    REFERENCES ledger_transactions (id),
  CONSTRAINT ledger_entries_account_fk FOREIGN KEY (account_code) REFERENCES ledger_accounts (code),
  CONSTRAINT ledger_entries_party_fk FOREIGN KEY (party_id) REFERENCES accounts (id),
  CONSTRAINT ledger_entries_currency_fk FOREIGN KEY (currency) REFERENCES currencies (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One settlement per sold lot (lot_id UNIQUE: the idempotency key of the outbox consumer). The
-- rates are copied from the sale, the royalty table and the miner's association at settlement
-- time, so later changes never alter a settled lot. All amounts are minor units of currency
-- (the sale's). outbox_entry_id is the Redis stream id of the outbox entry it came from.
CREATE TABLE settlements (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  lot_id BIGINT UNSIGNED NOT NULL,
  sale_id BIGINT UNSIGNED NOT NULL,
  stone_id BIGINT UNSIGNED NOT NULL,
  buyer_id BIGINT UNSIGNED NOT NULL,
  miner_id BIGINT UNSIGNED NOT NULL,
  association_id BIGINT UNSIGNED NULL,
  currency CHAR(3) NOT NULL,
  hammer_minor BIGINT NOT NULL,
  buyer_premium_bps INT NOT NULL,
  buyer_premium_minor BIGINT NOT NULL,
  shipping_minor BIGINT NOT NULL DEFAULT 0,
  buyer_total_minor BIGINT NOT NULL,
  commission_bps INT NOT NULL,
  commission_minor BIGINT NOT NULL,
  royalty_rate_id BIGINT UNSIGNED NOT NULL,
  royalty_country CHAR(2) NOT NULL,
  royalty_rate_bps INT NOT NULL,
  royalty_minor BIGINT NOT NULL,
  levy_rate_bps INT NOT NULL DEFAULT 0,
  levy_minor BIGINT NOT NULL DEFAULT 0,
  miner_net_minor BIGINT NOT NULL,
  ledger_transaction_id BIGINT UNSIGNED NOT NULL,
  outbox_entry_id VARCHAR(41) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  closed_at DATETIME(3) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY settlements_lot (lot_id),
  UNIQUE KEY settlements_ledger (ledger_transaction_id),
  KEY settlements_sale (sale_id, id),
  KEY settlements_buyer (buyer_id, id),
  KEY settlements_miner (miner_id, id),
  CONSTRAINT settlements_hammer CHECK (hammer_minor BETWEEN 1 AND 1000000000000000),
  CONSTRAINT settlements_bps CHECK (buyer_premium_bps BETWEEN 0 AND 10000
                                    AND commission_bps BETWEEN 0 AND 10000
                                    AND royalty_rate_bps BETWEEN 0 AND 10000
                                    AND levy_rate_bps BETWEEN 0 AND 10000),
  CONSTRAINT settlements_parts_nonnegative
    CHECK (buyer_premium_minor >= 0 AND shipping_minor >= 0 AND commission_minor >= 0
           AND royalty_minor >= 0 AND levy_minor >= 0 AND miner_net_minor >= 0),
  CONSTRAINT settlements_buyer_total
    CHECK (buyer_total_minor = hammer_minor + buyer_premium_minor + shipping_minor),
  CONSTRAINT settlements_miner_net
    CHECK (miner_net_minor = hammer_minor - commission_minor - royalty_minor - levy_minor),
  CONSTRAINT settlements_outbox_id CHECK (outbox_entry_id REGEXP '^[0-9]{1,20}-[0-9]{1,20}$'),
  CONSTRAINT settlements_lot_fk FOREIGN KEY (lot_id) REFERENCES lots (id),
  CONSTRAINT settlements_sale_fk FOREIGN KEY (sale_id) REFERENCES sales (id),
  CONSTRAINT settlements_stone_fk FOREIGN KEY (stone_id) REFERENCES stones (id),
  CONSTRAINT settlements_buyer_fk FOREIGN KEY (buyer_id) REFERENCES accounts (id),
  CONSTRAINT settlements_miner_fk FOREIGN KEY (miner_id) REFERENCES accounts (id),
  CONSTRAINT settlements_association_fk FOREIGN KEY (association_id) REFERENCES associations (id),
  CONSTRAINT settlements_currency_fk FOREIGN KEY (currency) REFERENCES currencies (code),
  CONSTRAINT settlements_royalty_rate_fk FOREIGN KEY (royalty_rate_id) REFERENCES royalty_rates (id),
  CONSTRAINT settlements_royalty_country_fk FOREIGN KEY (royalty_country) REFERENCES countries (code),
  CONSTRAINT settlements_ledger_fk FOREIGN KEY (ledger_transaction_id)
    REFERENCES ledger_transactions (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The buyer's invoice for one settlement: the buyer total, due 3 days after issue (DEMO-DATA.md:
-- buyers pay within 3 days). number is the human reference printed on it (INV-<settlement id,
-- 10 digits>). issued -> paid when payments reach amount_minor; void cancels an unpaid invoice.
-- The miner is paid only once her lot's invoice is paid (the payouts migration).
CREATE TABLE invoices (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  settlement_id BIGINT UNSIGNED NOT NULL,
  buyer_id BIGINT UNSIGNED NOT NULL,
  sale_id BIGINT UNSIGNED NOT NULL,
  number VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  status VARCHAR(8) NOT NULL DEFAULT 'issued',
  amount_minor BIGINT NOT NULL,
  paid_minor BIGINT NOT NULL DEFAULT 0,
  currency CHAR(3) NOT NULL,
  issued_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  due_at DATETIME(3) NOT NULL,
  paid_at DATETIME(3) NULL,
  voided_at DATETIME(3) NULL,
  updated_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY invoices_settlement (settlement_id),
  UNIQUE KEY invoices_number (number),
  KEY invoices_buyer (buyer_id, id),
  KEY invoices_sale (sale_id, id),
  KEY invoices_status_due (status, due_at, id),
  CONSTRAINT invoices_status CHECK (status IN ('issued', 'paid', 'void')),
  CONSTRAINT invoices_amount CHECK (amount_minor >= 1),
  CONSTRAINT invoices_paid_amount CHECK (paid_minor BETWEEN 0 AND amount_minor),
  CONSTRAINT invoices_paid CHECK ((status = 'paid') = (paid_at IS NOT NULL)
                                  AND (status <> 'paid' OR paid_minor = amount_minor)),
  CONSTRAINT invoices_void CHECK ((status = 'void') = (voided_at IS NOT NULL)),
  CONSTRAINT invoices_due CHECK (due_at > issued_at),
  CONSTRAINT invoices_number_shape CHECK (number REGEXP '^INV-[0-9]{10,20}$'),
  CONSTRAINT invoices_settlement_fk FOREIGN KEY (settlement_id) REFERENCES settlements (id),
  CONSTRAINT invoices_buyer_fk FOREIGN KEY (buyer_id) REFERENCES accounts (id),
  CONSTRAINT invoices_sale_fk FOREIGN KEY (sale_id) REFERENCES sales (id),
  CONSTRAINT invoices_currency_fk FOREIGN KEY (currency) REFERENCES currencies (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A buyer's payment against an invoice, recorded by an organizer or an operator (the money
-- arrived by bank transfer, card or mobile money). reference is the payer's or the bank's
-- reference, unique across all payments: recording the same one twice is refused (409), so a
-- repeated command never counts money twice. Each payment posts one ledger transaction (kind
-- 'payment', same reference): cash debit, the buyer's receivable credit. Invoices take
-- payments in their own currency only.
CREATE TABLE payments (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  invoice_id BIGINT UNSIGNED NOT NULL,
  amount_minor BIGINT NOT NULL,
  currency CHAR(3) NOT NULL,
  method VARCHAR(16) NOT NULL DEFAULT 'bank_transfer',
  reference VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  recorded_by BIGINT UNSIGNED NULL,
  ledger_transaction_id BIGINT UNSIGNED NOT NULL,
  at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY payments_reference (reference),
  UNIQUE KEY payments_ledger (ledger_transaction_id),
  KEY payments_invoice (invoice_id, id),
  CONSTRAINT payments_amount CHECK (amount_minor BETWEEN 1 AND 4000000000000000),
  CONSTRAINT payments_method
    CHECK (method IN ('bank_transfer', 'card', 'mobile_money', 'cash', 'other')),
  CONSTRAINT payments_reference_shape CHECK (reference REGEXP '^[!-~]{1,64}$'),
  CONSTRAINT payments_invoice_fk FOREIGN KEY (invoice_id) REFERENCES invoices (id),
  CONSTRAINT payments_currency_fk FOREIGN KEY (currency) REFERENCES currencies (code),
  CONSTRAINT payments_recorded_by_fk FOREIGN KEY (recorded_by) REFERENCES accounts (id),
  CONSTRAINT payments_ledger_fk FOREIGN KEY (ledger_transaction_id)
    REFERENCES ledger_transactions (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Outbox entries the worker cannot settle however often it retries (a lot MySQL does not know,
-- a seller or sale that does not match the lot, amounts fees.h refuses): kept here with the
-- entry's fields and the reason, then acknowledged, so one bad entry never blocks the stream
-- and nothing is silently dropped. `kitoctl reconcile` lists them.
CREATE TABLE settlement_rejects (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  outbox_entry_id VARCHAR(41) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  lot_id BIGINT UNSIGNED NULL,
  fields_json MEDIUMTEXT NOT NULL,
  reason VARCHAR(200) NOT NULL,
  at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY settlement_rejects_entry (outbox_entry_id),
  KEY settlement_rejects_lot (lot_id),
  CONSTRAINT settlement_rejects_fields CHECK (JSON_VALID(fields_json))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
