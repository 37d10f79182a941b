/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control request parser: a request line into the command, its
 * arguments and who may run it, without an engine, a file or a socket
 * (lib/control.h). The engine runs what it says (lib/engine_control.c);
 * tests/fuzz/fuzz_control.c feeds it arbitrary lines.
 */
#include "tapir_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/answer.h"
#include "lib/control.h"
#include "lib/name.h"
#include "lib/vocab.h"

/* A command word alone, or followed by a space and its arguments. */
static bool
word(const char *s, const char *w, const char **args)
{
	size_t n = strlen(w);

	if (strncmp(s, w, n) != 0 || (s[n] && s[n] != ' '))
		return false;
	*args = s[n] ? s + n + 1 : s + n;
	return true;
}

/* Splits the next blank-separated word off *p into out (size bytes);
 * false when there is none or it does not fit. */
static bool
next_word(const char **p, char *out, size_t size)
{
	const char *s = *p;
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	for (n = 0; s[n] && s[n] != ' ' && s[n] != '\t'; n++)
		;
	if (!n || n >= size)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	s += n;
	while (*s == ' ' || *s == '\t')
		s++;
	*p = s;
	return true;
}

static enum tapir_override_verb
override_verb(const char *w)
{
	if (!strcmp(w, "list"))
		return TAPIR_OVERRIDE_LIST;
	if (!strcmp(w, "allow"))
		return TAPIR_OVERRIDE_ALLOW;
	if (!strcmp(w, "deny"))
		return TAPIR_OVERRIDE_DENY;
	if (!strcmp(w, "remove"))
		return TAPIR_OVERRIDE_REMOVE;
	return TAPIR_OVERRIDE_OTHER;
}

void
tapir_control_parse(const char *line, struct tapir_control_req *r)
{
	const char *s = line, *a = "";
	char verb[16];

	memset(r, 0, sizeof(*r));
	while (*s == ' ')
		s++;
	if (!strncmp(s, "json ", 5)) {
		r->json = true;
		s += 5;
	}
	r->command = s;
	r->args = s + strlen(s);
	if (!strcmp(s, "status"))
		r->cmd = TAPIR_CMD_STATUS;
	else if (!strcmp(s, "stats"))
		r->cmd = TAPIR_CMD_STATS;
	else if (!strcmp(s, "stats_noreset"))
		r->cmd = TAPIR_CMD_STATS_NORESET;
	else if (!strcmp(s, "metrics"))
		r->cmd = TAPIR_CMD_METRICS;
	else if (!strcmp(s, "digest"))
		r->cmd = TAPIR_CMD_DIGEST;
	else if (!strcmp(s, "reload"))
		r->cmd = TAPIR_CMD_RELOAD;
	else if (!strncmp(s, "lookup ", 7))
		r->cmd = TAPIR_CMD_LOOKUP, r->args = s + 7;
	else if (!strncmp(s, "flush ", 6))
		r->cmd = TAPIR_CMD_FLUSH, r->args = s + 6;
	else if (!strncmp(s, "override ", 9))
		r->cmd = TAPIR_CMD_OVERRIDE, r->args = s + 9;
	/* list's filters keep their leading blank (they are read with
	 * " %s"); dump-rpz's zone does not. */
	else if (word(s, "list", &a))
		r->cmd = TAPIR_CMD_LIST, r->args = s + 4;
	else if (word(s, "dump-rpz", &a))
		r->cmd = TAPIR_CMD_DUMP_RPZ, r->args = a;
	r->streams = r->cmd == TAPIR_CMD_LIST || r->cmd == TAPIR_CMD_DUMP_RPZ;
	if (r->cmd == TAPIR_CMD_OVERRIDE) {
		/* The verb as tapir_control_parse_override() reads it, so
		 * that what is let through is what runs. */
		a = r->args;
		r->verb = next_word(&a, verb, sizeof(verb))
				  ? override_verb(verb)
				  : TAPIR_OVERRIDE_NONE;
	}
	/* stats is not among them: it resets the counters that every other
	 * reader (a monitoring system) counts on. */
	switch (r->cmd) {
	case TAPIR_CMD_STATUS:
	case TAPIR_CMD_STATS_NORESET:
	case TAPIR_CMD_METRICS:
	case TAPIR_CMD_DIGEST:
	case TAPIR_CMD_LOOKUP:
	case TAPIR_CMD_LIST:
	case TAPIR_CMD_DUMP_RPZ:
		r->reads_only = true;
		break;
	case TAPIR_CMD_OVERRIDE:
		r->reads_only = r->verb == TAPIR_OVERRIDE_LIST;
		break;
	default:
		r->reads_only = false;
	}
}

int
tapir_control_parse_lookup(
	const char *args, struct tapir_lookup_args *a, struct tapir_error *err)
{
	const char *sp = strchr(args, ' '), *type;
	size_t nlen = sp ? (size_t)(sp - args) : strlen(args);

	memset(a, 0, sizeof(*a));
	a->qtype = TAPIR_DNS_TYPE_A;
	if (sp) {
		/* The whole word, never a cut copy of it: "TYPE0000000000001"
		 * must not pass for a shorter one. */
		type = sp + 1;
		a->typed = true;
		if (!strcasecmp(type, "A"))
			a->qtype = TAPIR_DNS_TYPE_A;
		else if (!strcasecmp(type, "AAAA"))
			a->qtype = TAPIR_DNS_TYPE_AAAA;
		else if (!strcasecmp(type, "CNAME"))
			a->qtype = TAPIR_DNS_TYPE_CNAME;
		else if (!strcasecmp(type, "TXT"))
			a->qtype = TAPIR_DNS_TYPE_TXT;
		else if (!strncasecmp(type, "TYPE", 4) && type[4] &&
			 strspn(type + 4, "0123456789") == strlen(type + 4)) {
			/* In range as written: atoi() would wrap 4294967297
			 * to 1 (A). */
			unsigned long v = 0;
			for (const char *d = type + 4; *d && v <= 65535; d++)
				v = v * 10 + (unsigned long)(*d - '0');
			if (v <= 65535)
				a->qtype = (uint16_t)v;
			else
				a->typed = false;
		} else {
			a->typed = false;
		}
		/* Not a type: the whole argument is the name, and the space
		 * in it is what its error will name. */
		if (!a->typed)
			nlen = strlen(args);
	}
	return tapir_name_canon(args, nlen, 0, a->name, &a->len, NULL, err);
}

int
tapir_control_parse_list(const char *args,
	int (*source_index)(void *, const char *), void *arg,
	struct tapir_list_args *a, char *why, size_t size)
{
	char key[16], val[128];
	int n;

	a->list = a->source = a->action = -1;
	while (*args && sscanf(args, " %15[^= ]=%127s%n", key, val, &n) == 2) {
		int bad;
		args += n;
		if (!strcmp(key, "list"))
			bad = (a->list = tapir_list_from_str(val)) < 0;
		else if (!strcmp(key, "source"))
			bad = (a->source = source_index(arg, val)) < 0;
		else if (!strcmp(key, "action"))
			bad = (a->action = tapir_action_from_str(val)) < 0;
		else
			bad = 1;
		if (bad) {
			snprintf(why, size, "bad filter %s=%s", key, val);
			return TAPIR_EPARSE;
		}
	}
	while (*args == ' ')
		args++;
	if (*args) {
		snprintf(why, size, "bad filter: %.64s", args);
		return TAPIR_EPARSE;
	}
	return 0;
}

int
tapir_control_parse_override(
	const char *args, struct tapir_override_args *o, char *why, size_t size)
{
	char verb[16] = "", raw[TAPIR_NAME_BUFSIZE + 1] = "";
	char ttl_text[32] = "";
	struct tapir_error err = { 0 };
	const char *p = args;
	int rc;

	memset(o, 0, sizeof(*o));
	o->comment = args + strlen(args);
	if (!next_word(&p, verb, sizeof(verb))) {
		snprintf(why, size, "usage: override allow|deny|remove|list");
		return TAPIR_EPARSE;
	}
	o->verb = override_verb(verb);
	if (o->verb == TAPIR_OVERRIDE_LIST)
		return 0;
	if (!next_word(&p, raw, sizeof(raw))) {
		snprintf(why, size, "override %s: no name", verb);
		return TAPIR_EPARSE;
	}
	if (tapir_name_canon(raw, strlen(raw), 0, o->name, NULL, NULL, &err)) {
		snprintf(why, size, "%s", err.text);
		return TAPIR_EPARSE;
	}
	o->named = true;
	if (o->verb == TAPIR_OVERRIDE_REMOVE)
		return 0;
	if (o->verb != TAPIR_OVERRIDE_ALLOW && o->verb != TAPIR_OVERRIDE_DENY) {
		snprintf(why, size, "unknown override verb: %.16s", verb);
		return TAPIR_EPARSE;
	}
	if (*p && !next_word(&p, ttl_text, sizeof(ttl_text))) {
		snprintf(why, size, "ttl: not a duration");
		return TAPIR_EPARSE;
	}
	if (*ttl_text && (rc = tapir_duration_parse(ttl_text,
				  TAPIR_OVERRIDE_TTL_MAX, &o->ttl)) != 0) {
		snprintf(why, size, "ttl '%s': %s", ttl_text,
			rc == TAPIR_ERANGE ? "more than 3650 days"
					   : "not a duration (seconds, "
					     "or with s, m, h or d)");
		return TAPIR_EPARSE;
	}
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			snprintf(why, size, "comment: no control characters");
			return TAPIR_EPARSE;
		}
	if (!tapir_utf8_valid(p, strlen(p))) {
		snprintf(why, size, "comment: not valid UTF-8");
		return TAPIR_EPARSE;
	}
	o->comment = p;
	return 0;
}
