-- Consent (issue 15, finding 1; DESIGN.md, "Settlement and payouts": "a stone enters a sale only
-- when its miner (or her association's agent on her behalf, recorded as such) has offered it to
-- that organiser or sale"). Conventions as in 002_accounts.sql.
--
-- Before this table any organiser could put any miner's certified stone into her own sale. Now
-- a lot is added only when a live offer of its stone covers the sale (api/store/repo_lots.c checks it
-- in the lot's own transaction, under the stone's row lock, which a withdrawal takes too).

-- Lets stone_offers pin the miner and the lister it copies to the stone's own (composite key
-- below), so the database itself refuses an offer by anyone but those two.
ALTER TABLE stones ADD UNIQUE KEY stones_id_seller_lister (id, seller_id, listed_by);
-- Lets stone_offers pin a sale offer's organiser to the sale's own.
ALTER TABLE sales ADD UNIQUE KEY sales_id_organizer (id, organizer_id);

-- One stone offered to one organiser: to any of her sales (sale_id NULL) or to one of them only
-- (sale_id set; organizer_id is then that sale's organiser, so "offers made to her" is one
-- index range either way).
--
-- Who offered: the miner herself (offered_by = miner_id, role 'miner') or an agent on her
-- behalf, recorded as such (role 'valuer', offered_by <> miner_id). The only agent the data can
-- vouch for is the valuer who listed the stone for her (stones.listed_by): Kito has no record
-- tying any other valuer, or an operator, to a miner or her association, and any valuer may
-- certify any stone, so neither certifying a stone nor being staff is consent.
--
-- Offering the same thing again while it is live is no second row (stone_offers_live: one live
-- offer per stone, organiser and sale-or-any). An offer is withdrawn (withdrawn_at, by whom)
-- while the stone is in no lot that is neither unsold nor withdrawn; a withdrawn offer stays as
-- history and a new offer of the same thing is a new row. Offers are never deleted.
CREATE TABLE stone_offers (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  stone_id BIGINT UNSIGNED NOT NULL,
  miner_id BIGINT UNSIGNED NOT NULL,
  listed_by BIGINT UNSIGNED NOT NULL,
  organizer_id BIGINT UNSIGNED NOT NULL,
  organizer_role VARCHAR(16) NOT NULL DEFAULT 'organizer',
  sale_id BIGINT UNSIGNED NULL,
  offered_by BIGINT UNSIGNED NOT NULL,
  offered_by_role VARCHAR(16) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  withdrawn_at DATETIME(3) NULL,
  withdrawn_by BIGINT UNSIGNED NULL,
  -- NULL once withdrawn, so withdrawn offers never collide in stone_offers_live (as lots'
  -- live_stone_id); sale_key is 0 for an offer to the organiser (NULLs would never collide)
  live_stone_id BIGINT UNSIGNED AS (IF(withdrawn_at IS NULL, stone_id, NULL)) PERSISTENT,
  sale_key BIGINT UNSIGNED AS (COALESCE(sale_id, 0)) PERSISTENT,
  UNIQUE KEY stone_offers_live (live_stone_id, organizer_id, sale_key),
  KEY stone_offers_stone (stone_id, id),
  KEY stone_offers_organizer (organizer_id, withdrawn_at, stone_id),
  KEY stone_offers_sale (sale_id, organizer_id),
  CONSTRAINT stone_offers_organizer_role CHECK (organizer_role = 'organizer'),
  CONSTRAINT stone_offers_offered_by_role CHECK (offered_by_role IN ('miner', 'valuer')),
  CONSTRAINT stone_offers_offerer
    CHECK ((offered_by_role = 'miner' AND offered_by = miner_id)
           OR (offered_by_role = 'valuer' AND offered_by = listed_by)),
  CONSTRAINT stone_offers_withdrawn CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL)),
  CONSTRAINT stone_offers_withdrawn_after CHECK (withdrawn_at IS NULL OR withdrawn_at >= created_at),
  CONSTRAINT stone_offers_stone_fk FOREIGN KEY (stone_id, miner_id, listed_by)
    REFERENCES stones (id, seller_id, listed_by),
  CONSTRAINT stone_offers_organizer_fk FOREIGN KEY (organizer_id, organizer_role)
    REFERENCES accounts (id, role),
  CONSTRAINT stone_offers_sale_fk FOREIGN KEY (sale_id, organizer_id)
    REFERENCES sales (id, organizer_id),
  CONSTRAINT stone_offers_offered_by_fk FOREIGN KEY (offered_by, offered_by_role)
    REFERENCES accounts (id, role),
  CONSTRAINT stone_offers_withdrawn_by_fk FOREIGN KEY (withdrawn_by) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
