-- The miner's phone channel (issue 18; DESIGN.md, "Phone channel"). Conventions as in
-- 002_accounts.sql.

-- The best price a local buyer offered her for the stone, when she says (USSD "list a stone"):
-- in her country's currency, minor units. Results publish her multiple against it (DESIGN.md,
-- "Consent": "the miner's multiple (her net / that offer)").
ALTER TABLE stones
  ADD COLUMN local_offer_minor BIGINT NULL AFTER notes,
  ADD COLUMN local_offer_currency CHAR(3) NULL AFTER local_offer_minor,
  ADD CONSTRAINT stones_local_offer
    CHECK ((local_offer_minor IS NULL) = (local_offer_currency IS NULL)
           AND (local_offer_minor IS NULL OR local_offer_minor BETWEEN 1 AND 100000000000000));

-- Wrong PINs typed on USSD, per phone (api/store/repo_phone.h). The gateway vouches for the
-- phone number, so only requests carrying her number count here: no one on the web can pause
-- her phone's PIN actions, and web sign-in failures (signin_lockouts) do not touch this counter.
CREATE TABLE ussd_pin_failures (
  phone VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  failures INT UNSIGNED NOT NULL DEFAULT 0,
  first_failure_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  last_failure_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  locked_until DATETIME(3) NULL,
  CONSTRAINT ussd_pin_failures_phone CHECK (phone REGEXP '^[+][1-9][0-9]{7,14}$'),
  CONSTRAINT ussd_pin_failures_order CHECK (last_failure_at >= first_failure_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
