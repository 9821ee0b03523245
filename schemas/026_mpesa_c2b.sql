-- Payments in by M-Pesa paybill (issue 19, "Payments in"; Safaricom Daraja "Customer To Business
-- (C2B)"): a buyer pays Kito's paybill with her invoice number as the account number
-- (BillRefNumber); M-Pesa posts the payment to Kito's registered ValidationURL (refused for an
-- unknown account number) and ConfirmationURL (the money has moved). Conventions as in
-- 002_accounts.sql; the rules are api/money/c2b.c.
--
-- Every confirmation is one row, unique by M-Pesa's TransID: the same confirmation twice is
-- recorded once. Nothing is ever dropped: the part that pays what the invoice still owes is a
-- payment (payments.reference = TransID, posted like any payment); the rest, or all of it when
-- no invoice can take it (unknown account number, a paid or void invoice), is posted to the
-- buyer_credit account (party: the invoice's buyer when known) and shown, for an operator to
-- apply or pay back. The paybill takes shillings: an invoice in another currency (the demo's
-- are in USD) is paid at the exchange rate recorded for it (`kitoctl fx set`), converted in the
-- ledger through fx_conversion; without a rate the money is kept, unmatched.

INSERT INTO ledger_accounts (code, name, description) VALUES
  (10, 'buyer_credit', 'money received that no invoice took: an over-payment or an unmatched payment (party: the buyer when known), to apply or pay back');

CREATE TABLE mpesa_c2b_payments (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  trans_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  trans_type VARCHAR(32) NOT NULL,
  trans_time CHAR(14) CHARACTER SET ascii NOT NULL,
  amount_minor BIGINT NOT NULL,
  currency CHAR(3) NOT NULL,
  -- in the invoice's currency: amount_minor converted at the recorded rate (rate_micros: units
  -- of currency per unit of invoice_currency, the latest exchange_rates row), rounded down;
  -- the same as amount_minor when the invoice is in KES or nothing matched
  invoice_currency CHAR(3) NOT NULL,
  converted_minor BIGINT NOT NULL,
  rate_micros BIGINT NOT NULL DEFAULT 1000000,
  short_code VARCHAR(16) CHARACTER SET ascii NOT NULL,
  bill_ref VARCHAR(64) NOT NULL,
  msisdn VARCHAR(64) NOT NULL,
  payer_name VARCHAR(124) NOT NULL,
  invoice_id BIGINT UNSIGNED NULL,
  buyer_id BIGINT UNSIGNED NULL,
  payment_id BIGINT UNSIGNED NULL,
  applied_minor BIGINT NOT NULL DEFAULT 0,
  credit_minor BIGINT NOT NULL DEFAULT 0,
  state VARCHAR(16) NOT NULL,
  reason VARCHAR(200) NULL,
  credit_ledger_transaction_id BIGINT UNSIGNED NULL,
  received_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY mpesa_c2b_trans_id (trans_id),
  KEY mpesa_c2b_invoice (invoice_id, id),
  KEY mpesa_c2b_buyer (buyer_id, id),
  KEY mpesa_c2b_state (state, id),
  CONSTRAINT mpesa_c2b_amount CHECK (amount_minor >= 1),
  CONSTRAINT mpesa_c2b_split CHECK (applied_minor >= 0 AND credit_minor >= 0
                                    AND applied_minor + credit_minor = converted_minor),
  CONSTRAINT mpesa_c2b_state_ck CHECK (state IN ('paid', 'partial', 'over', 'unmatched')),
  CONSTRAINT mpesa_c2b_payment CHECK ((applied_minor > 0) = (payment_id IS NOT NULL)),
  CONSTRAINT mpesa_c2b_credit CHECK ((credit_minor > 0) = (credit_ledger_transaction_id IS NOT NULL)),
  CONSTRAINT mpesa_c2b_currency_fk FOREIGN KEY (currency) REFERENCES currencies (code),
  CONSTRAINT mpesa_c2b_invoice_currency_fk FOREIGN KEY (invoice_currency)
    REFERENCES currencies (code),
  CONSTRAINT mpesa_c2b_invoice_fk FOREIGN KEY (invoice_id) REFERENCES invoices (id),
  CONSTRAINT mpesa_c2b_buyer_fk FOREIGN KEY (buyer_id) REFERENCES accounts (id),
  CONSTRAINT mpesa_c2b_payment_fk FOREIGN KEY (payment_id) REFERENCES payments (id),
  CONSTRAINT mpesa_c2b_ledger_fk FOREIGN KEY (credit_ledger_transaction_id)
    REFERENCES ledger_transactions (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
