#include "api/common/roles.h"

#include <string.h>

static const struct {
    unsigned bit;
    const char *name;
} roles[] = {
    {KITO_ROLE_MINER, "miner"},       {KITO_ROLE_VALUER, "valuer"},
    {KITO_ROLE_BUYER, "buyer"},       {KITO_ROLE_ORGANIZER, "organizer"},
    {KITO_ROLE_OPERATOR, "operator"},
};

const char *kito_role_name(unsigned role)
{
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (roles[i].bit == role)
            return roles[i].name;
    return "anonymous";
}

unsigned kito_role_parse(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (strlen(roles[i].name) == len && memcmp(roles[i].name, name, len) == 0)
            return roles[i].bit;
    return 0;
}
