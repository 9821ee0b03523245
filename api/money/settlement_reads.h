/*
 * What the API shows of settlement: a sale's settlements (its organiser), a miner's sales, a
 * buyer's invoices, a sale's published results. Each list is a page of JSON objects in the API's
 * conventions (api/common/render.h); reads only.
 *
 * Threads: a MySQL worker (api/http/req_db.h), with that thread's connection.
 */
#ifndef KITO_SETTLEMENT_READS_H
#define KITO_SETTLEMENT_READS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/common/csv.h"
#include "api/store/db.h"
#include "engine/err.h"

/* Who may see a sale's settlements: KITO_OK if viewer is its organizer (or is_operator),
 * KITO_E_NOT_FOUND if there is no such sale or it is another organizer's. */
kito_err kito_settlement_reads_sale_access(kito_db_conn *db, uint64_t sale_id, uint64_t viewer,
                                           bool is_operator);

/* Lists, as JSON arrays of rendered items, ordered by id, after after_id, at most limit items
 * (one more is fetched to say whether there is a next page: *more).
 *   sale_settlements: a sale's settlements, every part (organizer view);
 *   buyer_invoices: the buyer's invoices with lot, sale and amounts;
 *   miner_sales: the miner's settled lots with hammer, commission, royalty, levy, net.
 * *items is a new reference. */
kito_err kito_settlement_reads_sale_settlements(kito_db_conn *db, uint64_t sale_id,
                                                uint64_t after_id, uint32_t limit, json_t **items,
                                                bool *more);
kito_err kito_settlement_reads_buyer_invoices(kito_db_conn *db, uint64_t buyer_id,
                                              uint64_t after_id, uint32_t limit, json_t **items,
                                              bool *more);
kito_err kito_settlement_reads_miner_sales(kito_db_conn *db, uint64_t miner_id, uint64_t after_id,
                                           uint32_t limit, json_t **items, bool *more);

/* A sale's published results (issue 7; Gemfields' format) as a JSON object (new reference):
 * KITO_E_NOT_FOUND for no such sale, or one that is a draft or has no closed lot yet. */
kito_err kito_settlement_reads_sale_results(kito_db_conn *db, uint64_t sale_id, json_t **out);

/* A sale's lots in running order as CSV (api/common/csv.h), one row each after a header row:
 * lot_number, lot_id, state, species, variety, weight_ct, currency, then for a settled lot
 * hammer, buyer_premium, buyer_total, commission, royalty, levy, miner_net (decimals of the
 * sale's currency), buyer_id, invoice_number, invoice_status (empty for a lot not settled).
 * Appends to *out (the caller's, empty or not; free with kito_csv_free). The caller checks
 * access first (kito_settlement_reads_sale_access). */
kito_err kito_settlement_reads_sale_results_csv(kito_db_conn *db, uint64_t sale_id, kito_csv *out);

#endif
