// SPDX-License-Identifier: LGPL-2.1-or-later
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

void mp_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

int mp_read_attr(int dirfd, const char *path, char *buf, size_t len)
{
	_mp_close_ int fd = -1;
	ssize_t n;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return mp_attr_terminate(buf, (size_t)n, len);
}

int mp_attr_terminate(char *buf, size_t n, size_t len)
{
	/*
	 * Refused values leave "" behind: found by fuzzing, a caller that
	 * printed the buffer after -EFBIG read past its end (features.c's
	 * release of 64 bytes without a NUL).
	 */
	if (n >= len || memchr(buf, '\0', n)) {
		if (len)
			buf[0] = '\0';
		/* sysfs values are text: a NUL would cut the value short unseen */
		return n >= len ? -EFBIG : -EBADMSG;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return (int)n;
}

int mp_write_attr(int dirfd, const char *path, const char *val)
{
	_mp_close_ int fd = -1;
	size_t len = strlen(val);
	ssize_t n;

	fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/*
	 * No EINTR retry: an interrupted write is how an offline under a
	 * timeout gives up (offline_pages() checks signal_pending()).
	 */
	n = write(fd, val, len);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

int mp_text_check(const char *text, size_t len, const char *origin)
{
	const char *nul = memchr(text, '\0', len);
	unsigned int line = 1;
	const char *bol = text;

	if (!nul)
		return 0;
	for (const char *p = text; p < nul; p++)
		if (*p == '\n') {
			line++;
			bol = p + 1;
		}
	mp_err("%s:%u: NUL byte at column %zu (a text file was expected)", origin, line,
	       (size_t)(nul - bol) + 1);
	return -EBADMSG;
}

int mp_read_fd_alloc(int fd, int timeout_ms, char **out, size_t *outlen)
{
	size_t cap = 65536, len = 0;
	char *buf, *nbuf;
	ssize_t n;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (timeout_ms >= 0 && poll(&p, 1, timeout_ms) == 0) {
			free(buf);
			return -ETIMEDOUT;
		}
		if (cap - len < 4096) {
			cap *= 2;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			free(buf);
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	if (outlen)
		*outlen = len;
	return 0;
}

int mp_read_file_alloc(const char *path, char **out, size_t *outlen)
{
	_mp_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return mp_read_fd_alloc(fd, -1, out, outlen);
}

int mp_parse_u64(const char *s, int base, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || isspace((unsigned char)*s) || *s == '-' || *s == '+')
		return -EINVAL;
	if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int mp_parse_u64_n(const char *s, size_t n, uint64_t *out)
{
	char num[24];

	if (!n || n >= sizeof(num) || strspn(s, "0123456789") < n)
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = '\0';
	return mp_parse_u64(num, 10, out);
}

int mp_parse_duration_us(const char *s, uint64_t *out)
{
	static const struct {
		const char *unit;
		uint64_t us;
	} units[] = { { "us", 1 },
		      { "ms", 1000 },
		      { "s", 1000000 },
		      { "min", 60000000 },
		      { "h", 3600000000ull } };
	uint64_t v;
	int err = mp_parse_u64_n(s, strspn(s, "0123456789"), &v);

	if (err)
		return err;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(s + strspn(s, "0123456789"), units[i].unit)) {
			if (v > UINT64_MAX / units[i].us)
				return -ERANGE;
			*out = v * units[i].us;
			return 0;
		}
	return -EINVAL;
}

char *mp_strip(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

int mp_conf_next_line(FILE *f, char **buf, size_t *cap, unsigned int *line, char **s)
{
	ssize_t n;

	while ((n = getline(buf, cap, f)) >= 0) {
		(*line)++;
		/* getline() reads past a NUL: the parser would see half the line */
		if (strlen(*buf) != (size_t)n)
			return -EBADMSG;
		*s = mp_strip(*buf);
		if (**s && **s != '#' && **s != ';')
			return 1;
	}
	return 0;
}

int mp_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno == ERANGE)
		return -ERANGE;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	case 'B':
		if (end[1])
			return -EINVAL;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (shift) {
		end++;
		if (!strcasecmp(end, "iB") || !strcasecmp(end, "B"))
			end += strlen(end);
	}
	if (*end)
		return -EINVAL;
	if (shift && v > (~0ULL >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

char *mp_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	unsigned int i = 0;
	uint64_t whole = bytes, rem = 0;

	while (whole >= 1024 && i < sizeof(units) - 2) {
		rem = whole % 1024;
		whole /= 1024;
		i++;
	}
	if (i == 0) {
		snprintf(buf, len, "%lluB", (unsigned long long)bytes);
		return buf;
	}
	/* One decimal like lsmem; drop ".0". */
	rem = (rem * 10 + 512) / 1024;
	if (rem >= 10) {
		whole++;
		rem = 0;
	}
	if (rem)
		snprintf(buf, len, "%llu.%llu%c", (unsigned long long)whole,
			 (unsigned long long)rem, units[i]);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)whole, units[i]);
	return buf;
}

uint64_t mp_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int mp_conf_file_check(const char *path, int fd, unsigned int flags, char *why, size_t len)
{
	struct stat st;
	size_t n = 0;

	(void)path;
	if (len)
		why[0] = '\0';
	if (fstat(fd, &st) < 0)
		return -errno;
	/* A link to /dev/null masks (and /dev/null is world-writable by design). */
	if ((flags & MP_CONF_ALLOW_MASK) && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
	    minor(st.st_rdev) == 3)
		return 1;
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, len, "not a regular file: refused");
		return -EINVAL;
	}
	if (st.st_uid != 0 && !(flags & MP_CONF_ANY_OWNER))
		n = (size_t)snprintf(why, len, "owned by uid %u, not root",
				     (unsigned int)st.st_uid);
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		const char *who = !(st.st_mode & S_IWOTH) ? "group" :
				  !(st.st_mode & S_IWGRP) ? "others" :
							    "group and others";

		if (n < len)
			n += (size_t)snprintf(why + n, len - n, "%swritable by %s (mode %04o)",
					      n ? " and " : "", who,
					      (unsigned int)(st.st_mode & 07777));
	}
	if (!n)
		return 0;
	if (n < len)
		snprintf(why + n, len - n, ": refused");
	return -EPERM;
}
