-- Sales, second step (issue 4): what the API needs beyond 004_sales_lots.sql.
-- Conventions as in 002_accounts.sql.

-- A sale's catalogue text, and a live sale's end made optional: at a trade forum the clerk
-- closes the last lot when the room is done, so ends_at is only a planned end and may be
-- unknown. Timed and tender sales close by the clock and must have one. (sales_times still
-- holds when ends_at is set.)
ALTER TABLE sales
  ADD COLUMN description TEXT NULL AFTER title,
  MODIFY ends_at DATETIME(3) NULL,
  ADD CONSTRAINT sales_description CHECK (description IS NULL OR CHAR_LENGTH(description) <= 4000),
  ADD CONSTRAINT sales_ends_required CHECK (ends_at IS NOT NULL OR format = 'live');

-- A buyer's spending limit in the sale (minor units of the sale's currency; NULL = none): the
-- organiser's credit decision, which the bidding code enforces.
ALTER TABLE sale_approvals
  ADD COLUMN limit_minor BIGINT NULL AFTER paddle_number,
  ADD CONSTRAINT sale_approvals_limit
    CHECK (limit_minor IS NULL OR limit_minor BETWEEN 1 AND 1000000000000000);

-- A buyer's request to bid in a sale and what the organiser decided. sale_approvals stays the
-- one table the bidding code asks ("is she approved?"): a registration is 'approved' exactly when
-- its sale_approvals row exists (both written in one transaction). 'declined' is a pending
-- request the organiser turned down, 'revoked' an approval she withdrew. requested_at is NULL
-- when the organiser approved a buyer who never asked (a known floor bidder).
CREATE TABLE sale_registrations (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  sale_id BIGINT UNSIGNED NOT NULL,
  buyer_id BIGINT UNSIGNED NOT NULL,
  buyer_role VARCHAR(16) NOT NULL DEFAULT 'buyer',
  status VARCHAR(16) NOT NULL DEFAULT 'pending',
  requested_at DATETIME(3) NULL,
  decided_by BIGINT UNSIGNED NULL,
  decided_at DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  updated_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY sale_registrations_pair (sale_id, buyer_id),
  KEY sale_registrations_sale_status (sale_id, status, id),
  KEY sale_registrations_buyer (buyer_id, sale_id),
  CONSTRAINT sale_registrations_status
    CHECK (status IN ('pending', 'approved', 'declined', 'revoked')),
  CONSTRAINT sale_registrations_decided
    CHECK ((status = 'pending') = (decided_at IS NULL)),
  CONSTRAINT sale_registrations_buyer_role CHECK (buyer_role = 'buyer'),
  CONSTRAINT sale_registrations_sale_fk FOREIGN KEY (sale_id) REFERENCES sales (id),
  CONSTRAINT sale_registrations_buyer_fk FOREIGN KEY (buyer_id, buyer_role)
    REFERENCES accounts (id, role),
  CONSTRAINT sale_registrations_decided_by_fk FOREIGN KEY (decided_by) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
