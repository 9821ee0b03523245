-- Buyers' watchlists (issue 5, "Buyer's own views"): the lots a buyer follows. A row is a
-- preference, not a marketplace change, so it is not audited. Conventions as in 002_accounts.sql.
-- At most 500 lots per buyer (the API refuses more with 409 conflict).
CREATE TABLE watchlist (
  buyer_id BIGINT UNSIGNED NOT NULL,
  buyer_role VARCHAR(16) NOT NULL DEFAULT 'buyer',
  lot_id BIGINT UNSIGNED NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  PRIMARY KEY (buyer_id, lot_id),
  KEY watchlist_lot (lot_id),
  CONSTRAINT watchlist_buyer_role CHECK (buyer_role = 'buyer'),
  CONSTRAINT watchlist_buyer_fk FOREIGN KEY (buyer_id, buyer_role) REFERENCES accounts (id, role),
  CONSTRAINT watchlist_lot_fk FOREIGN KEY (lot_id) REFERENCES lots (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
