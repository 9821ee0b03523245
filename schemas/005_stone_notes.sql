-- A stone's free-text notes (issue 4, POST /v1/stones "notes"): what the miner or the valuer
-- listing for her wants a buyer to know ("found in the eastern pit, a feather near the girdle").
-- Editable by PATCH, unlike the certificate; up to 2000 characters (checked by the API).
ALTER TABLE stones ADD COLUMN notes TEXT NULL AFTER origin_site;
