/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MP_LOG_H
#define MP_LOG_H

#include <stdarg.h>
#include <syslog.h>

/*
 * One logging module for library, daemon and CLI.  Messages go to stderr;
 * under systemd (JOURNAL_STREAM set) each line carries a "<N>"
 * priority prefix that journald turns into the message priority.
 */
void mp_log_set_level(int level);
void mp_log_set_ident(const char *ident);
void mp_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mp_vlog(int level, const char *fmt, va_list ap);

#define mp_err(...) mp_log(LOG_ERR, __VA_ARGS__)
#define mp_warn(...) mp_log(LOG_WARNING, __VA_ARGS__)
#define mp_notice(...) mp_log(LOG_NOTICE, __VA_ARGS__)
#define mp_info(...) mp_log(LOG_INFO, __VA_ARGS__)
#define mp_dbg(...) mp_log(LOG_DEBUG, __VA_ARGS__)

#endif
