#include "engine/err.h"

const char *kito_err_code(kito_err err)
{
    switch (err) {
    case KITO_OK:
        return "ok";
#define KITO__ERR_CODE(name, num, code, msg)                                                       \
    case KITO_E_##name:                                                                            \
        return code;
        KITO_ERR_MAP(KITO__ERR_CODE)
#undef KITO__ERR_CODE
    }
    return "unknown";
}

const char *kito_err_message(kito_err err)
{
    switch (err) {
    case KITO_OK:
        return "ok";
#define KITO__ERR_MSG(name, num, code, msg)                                                        \
    case KITO_E_##name:                                                                            \
        return msg;
        KITO_ERR_MAP(KITO__ERR_MSG)
#undef KITO__ERR_MSG
    }
    return "unknown error";
}
