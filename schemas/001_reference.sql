-- Reference data every deployment needs (not demo data): currencies with their minor-unit
-- exponent, and the market's countries with phone prefix and local currency (DEMO-DATA.md).
CREATE TABLE currencies (
  code CHAR(3) NOT NULL PRIMARY KEY,
  name VARCHAR(60) NOT NULL,
  minor_exponent TINYINT UNSIGNED NOT NULL,
  CONSTRAINT currencies_code_upper CHECK (code = UPPER(code) COLLATE utf8mb4_bin),
  CONSTRAINT currencies_exponent CHECK (minor_exponent <= 4)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO currencies (code, name, minor_exponent) VALUES
  ('USD', 'US dollar', 2),
  ('EUR', 'Euro', 2),
  ('GBP', 'Pound sterling', 2),
  ('KES', 'Kenyan shilling', 2),
  ('TZS', 'Tanzanian shilling', 2),
  ('ZMW', 'Zambian kwacha', 2),
  ('MWK', 'Malawian kwacha', 2);

CREATE TABLE countries (
  code CHAR(2) NOT NULL PRIMARY KEY,
  name VARCHAR(60) NOT NULL,
  phone_prefix VARCHAR(4) NOT NULL,
  currency CHAR(3) NOT NULL,
  UNIQUE KEY countries_phone_prefix (phone_prefix),
  CONSTRAINT countries_currency FOREIGN KEY (currency) REFERENCES currencies (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO countries (code, name, phone_prefix, currency) VALUES
  ('KE', 'Kenya', '254', 'KES'),
  ('TZ', 'Tanzania', '255', 'TZS'),
  ('ZM', 'Zambia', '260', 'ZMW'),
  ('MW', 'Malawi', '265', 'MWK');
