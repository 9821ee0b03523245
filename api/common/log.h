/*
 * The log: one line per event on standard error, "<program>: <module>: <message>", written with
 * one write so that lines from the loop and the worker threads never interleave. systemd's
 * journal or the run command's log file (var/log/) keeps it. Operators and tests read these
 * lines, so a message says what happened and what follows ("...; retrying in 400 ms").
 *
 * Threads: any. kito_log_program is called once at start, before threads.
 */
#ifndef KITO_LOG_H
#define KITO_LOG_H

#include <stdarg.h>

#define KITO_LOG_LINE_MAX 1024 /* bytes of one line; a longer message is cut and ends in "..." */

/* The program name each line begins with ("kitod" unless set); the string is borrowed and must
 * outlive every log call. */
void kito_log_program(const char *name);

/* Logs one line; module names the part that speaks ("settlement", "market"), or NULL. The
 * message has no trailing newline. */
void kito_log(const char *module, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* kito_log with a va_list. */
void kito_logv(const char *module, const char *fmt, va_list ap);

#endif
