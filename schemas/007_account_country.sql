-- Buyers come from anywhere (DESIGN.md: "international buyers bid online"), but 002 tied
-- accounts.country to the four market countries of `countries` by a foreign key, so a buyer in
-- Germany or the United States could not say where she lives. The market countries still
-- constrain what needs them (miner_profiles.country, stones' origin, associations); an
-- account's country is now any ISO 3166 alpha-2 code, checked for its shape.
ALTER TABLE accounts DROP FOREIGN KEY accounts_country_fk;
ALTER TABLE accounts ADD CONSTRAINT accounts_country_shape
  CHECK (country IS NULL OR (CHAR_LENGTH(country) = 2
                             AND country = UPPER(country) COLLATE utf8mb4_bin
                             AND country REGEXP '^[A-Za-z]{2}$'));
