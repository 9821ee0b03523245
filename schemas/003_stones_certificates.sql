-- Stones, photos, signed valuation certificates and provenance (issue 4; DESIGN.md, "Valuation
-- certificates"). Conventions as in 002_accounts.sql.

-- A stone or a parcel of stones for sale. The seller is always a miner (composite key on
-- accounts (id, role)); listed_by is the miner herself or the valuer who listed on her behalf.
-- weight_cct is the weight in hundredths of a carat (312 = 3.12 ct).
CREATE TABLE stones (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  seller_id BIGINT UNSIGNED NOT NULL,
  seller_role VARCHAR(16) NOT NULL DEFAULT 'miner',
  listed_by BIGINT UNSIGNED NOT NULL,
  species VARCHAR(24) NOT NULL,
  variety VARCHAR(40) NULL,
  weight_cct INT UNSIGNED NOT NULL,
  piece_count INT UNSIGNED NOT NULL DEFAULT 1,
  shape VARCHAR(40) NULL,
  colour VARCHAR(80) NULL,
  origin_country CHAR(2) NOT NULL,
  origin_region VARCHAR(80) NULL,
  origin_site VARCHAR(120) NULL,
  status VARCHAR(16) NOT NULL DEFAULT 'draft',
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  updated_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  -- list filters (species, country, weight range, seller, status) each end in id so that a
  -- (sort key, id) cursor continues on the index
  KEY stones_seller (seller_id, id),
  KEY stones_listed_by (listed_by, id),
  KEY stones_species (species, origin_country, id),
  KEY stones_country (origin_country, id),
  KEY stones_weight (weight_cct, id),
  KEY stones_status (status, id),
  CONSTRAINT stones_seller_role CHECK (seller_role = 'miner'),
  -- GIA species names (DEMO-DATA.md, "Certificate vocabulary") and a few more found in the region
  CONSTRAINT stones_species CHECK (species IN ('corundum', 'beryl', 'zoisite', 'garnet', 'spinel',
    'tourmaline', 'quartz', 'feldspar', 'chrysoberyl', 'topaz', 'zircon', 'olivine', 'cordierite',
    'kyanite', 'opal')),
  CONSTRAINT stones_weight CHECK (weight_cct BETWEEN 1 AND 100000000),
  CONSTRAINT stones_pieces CHECK (piece_count BETWEEN 1 AND 100000),
  CONSTRAINT stones_status CHECK (status IN ('draft', 'certified', 'listed', 'sold', 'withdrawn')),
  CONSTRAINT stones_seller_fk FOREIGN KEY (seller_id, seller_role) REFERENCES accounts (id, role),
  CONSTRAINT stones_listed_by_fk FOREIGN KEY (listed_by) REFERENCES accounts (id),
  CONSTRAINT stones_origin_fk FOREIGN KEY (origin_country) REFERENCES countries (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Photos of a stone. The file lives on disk under its SHA-256 (content-addressed, so the same
-- picture uploaded twice is stored once); mime is checked from the bytes, not the header.
CREATE TABLE photos (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  stone_id BIGINT UNSIGNED NOT NULL,
  sha256 CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  mime VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  bytes INT UNSIGNED NOT NULL,
  uploaded_by BIGINT UNSIGNED NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY photos_stone_sha256 (stone_id, sha256),
  KEY photos_sha256 (sha256),
  CONSTRAINT photos_sha256_hex CHECK (sha256 REGEXP '^[0-9a-f]{64}$'),
  CONSTRAINT photos_mime CHECK (mime IN ('image/jpeg', 'image/png')),
  CONSTRAINT photos_bytes CHECK (bytes BETWEEN 1 AND 16777216),
  CONSTRAINT photos_stone_fk FOREIGN KEY (stone_id) REFERENCES stones (id),
  CONSTRAINT photos_uploaded_by_fk FOREIGN KEY (uploaded_by) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The platform's Ed25519 public keys, by key id (first 16 hex digits of SHA-256 of the raw key;
-- api/crypto.h). kitod registers its key at start (INSERT IGNORE); a retired key stays so that
-- certificates it signed still verify.
CREATE TABLE signing_keys (
  key_id CHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  algorithm VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'ed25519',
  public_key_b64 CHAR(44) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  retired_at DATETIME(3) NULL,
  UNIQUE KEY signing_keys_public (public_key_b64),
  CONSTRAINT signing_keys_id_hex CHECK (key_id REGEXP '^[0-9a-f]{16}$'),
  CONSTRAINT signing_keys_algorithm CHECK (algorithm = 'ed25519')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Valuation certificates. A certificate never changes: canonical_json (api/canonical_json.h) is
-- exactly the bytes signature covers (Ed25519, standard base64 of 64 bytes), stored with binary
-- collation so nothing is normalised. A correction is a new row with the next version that
-- supersedes the previous one; version 1 supersedes nothing, and a certificate is superseded at
-- most once, so each stone has one chain and its current certificate is the one nobody
-- supersedes. The issuer is always a valuer (composite key).
CREATE TABLE certificates (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  stone_id BIGINT UNSIGNED NOT NULL,
  version INT UNSIGNED NOT NULL,
  supersedes_id BIGINT UNSIGNED NULL,
  canonical_json MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  signature CHAR(88) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  key_id CHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  valuer_id BIGINT UNSIGNED NOT NULL,
  valuer_role VARCHAR(16) NOT NULL DEFAULT 'valuer',
  issued_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY certificates_stone_version (stone_id, version),
  UNIQUE KEY certificates_supersedes (supersedes_id),
  KEY certificates_valuer (valuer_id, id),
  CONSTRAINT certificates_version CHECK (version >= 1),
  CONSTRAINT certificates_chain CHECK ((version = 1) = (supersedes_id IS NULL)),
  CONSTRAINT certificates_json CHECK (JSON_VALID(canonical_json)),
  CONSTRAINT certificates_signature CHECK (signature REGEXP '^[A-Za-z0-9+/]{86}==$'),
  CONSTRAINT certificates_valuer_role CHECK (valuer_role = 'valuer'),
  CONSTRAINT certificates_stone_fk FOREIGN KEY (stone_id) REFERENCES stones (id),
  CONSTRAINT certificates_supersedes_fk FOREIGN KEY (supersedes_id) REFERENCES certificates (id),
  CONSTRAINT certificates_key_fk FOREIGN KEY (key_id) REFERENCES signing_keys (key_id),
  CONSTRAINT certificates_valuer_fk FOREIGN KEY (valuer_id, valuer_role) REFERENCES accounts (id, role)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Provenance events of a stone, a hash chain: event seq 1 has prev_hash of 64 zeros, every later
-- event carries the hash of the one before, and hash is the SHA-256 hex of prev_hash followed by
-- the canonical JSON of {stone, seq, kind, at, payload}. Editing or removing any event breaks
-- the chain, which the verify endpoint reports. Append-only, like audit_log.
CREATE TABLE provenance_events (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  stone_id BIGINT UNSIGNED NOT NULL,
  seq INT UNSIGNED NOT NULL,
  kind VARCHAR(8) NOT NULL,
  payload_json MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  prev_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  actor_id BIGINT UNSIGNED NULL,
  at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY provenance_events_stone_seq (stone_id, seq),
  KEY provenance_events_hash (hash),
  CONSTRAINT provenance_events_seq CHECK (seq >= 1),
  CONSTRAINT provenance_events_kind CHECK (kind IN ('found', 'valued', 'listed', 'sold', 'shipped')),
  CONSTRAINT provenance_events_payload CHECK (JSON_VALID(payload_json)),
  CONSTRAINT provenance_events_hashes
    CHECK (prev_hash REGEXP '^[0-9a-f]{64}$' AND hash REGEXP '^[0-9a-f]{64}$'),
  CONSTRAINT provenance_events_genesis
    CHECK ((seq = 1) = (prev_hash = '0000000000000000000000000000000000000000000000000000000000000000')),
  CONSTRAINT provenance_events_stone_fk FOREIGN KEY (stone_id) REFERENCES stones (id),
  CONSTRAINT provenance_events_actor_fk FOREIGN KEY (actor_id) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
