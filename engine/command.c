#include "engine/command.h"

#include <assert.h>
#include <string.h>

#include "engine/codec.h"
#include "engine/internal.h"

kito_err kito_command_check(const struct kito_command *cmd)
{
    return kito__command_check(cmd);
}

kito_err kito_command_encode(const struct kito_command *cmd, uint8_t *buf, size_t cap, size_t *len)
{
    if (kito_command_check(cmd) != KITO_OK)
        return KITO_E_BAD_COMMAND;
    struct kito__writer w = {.buf = buf, .cap = cap};
    kito__put_u8(&w, KITO_COMMAND_VERSION);
    kito__put_u8(&w, cmd->type);
    kito__put_u8(&w, cmd->flags);
    kito__put_u8(&w, cmd->arg);
    kito__put_u64(&w, cmd->id);
    kito__put_varint(&w, cmd->lot_id);
    kito__put_varint(&w, cmd->seq);
    kito__put_svarint(&w, cmd->now_ms);
    kito__put_varint(&w, cmd->actor);
    kito__put_svarint(&w, cmd->amount_minor);
    if (w.overflow)
        return KITO_E_CAPACITY;
    uint32_t crc = kito__crc32c(0, buf, w.len);
    kito__put_u32(&w, crc);
    if (w.overflow)
        return KITO_E_CAPACITY;
    assert(w.len <= KITO_COMMAND_ENCODED_MAX);
    *len = w.len;
    return KITO_OK;
}

kito_err kito_command_decode(const uint8_t *buf, size_t len, struct kito_command *out)
{
    /* Check the checksum before trusting any field. */
    if (buf == NULL || len < 4 + 8 + 5 + 4 || len > KITO_COMMAND_ENCODED_MAX)
        return KITO_E_BAD_COMMAND;
    struct kito__reader tail = {.p = buf + len - 4, .len = 4};
    if (kito__get_u32(&tail) != kito__crc32c(0, buf, len - 4))
        return KITO_E_BAD_COMMAND;

    struct kito__reader r = {.p = buf, .len = len - 4};
    struct kito_command c;
    memset(&c, 0, sizeof(c));
    if (kito__get_u8(&r) != KITO_COMMAND_VERSION)
        return KITO_E_BAD_COMMAND;
    c.type = kito__get_u8(&r);
    c.flags = kito__get_u8(&r);
    c.arg = kito__get_u8(&r);
    c.id = kito__get_u64(&r);
    c.lot_id = kito__get_varint(&r);
    uint64_t seq = kito__get_varint(&r);
    c.now_ms = kito__get_svarint(&r);
    c.actor = kito__get_varint(&r);
    c.amount_minor = kito__get_svarint(&r);
    if (r.bad || r.pos != r.len || seq > UINT32_MAX)
        return KITO_E_BAD_COMMAND;
    c.seq = (uint32_t)seq;
    if (kito_command_check(&c) != KITO_OK)
        return KITO_E_BAD_COMMAND;
    *out = c;
    return KITO_OK;
}

const char *kito_command_type_name(uint8_t type)
{
    switch (type) {
    case KITO_CMD_BID:
        return "bid";
    case KITO_CMD_FLOOR_BID:
        return "floor_bid";
    case KITO_CMD_OPEN:
        return "open";
    case KITO_CMD_CLOSE:
        return "close";
    case KITO_CMD_SET_ASK:
        return "set_ask";
    case KITO_CMD_SET_STEP:
        return "set_step";
    case KITO_CMD_UNDO:
        return "undo";
    case KITO_CMD_FAIR_WARNING:
        return "fair_warning";
    case KITO_CMD_SOLD:
        return "sold";
    case KITO_CMD_PASS:
        return "pass";
    case KITO_CMD_PAUSE:
        return "pause";
    case KITO_CMD_RESUME:
        return "resume";
    case KITO_CMD_WITHDRAW:
        return "withdraw";
    }
    return "unknown";
}
