#include "api/money/ledger.h"

#include <string.h>

#include "api/store/sql.h"

kito_err kito_ledger_post(kito_db_conn *db, const char *kind, const char *reference,
                          const char *currency, const char *memo, const kito_ledger_line *lines,
                          size_t n, uint64_t *tx_id)
{
    if (n > KITO_LEDGER_LINES_MAX)
        return KITO_E_INTERNAL;
    /* every currency sums to zero: each line's currency is checked against the sum of all lines
     * in it (n is small) */
    size_t written = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t sum = 0;
        if (lines[i].currency == NULL)
            return KITO_E_INTERNAL;
        for (size_t k = 0; k < n; k++) {
            if (strcmp(lines[k].currency, lines[i].currency) != 0)
                continue;
            if (__builtin_add_overflow(sum, lines[k].amount_minor, &sum))
                return KITO_E_INTERNAL;
        }
        if (sum != 0)
            return KITO_E_INTERNAL;
        written += lines[i].amount_minor != 0;
    }
    if (written == 0)
        return KITO_E_INTERNAL;
    kito_sql_param p[] = {KITO_SQL_TEXT(kind), KITO_SQL_TEXT(reference), KITO_SQL_TEXT(currency),
                          KITO_SQL_TEXT_OR_NULL(memo)};
    kito_sql_result res;
    kito_err e = kito_sql_exec(db,
                               "INSERT INTO ledger_transactions (kind, reference, currency, memo)"
                               " VALUES (?, ?, ?, ?)",
                               p, KITO_N(p), &res);
    if (e != KITO_OK)
        return e;
    *tx_id = res.insert_id;
    char sql[128 + KITO_LEDGER_LINES_MAX * 18] =
        "INSERT INTO ledger_entries (transaction_id, account_code, party_id, amount_minor,"
        " currency) VALUES ";
    kito_sql_param q[KITO_LEDGER_LINES_MAX * 5];
    size_t nq = 0;
    for (size_t i = 0; i < n; i++) {
        if (lines[i].amount_minor == 0)
            continue;
        strcat(sql, nq == 0 ? "(?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?)");
        q[nq++] = KITO_SQL_U64(*tx_id);
        q[nq++] = KITO_SQL_I64(lines[i].account);
        q[nq++] = lines[i].party != 0 ? KITO_SQL_U64(lines[i].party) : KITO_SQL_NULL;
        q[nq++] = KITO_SQL_I64(lines[i].amount_minor);
        q[nq++] = KITO_SQL_TEXT(lines[i].currency);
    }
    return kito_sql_exec(db, sql, q, nq, NULL);
}
bool kito_ledger_postings_balanced(const struct kito_posting *p, size_t n)
{
    __int128 sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += p[i].amount_minor;
    return sum == 0;
}

uint64_t kito_ledger_posting_party(enum kito_ledger_account account, uint64_t buyer_id,
                                   uint64_t miner_id)
{
    switch (account) {
    case KITO_LEDGER_BUYER_RECEIVABLE:
        return buyer_id;
    case KITO_LEDGER_MINER_PAYABLE:
        return miner_id;
    default:
        return 0;
    }
}
