-- Sales, lots and per-sale buyer approval (issue 4; DESIGN.md, "Auction rules").
-- Conventions as in 002_accounts.sql.

-- A sale run by an organizer. Money in the sale's lots is in its currency. ladder_json is the
-- increment ladder in minor units of that currency, a JSON array of
-- {"from_minor": N, "step_minor": N} with from_minor rising from 0 (the API writes DESIGN.md's
-- default when none is given). A live sale at a trade forum has a venue; an online-only sale may
-- have none.
CREATE TABLE sales (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  organizer_id BIGINT UNSIGNED NOT NULL,
  title VARCHAR(120) NOT NULL,
  venue VARCHAR(120) NULL,
  online TINYINT(1) NOT NULL DEFAULT 1,
  format VARCHAR(8) NOT NULL,
  currency CHAR(3) NOT NULL,
  starts_at DATETIME(3) NOT NULL,
  ends_at DATETIME(3) NOT NULL,
  soft_close_s INT UNSIGNED NOT NULL DEFAULT 120,
  stagger_s INT UNSIGNED NOT NULL DEFAULT 60,
  buyer_premium_bps INT NOT NULL DEFAULT 1000,
  commission_bps INT NOT NULL DEFAULT 500,
  tender_pricing VARCHAR(8) NOT NULL DEFAULT 'first',
  ladder_json TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  status VARCHAR(16) NOT NULL DEFAULT 'draft',
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  updated_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  -- list filters and cursors: by status and start time, by organizer, by time
  KEY sales_status_starts (status, starts_at, id),
  KEY sales_starts (starts_at, id),
  KEY sales_ends (ends_at, id),
  KEY sales_organizer (organizer_id, id),
  CONSTRAINT sales_title_nonempty CHECK (CHAR_LENGTH(title) > 0),
  CONSTRAINT sales_online CHECK (online IN (0, 1)),
  CONSTRAINT sales_venue CHECK (online = 1 OR venue IS NOT NULL),
  CONSTRAINT sales_format CHECK (format IN ('timed', 'tender', 'live')),
  CONSTRAINT sales_times CHECK (ends_at > starts_at),
  CONSTRAINT sales_soft_close CHECK (soft_close_s <= 3600),
  CONSTRAINT sales_stagger CHECK (stagger_s <= 3600),
  CONSTRAINT sales_buyer_premium CHECK (buyer_premium_bps BETWEEN 0 AND 10000),
  CONSTRAINT sales_commission CHECK (commission_bps BETWEEN 0 AND 10000),
  CONSTRAINT sales_tender_pricing CHECK (tender_pricing IN ('first', 'second')),
  CONSTRAINT sales_ladder CHECK (JSON_VALID(ladder_json) AND JSON_TYPE(ladder_json) = 'ARRAY'),
  CONSTRAINT sales_status
    CHECK (status IN ('draft', 'published', 'open', 'closed', 'settled', 'cancelled')),
  CONSTRAINT sales_organizer_fk FOREIGN KEY (organizer_id) REFERENCES accounts (id),
  CONSTRAINT sales_currency_fk FOREIGN KEY (currency) REFERENCES currencies (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A lot: one certified stone in one sale. lot_number is what the catalogue and the clerk call
-- it (fixed once given); position is the running order, changed by reordering, and gives the
-- staggered close (lot at position i ends at sale.ends_at + i * stagger_s). The reserve is
-- hidden: public views show only reserve_met. Amounts are minor units of the sale's currency,
-- at most 10^15 (api/validate.h, KITO_AMOUNT_MAX). A stone can be in at most one lot that is not
-- unsold or withdrawn (live_stone_id is NULL for those, and unique otherwise), so it can be
-- offered again after it fails to sell but never sold twice.
CREATE TABLE lots (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  sale_id BIGINT UNSIGNED NOT NULL,
  stone_id BIGINT UNSIGNED NOT NULL,
  lot_number INT UNSIGNED NOT NULL,
  position INT UNSIGNED NOT NULL,
  opening_minor BIGINT NOT NULL,
  reserve_minor BIGINT NULL,
  state VARCHAR(16) NOT NULL DEFAULT 'scheduled',
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  updated_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  live_stone_id BIGINT UNSIGNED AS (IF(state IN ('unsold', 'withdrawn'), NULL, stone_id)) PERSISTENT,
  UNIQUE KEY lots_sale_number (sale_id, lot_number),
  UNIQUE KEY lots_live_stone (live_stone_id),
  KEY lots_sale_position (sale_id, position, id),
  KEY lots_sale_state (sale_id, state, id),
  KEY lots_stone (stone_id),
  KEY lots_state (state, id),
  KEY lots_opening (opening_minor, id),
  CONSTRAINT lots_number CHECK (lot_number >= 1),
  CONSTRAINT lots_opening CHECK (opening_minor BETWEEN 1 AND 1000000000000000),
  CONSTRAINT lots_reserve
    CHECK (reserve_minor IS NULL OR reserve_minor BETWEEN opening_minor AND 1000000000000000),
  CONSTRAINT lots_state
    CHECK (state IN ('scheduled', 'open', 'closing', 'sold', 'unsold', 'withdrawn')),
  CONSTRAINT lots_sale_fk FOREIGN KEY (sale_id) REFERENCES sales (id),
  CONSTRAINT lots_stone_fk FOREIGN KEY (stone_id) REFERENCES stones (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Buyers approved to bid in a sale (DESIGN.md: "a buyer must be approved for the sale"). The
-- buyer is always a buyer account (composite key); paddle_number is her number on the floor of
-- a live sale, unique within the sale when given.
CREATE TABLE sale_approvals (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  sale_id BIGINT UNSIGNED NOT NULL,
  buyer_id BIGINT UNSIGNED NOT NULL,
  buyer_role VARCHAR(16) NOT NULL DEFAULT 'buyer',
  approved_by BIGINT UNSIGNED NOT NULL,
  approved_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  paddle_number INT UNSIGNED NULL,
  UNIQUE KEY sale_approvals_pair (sale_id, buyer_id),
  UNIQUE KEY sale_approvals_paddle (sale_id, paddle_number),
  KEY sale_approvals_buyer (buyer_id, sale_id),
  CONSTRAINT sale_approvals_buyer_role CHECK (buyer_role = 'buyer'),
  CONSTRAINT sale_approvals_paddle_range CHECK (paddle_number IS NULL OR paddle_number >= 1),
  CONSTRAINT sale_approvals_sale_fk FOREIGN KEY (sale_id) REFERENCES sales (id),
  CONSTRAINT sale_approvals_buyer_fk FOREIGN KEY (buyer_id, buyer_role) REFERENCES accounts (id, role),
  CONSTRAINT sale_approvals_approved_by_fk FOREIGN KEY (approved_by) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
