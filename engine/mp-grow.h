/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Growth on memory pressure, the guest's logic (docs/daemon.md "Growth"):
 * what the PSI trigger is, whether a trigger becomes a GROW_REQUEST
 * (a host, no request pending, not in cooldown, below the ceiling), and the
 * host's grow-answer.  No file descriptors here: memplugd owns the trigger
 * (daemon/grow.c) and the channel; this file owns the decisions, so they
 * are unit-tested with a clock of the test's own.
 */
#ifndef MP_GROW_H
#define MP_GROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "policy.h"

struct json_object;
struct mp_grow;

/* No answer within this long: the request is given up and the cooldown runs from it. */
#define MP_GROW_ANSWER_MS 60000

/**
 * mp_grow_new() - the growth state of one memplugd run
 * @out: receives it; free with mp_grow_free()
 *
 * Return: 0 or -ENOMEM.
 */
int mp_grow_new(struct mp_grow **out);

/**
 * mp_grow_free() - free the state
 * @g: state, may be NULL
 */
void mp_grow_free(struct mp_grow *g);

/**
 * mp_grow_configure() - take the [Grow] section in force (a copy is kept)
 * @g: state
 * @pol: the section, NULL when none is in force (growth off)
 *
 * Request numbers, the pending request and the cooldown survive a reload.
 *
 * Return: 0 or -ENOMEM.
 */
int mp_grow_configure(struct mp_grow *g, const struct mp_grow_policy *pol);

/**
 * mp_grow_policy() - the section in force
 * @g: state
 *
 * Return: the copy kept, NULL when growth is off.
 */
const struct mp_grow_policy *mp_grow_policy(const struct mp_grow *g);

/**
 * mp_grow_trigger_text() - what is written to /proc/pressure/memory
 * @pol: the section
 * @buf: receives "some 150000 1000000" (kind, stall us, window us)
 * @len: size of @buf
 *
 * Return: 0, -ENOSPC when @buf is too small.
 */
int mp_grow_trigger_text(const struct mp_grow_policy *pol, char *buf, size_t len);

/**
 * mp_grow_set_armed() - record whether the trigger is armed, for status
 * @g: state
 * @armed: the trigger is in place
 * @text: the trigger written ("some 150000 1000000"), or why it could not be
 */
void mp_grow_set_armed(struct mp_grow *g, bool armed, const char *text);

/**
 * mp_psi_avg10() - the avg10 of one line of a /proc/pressure file
 * @text: the file's contents ("some avg10=1.23 avg60=... total=...\nfull ...")
 * @kind: which line
 * @avg10: receives the percentage
 *
 * Return: 0, -EINVAL when the line is not there.
 */
int mp_psi_avg10(const char *text, enum mp_grow_pressure kind, double *avg10);

/**
 * struct mp_grow_facts - the guest as it is when the trigger fires
 * @now_ms: mp_now_ms()
 * @host: a host is connected to the channel
 * @total: memory online now (bytes)
 * @block_size: memory block size (requests are whole blocks)
 * @avg10: the PSI line's avg10, -1 unknown
 */
struct mp_grow_facts {
	uint64_t now_ms;
	bool host;
	uint64_t total;
	uint64_t block_size;
	double avg10;
};

/**
 * mp_grow_on_trigger() - the trigger fired: ask for memory, or say why not
 * @g: state
 * @f: the guest now
 * @data: receives the GROW_REQUEST event's data (docs/channel.md) when one
 *        is to be sent; the request is then pending
 * @why: receives what was done or why nothing was (for the log)
 * @len: size of @why
 *
 * A request goes out when growth is on, a host is connected, no request is
 * pending (sent less than MP_GROW_ANSWER_MS ago without an answer), the
 * cooldown since the last answer has passed, and the ceiling leaves at
 * least one block; it asks for Step (rounded up to whole blocks), less when
 * the ceiling is nearer.
 *
 * Return: 1 a request is to be sent, 0 not (@why says why).
 */
int mp_grow_on_trigger(struct mp_grow *g, const struct mp_grow_facts *f, struct json_object **data,
		       char *why, size_t len);

/**
 * mp_grow_answer() - the host's grow-answer
 * @g: state
 * @args: the command's arguments (untrusted: every field is checked)
 * @now_ms: mp_now_ms()
 * @why: receives the error's text, or what the answer was (for the log)
 * @len: size of @why
 *
 * The cooldown runs from here.
 *
 * Return: 0; -EINVAL a field is missing or wrong (@why names it); -ENOENT
 * no such request is pending (unknown, already answered, given up).
 */
int mp_grow_answer(struct mp_grow *g, struct json_object *args, uint64_t now_ms, char *why,
		   size_t len);

/**
 * mp_grow_status_json() - the grow state for status
 * @g: state
 * @now_ms: mp_now_ms()
 *
 * Return: new object: enabled, armed, trigger, policy, triggers, requests,
 * pending, last_request, last_answer, cooldown_left_ms, last_skip.
 */
struct json_object *mp_grow_status_json(const struct mp_grow *g, uint64_t now_ms);

/**
 * mp_grow_status_print() - the "grow" member of a status document, for humans
 * @status: memplugd's status document
 * @f: stream
 */
void mp_grow_status_print(struct json_object *status, FILE *f);

#endif
