/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MP_UTIL_H
#define MP_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MP_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MP_MAX(a, b) ((a) > (b) ? (a) : (b))

/*
 * MP_ARRAY_PUSH() - append @value to the malloc'ed array @arr of @nr elements
 *
 * One element at a time: the arrays grown this way hold a policy's few
 * Size= terms or a device's blocks, not enough for the copies to matter.
 * Evaluates to 0 with @arr grown and @nr counted up, or -ENOMEM with both
 * untouched.
 */
#define MP_ARRAY_PUSH(arr, nr, value)                                                \
	({                                                                           \
		__typeof__(arr) _mp_a = realloc((arr), ((nr) + 1) * sizeof(*(arr))); \
		int _mp_r = -ENOMEM;                                                 \
                                                                                     \
		if (_mp_a) {                                                         \
			_mp_a[nr] = (value);                                         \
			(arr) = _mp_a;                                               \
			(nr)++;                                                      \
			_mp_r = 0;                                                   \
		}                                                                    \
		_mp_r;                                                               \
	})

static inline void mp_freep(void *p)
{
	extern void free(void *);
	free(*(void **)p);
}
#define _mp_free_ __attribute__((cleanup(mp_freep)))

void mp_closep(int *fd);
#define _mp_close_ __attribute__((cleanup(mp_closep)))

/**
 * mp_read_attr() - read a small sysfs/procfs attribute
 * @dirfd: directory the path is relative to (AT_FDCWD for absolute paths)
 * @path: file to read
 * @buf: destination, NUL-terminated on success; untouched when the open or
 *       read fails, "" when the value is refused (-EFBIG, -EBADMSG)
 * @len: size of @buf
 *
 * Reads at most @len - 1 bytes and strips one trailing newline.
 *
 * Return: number of bytes kept, or -errno.  -EFBIG when the value did not fit.
 */
int mp_read_attr(int dirfd, const char *path, char *buf, size_t len);

/**
 * mp_attr_terminate() - finish a buffer read(2) from an attribute
 * @buf: buffer
 * @n: what read(2) returned (>= 0)
 * @len: size of @buf
 *
 * NUL-terminates and strips one trailing newline.  A NUL byte inside the
 * value is refused: sysfs values are text, and reading one as a C string
 * would silently drop what follows it.
 *
 * Return: bytes kept, -EFBIG when the value filled the buffer, -EBADMSG
 * for a NUL byte (@buf is "" after either).
 */
int mp_attr_terminate(char *buf, size_t n, size_t len);

/**
 * mp_write_attr() - write a word to a sysfs attribute in one write(2)
 * @dirfd: directory the path is relative to
 * @path: file to write
 * @val: the word to write (no newline needed)
 *
 * Return: 0, or -errno from open(2) or write(2) (the kernel's answer).
 */
int mp_write_attr(int dirfd, const char *path, const char *val);

/**
 * mp_read_fd_alloc() - read @fd to its end into a new buffer
 * @fd: file or socket
 * @timeout_ms: longest wait for each read (a peer that stops answering);
 *              -1: none (a file)
 * @out: receives a malloc'ed, NUL-terminated buffer
 * @outlen: receives the length (without NUL), may be NULL
 *
 * Return: 0 or -errno (-ETIMEDOUT: @timeout_ms passed without data).
 */
int mp_read_fd_alloc(int fd, int timeout_ms, char **out, size_t *outlen);

/**
 * mp_read_file_alloc() - read a whole (proc) file into a new buffer
 * @path: file
 * @out: receives a malloc'ed, NUL-terminated buffer
 * @outlen: receives the length (without NUL), may be NULL
 *
 * Return: 0 or -errno.
 */
int mp_read_file_alloc(const char *path, char **out, size_t *outlen);

enum {
	/* mp_conf_file_check(): any owner will do (tests, checking a file before it is installed). */
	MP_CONF_ANY_OWNER = 1 << 0,
	/* mp_conf_file_check(): a character device 1:3 (/dev/null, a mask) is answered 1. */
	MP_CONF_ALLOW_MASK = 1 << 1,
};

/**
 * mp_conf_file_check() - may a configuration file be trusted?
 * @path: the file's name, for @why only
 * @fd: the file, open: what is checked is what will be read (fstat, no race)
 * @flags: MP_CONF_ANY_OWNER, MP_CONF_ALLOW_MASK
 * @why: receives the reason it was refused, naming neither the file nor
 *       "refused" twice: "owned by uid 1000, not root: refused",
 *       "writable by group (mode 0664): refused", "not a regular file: refused"
 * @len: size of @why
 *
 * Whoever can write a policy or the host's configuration decides where
 * memory goes, or how much a guest may take: the same trust as root.  So a
 * file must be a regular file owned by uid 0 and writable by neither its
 * group nor others.  Used by the policy loader (policies/policyset.c) and
 * meant for every configuration file memplug reads (the host side's too).
 *
 * Return: 0 to be read, 1 for a mask (only with MP_CONF_ALLOW_MASK), -EPERM
 * (ownership or mode) or -EINVAL (not a regular file) with @why set, or the
 * -errno of fstat(2).
 */
int mp_conf_file_check(const char *path, int fd, unsigned int flags, char *why, size_t len);

/**
 * mp_text_check() - refuse a NUL byte in a text file the kernel wrote
 * @text: the file's contents (mp_read_file_alloc())
 * @len: their length
 * @origin: file name for the message
 *
 * /proc text files never hold a NUL: a parser that stops at one would take
 * the part before it for the whole file.  Logs "@origin:LINE: NUL byte at
 * column N (a text file was expected)".
 *
 * Return: 0, or -EBADMSG.
 */
int mp_text_check(const char *text, size_t len, const char *origin);

/**
 * mp_parse_u64() - strict unsigned parse: whole string, no sign, no overflow
 * @s: text (leading/trailing blanks not allowed)
 * @base: 0, 10 or 16 (16 accepts an optional 0x prefix)
 * @out: result
 *
 * Return: 0 or -EINVAL / -ERANGE.
 */
int mp_parse_u64(const char *s, int base, uint64_t *out);

/**
 * mp_parse_size() - parse a size with an optional binary unit
 * @s: "4096", "512M", "2GiB", "1g", "0x1000"
 * @out: bytes
 *
 * Units K, M, G, T (optionally followed by "iB" or "B") are powers of 1024.
 *
 * Return: 0 or -EINVAL / -ERANGE.
 */
int mp_parse_size(const char *s, uint64_t *out);

/**
 * mp_parse_u64_n() - the decimal number in the first @n bytes of @s
 * @s: text that goes on after the number (a unit, a fraction)
 * @n: how many bytes are the number
 * @out: receives the value
 *
 * Return: 0, -EINVAL (no digits, or not only digits) or -ERANGE (above
 * UINT64_MAX).
 */
int mp_parse_u64_n(const char *s, size_t n, uint64_t *out);

/**
 * mp_parse_duration_us() - a whole number with a time unit: "150ms", "2s"
 * @s: the text; units us, ms, s, min, h (a bare number is refused, so that
 *     nobody has to guess whether 150 means ms or us)
 * @out: microseconds
 *
 * Return: 0, -EINVAL (not such a time), or -ERANGE (overflows).
 */
int mp_parse_duration_us(const char *s, uint64_t *out);

/** mp_strip() - @s without leading and trailing white space (cut in place). */
char *mp_strip(char *s);

/**
 * mp_conf_next_line() - the next line of a config file worth parsing
 * @f: the file
 * @buf: getline(3)'s buffer (NULL at first; the caller frees it)
 * @cap: its size
 * @line: the number of the line last read, counted up here
 * @s: receives the line, stripped (mp_strip()), in @buf
 *
 * Blank lines and comments ('#' or ';' first) are passed over, so the
 * policy and host config readers agree on what a comment is.
 *
 * Return: 1 with a line, 0 at the end (ferror(@f) tells a read error), or
 * -EBADMSG for a line with a NUL byte (for the caller to report at @line).
 */
int mp_conf_next_line(FILE *f, char **buf, size_t *cap, unsigned int *line, char **s);

/**
 * mp_format_size() - human-readable size like lsmem ("128M", "1.5G")
 * @bytes: size
 * @buf: destination
 * @len: size of @buf
 *
 * Return: @buf.
 */
char *mp_format_size(uint64_t bytes, char *buf, size_t len);

/**
 * mp_now_us() - CLOCK_MONOTONIC in microseconds
 *
 * The one clock for deadlines, timeouts and measured durations: it never
 * jumps with the wall clock.
 */
uint64_t mp_now_us(void);

/** mp_now_ms() - CLOCK_MONOTONIC in milliseconds. */
static inline uint64_t mp_now_ms(void)
{
	return mp_now_us() / 1000u;
}

#endif
