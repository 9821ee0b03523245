#include "engine/event.h"

const char *kito_event_type_name(uint8_t type)
{
    static const char *const names[KITO_EV_TYPE_MAX + 1] = {
        [KITO_EV_OPENED] = "opened",
        [KITO_EV_BID_ACCEPTED] = "bid_accepted",
        [KITO_EV_OUTBID] = "outbid",
        [KITO_EV_BOOK] = "book",
        [KITO_EV_RESERVE_MET] = "reserve_met",
        [KITO_EV_EXTENDED] = "extended",
        [KITO_EV_ASK_CHANGED] = "ask_changed",
        [KITO_EV_STEP_CHANGED] = "step_changed",
        [KITO_EV_FAIR_WARNING] = "fair_warning",
        [KITO_EV_PAUSED] = "paused",
        [KITO_EV_RESUMED] = "resumed",
        [KITO_EV_BID_UNDONE] = "bid_undone",
        [KITO_EV_SOLD] = "sold",
        [KITO_EV_UNSOLD] = "unsold",
        [KITO_EV_WITHDRAWN] = "withdrawn",
    };
    if (type == 0 || type > KITO_EV_TYPE_MAX)
        return "unknown";
    return names[type];
}
