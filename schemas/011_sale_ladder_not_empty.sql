-- A sale's increment ladder must have at least one rung: the engine cannot price a bid without
-- one, and the API never writes an empty one (routes_sales.c validates the ladder). A row with
-- `[]` (written by hand) broke the sale list pages; the database now refuses it too.
ALTER TABLE sales
  DROP CONSTRAINT sales_ladder,
  ADD CONSTRAINT sales_ladder CHECK (JSON_VALID(ladder_json) AND JSON_TYPE(ladder_json) = 'ARRAY'
                                     AND JSON_LENGTH(ladder_json) > 0);
