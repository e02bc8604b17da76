// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static int log_level = LOG_WARNING;
static int log_journal = -1;
static const char *log_ident = "memplug";
static int log_time = -1;

void mp_log_set_level(int level)
{
	log_level = level;
}

void mp_log_set_ident(const char *ident)
{
	log_ident = ident;
}

void mp_vlog(int level, const char *fmt, va_list ap)
{
	char buf[2048];

	if (level > log_level)
		return;
	if (log_journal < 0)
		log_journal = getenv("JOURNAL_STREAM") != NULL;
	if (log_time < 0)
		log_time = getenv("MEMPLUG_LOG_TIME") != NULL;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* One fprintf per message so concurrent writers do not interleave lines. */
	if (log_time) {
		/*
		 * CLOCK_MONOTONIC, the clock of the kernel's own log
		 * (printk's local_clock()): lines line up with dmesg when
		 * measuring where a hotplug's time goes.
		 */
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		fprintf(stderr, "[%5lld.%06ld] %s: %s\n", (long long)ts.tv_sec, ts.tv_nsec / 1000,
			log_ident, buf);
	} else if (log_journal)
		fprintf(stderr, "<%d>%s\n", level, buf);
	else
		fprintf(stderr, "%s: %s\n", log_ident, buf);
}

void mp_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mp_vlog(level, fmt, ap);
	va_end(ap);
}
