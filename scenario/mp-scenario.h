/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MP_SCENARIO_H
#define MP_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

/*
 * Scenarios (docs/scenarios.md, memplug-scenario(5)): a small line-based
 * file of host-side steps -- plug, resize, unplug, expect, sleep, hook,
 * serve -- parsed strictly (every error names file:line and what was
 * expected) and run over one struct mp_host, with a report per step.
 */
struct mp_scenario;
struct mp_host;

/**
 * mp_scenario_parse() - parse a scenario from memory
 * @name: the file name used in messages ("default.scn")
 * @text: the whole file, NUL-terminated
 * @out: receives the scenario (NULL when there was any error)
 * @errors: receives every error, one "name:line: message" a line
 *          (malloc'ed, "" when none; the caller frees it); may be NULL
 *
 * All errors are collected before refusing.  ${VAR} in a value is taken
 * from the environment; an unset variable is an error.
 *
 * Return: 0, -EINVAL when the text does not parse, -ENOMEM.
 */
int mp_scenario_parse(const char *name, const char *text, struct mp_scenario **out, char **errors);

/**
 * mp_scenario_load() - read and parse a scenario file
 * @path: file
 * @out: receives the scenario
 * @errors: as mp_scenario_parse(); an unreadable file is one error naming
 *          @path and the errno text
 *
 * Return: 0, -EINVAL does not parse, or the -errno of reading @path.
 */
int mp_scenario_load(const char *path, struct mp_scenario **out, char **errors);

/**
 * mp_scenario_free() - free a scenario
 * @s: scenario, may be NULL
 */
void mp_scenario_free(struct mp_scenario *s);

/**
 * mp_scenario_get_nsteps() - number of steps
 * @s: scenario
 *
 * Return: steps in the file (comments and blank lines are not steps).
 */
unsigned int mp_scenario_get_nsteps(const struct mp_scenario *s);

/**
 * mp_scenario_step_json() - one parsed step, for `scenario check -J` and tests
 * @s: scenario
 * @i: step index
 *
 * Return: new object {"step", "line", "op", "text", and the step's resolved
 * arguments}, NULL past the end.
 */
struct json_object *mp_scenario_step_json(const struct mp_scenario *s, unsigned int i);

/**
 * typedef mp_scenario_step_fn - called as each step ends
 * @step: the step's report (see mp_scenario_run()); borrowed
 * @ud: caller's pointer
 */
typedef void (*mp_scenario_step_fn)(struct json_object *step, void *ud);

/**
 * struct mp_scenario_opts - how to run
 * @on_step: called after each step (and for each skipped one), may be NULL
 * @ud: passed to @on_step
 * @hook_fd: a socket for `hook` steps (a line out, a line back), -1: none
 * @cleanup: after a failed run, unplug (coordinated when the channel is
 *           there) what this run plugged and did not unplug
 */
struct mp_scenario_opts {
	mp_scenario_step_fn on_step;
	void *ud;
	int hook_fd;
	bool cleanup;
};

/**
 * mp_scenario_run() - run every step over @h
 * @s: scenario
 * @h: the VM (mp_host_channel_attach() done when the file needs the guest's word)
 * @o: options, may be NULL
 * @report: receives {"file", "steps": [...], "passed", "failed", "skipped",
 *          "elapsed_ms", "devices": {alias: id}, "left_plugged": [...],
 *          "cleanup": [...]}; each step {"step", "line", "text", "op",
 *          "result": "pass"|"fail"|"skipped", "elapsed_ms", and what it
 *          found: "id", "proof", "unplug", "reason", ...}
 *
 * A failed step stops the run (the rest are reported "skipped") unless its
 * line says on-fail=continue.
 *
 * Return: the number of failed steps (0: all passed), or -errno when the
 * run could not start.
 */
int mp_scenario_run(struct mp_scenario *s, struct mp_host *h, const struct mp_scenario_opts *o,
		    struct json_object **report);

#endif
