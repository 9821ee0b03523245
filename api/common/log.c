#include "api/common/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *program = "kitod";

void kito_log_program(const char *name)
{
    program = name;
}

void kito_logv(const char *module, const char *fmt, va_list ap)
{
    char line[KITO_LOG_LINE_MAX];
    int n = module != NULL ? snprintf(line, sizeof(line), "%s: %s: ", program, module)
                           : snprintf(line, sizeof(line), "%s: ", program);
    if (n < 0)
        return;
    size_t used = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    int m = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
    if (m < 0)
        return;
    used += (size_t)m;
    if (used > sizeof(line) - 2) { /* cut: room for "...\n" */
        used = sizeof(line) - 5;
        memcpy(line + used, "...", 3);
        used += 3;
    }
    line[used++] = '\n';
    /* one write: a line is whole even when threads log at once; nothing to do if it fails */
    ssize_t w = write(STDERR_FILENO, line, used);
    (void)w;
}

void kito_log(const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kito_logv(module, fmt, ap);
    va_end(ap);
}
