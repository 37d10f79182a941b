/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/listfile.c: each format's happy path, every class of bad
 * line (reported with its line number and reason, the lines after it still
 * read), the options, the RPZ rules (origin, actions, wildcards, apex,
 * triggers, $INCLUDE, recovery after scanner errors) and the callback
 * contract. Inputs are small samples written inline, shaped like the real
 * lists (upstream's CSV, hosts-style and one-name-a-line block lists).
 */
#include "tapir_build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/listfile.h"

#define MAX_GOT 64

/* What the callbacks saw. */
struct got {
	size_t n;
	struct {
		char name[TAPIR_NAME_BUFSIZE];
		bool subtree;
		enum tapir_action action;
		unsigned line;
	} r[MAX_GOT];
	size_t ne;
	struct {
		unsigned line;
		char reason[160];
	} e[MAX_GOT];
	size_t stop_at; /* stop when this many records were seen (0: never) */
	struct tapir_file_opts o;
	struct tapir_file_stats st;
	char tmp[64]; /* a temporary file to remove, if set */
};

static int
on_record(void *arg, const struct tapir_file_record *r)
{
	struct got *g = arg;

	assert_true(g->n < MAX_GOT);
	assert_int_equal(strlen(r->name), r->len);
	snprintf(g->r[g->n].name, sizeof(g->r[g->n].name), "%s", r->name);
	g->r[g->n].subtree = r->subtree;
	g->r[g->n].action = r->action;
	g->r[g->n].line = r->line;
	g->n++;
	return g->stop_at && g->n >= g->stop_at ? 7 : 0;
}

static void
on_error(void *arg, unsigned line, const char *reason)
{
	struct got *g = arg;

	assert_true(g->ne < MAX_GOT);
	g->e[g->ne].line = line;
	snprintf(g->e[g->ne].reason, sizeof(g->e[g->ne].reason), "%s", reason);
	g->ne++;
}

static int
setup(void **state)
{
	struct got *g = test_calloc(1, sizeof(*g));

	if (!g)
		return -1;
	*state = g;
	return 0;
}

static int
teardown(void **state)
{
	struct got *g = *state;

	if (g->tmp[0])
		unlink(g->tmp);
	test_free(g);
	return 0;
}

static int
run(struct got *g, const char *text)
{
	return tapir_file_parse(
		text, strlen(text), &g->o, on_record, on_error, g, &g->st);
}

static void
assert_record(const struct got *g, size_t i, const char *name, bool subtree,
	enum tapir_action action, unsigned line)
{
	assert_true(i < g->n);
	assert_string_equal(g->r[i].name, name);
	assert_int_equal(g->r[i].subtree, subtree);
	assert_int_equal(g->r[i].action, action);
	assert_int_equal(g->r[i].line, line);
}

static void
assert_error(const struct got *g, size_t i, unsigned line, const char *reason)
{
	assert_true(i < g->ne);
	assert_int_equal(g->e[i].line, line);
	assert_string_equal(g->e[i].reason, reason);
}

/* --- formats and options --- */

static void
test_format_names_round_trip(void **state)
{
	(void)state;
	for (int f = TAPIR_FORMAT_DOMAINS; f <= TAPIR_FORMAT_RPZ; f++)
		assert_int_equal(
			tapir_file_format_from_str(tapir_file_format_str(f)),
			f);
	assert_int_equal(tapir_file_format_from_str("csv"), TAPIR_FORMAT_CSV);
	assert_int_equal(tapir_file_format_from_str("CSV"), -1);
	assert_int_equal(tapir_file_format_from_str("zone"), -1);
	assert_int_equal(tapir_file_format_from_str(NULL), -1);
	assert_string_equal(tapir_file_format_str(99), "?");
}

static void
test_parse_rejects_unknown_format_and_null_callback(void **state)
{
	struct got *g = *state;

	g->o.format = 42;
	assert_int_equal(run(g, "a.example\n"), TAPIR_EINVAL);
	g->o.format = TAPIR_FORMAT_DOMAINS;
	assert_int_equal(
		tapir_file_parse("x", 1, &g->o, NULL, NULL, NULL, NULL),
		TAPIR_EINVAL);
	assert_int_equal(g->n, 0);
}

/* --- domains --- */

static void
test_domains_reads_one_name_a_line_canonically(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_DOMAINS;
	assert_int_equal(run(g, "bad.example\nWWW.Evil.TEST.\nx.y\n"), 0);
	assert_int_equal(g->n, 3);
	assert_record(g, 0, "bad.example", false, TAPIR_ACTION_PASS, 1);
	assert_record(g, 1, "www.evil.test", false, TAPIR_ACTION_PASS, 2);
	assert_record(g, 2, "x.y", false, TAPIR_ACTION_PASS, 3);
	assert_int_equal(g->st.lines, 3);
	assert_int_equal(g->st.records, 3);
	assert_int_equal(g->st.errors, 0);
	assert_int_equal(g->st.skipped, 0);
}

static void
test_domains_skips_comments_blanks_and_whitespace(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_DOMAINS;
	assert_int_equal(run(g, "# a block list\n"
				"\n"
				"   \t\n"
				"  a.example  \n"
				"b.example # reason: phishing\n"
				"c.example#tight\n"
				"\t# indented comment\n"),
		0);
	assert_int_equal(g->n, 3);
	assert_record(g, 0, "a.example", false, TAPIR_ACTION_PASS, 4);
	assert_record(g, 1, "b.example", false, TAPIR_ACTION_PASS, 5);
	assert_record(g, 2, "c.example", false, TAPIR_ACTION_PASS, 6);
	assert_int_equal(g->ne, 0);
	assert_int_equal(g->st.lines, 7);
}

static void
test_domains_reads_crlf_and_a_last_line_without_newline(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_DOMAINS;
	assert_int_equal(run(g, "a.example\r\n\r\nb.example\r\nc.example"), 0);
	assert_int_equal(g->n, 3);
	assert_record(g, 0, "a.example", false, TAPIR_ACTION_PASS, 1);
	assert_record(g, 1, "b.example", false, TAPIR_ACTION_PASS, 3);
	assert_record(g, 2, "c.example", false, TAPIR_ACTION_PASS, 4);
	assert_int_equal(g->st.lines, 4);
}

static void
test_domains_ignores_utf8_bom(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_DOMAINS;
	assert_int_equal(run(g, "\xef\xbb\xbf"
				"a.example\nb.example\n"),
		0);
	assert_int_equal(g->n, 2);
	assert_record(g, 0, "a.example", false, TAPIR_ACTION_PASS, 1);
}

static void
test_domains_wildcard_line_is_subtree(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_DOMAINS;
	assert_int_equal(run(g, "*.ads.example\nads.example\n"), 0);
	assert_int_equal(g->n, 2);
	assert_record(g, 0, "ads.example", true, TAPIR_ACTION_PASS, 1);
	assert_record(g, 1, "ads.example", false, TAPIR_ACTION_PASS, 2);
}

static void
test_domains_two_names_on_a_line_is_an_error_for_that_line(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_DOMAINS;
	assert_int_equal(
		run(g, "a.example\nb.example c.example\nd.example\n"), 0);
	assert_int_equal(g->n, 2);
	assert_record(g, 0, "a.example", false, TAPIR_ACTION_PASS, 1);
	assert_record(g, 1, "d.example", false, TAPIR_ACTION_PASS, 3);
	assert_int_equal(g->ne, 1);
	assert_error(g, 0, 2, "more than one name on the line");
	assert_int_equal(g->st.errors, 1);
}

static void
test_domains_bad_name_reports_reason_from_name_canon(void **state)
{
	struct got *g = *state;
	char text[512];

	g->o.format = TAPIR_FORMAT_DOMAINS;
	/* Line 2: a 64-octet label; line 3: an underscore is fine; line 4: a
	 * misplaced wildcard; line 5: a name of 300 characters. */
	snprintf(text, sizeof(text),
		"ok.example\n%0*d.example\n_dmarc.example\nfoo.*.example\n"
		"%0*d\nlast.example\n",
		64, 0, 300, 0);
	assert_int_equal(run(g, text), 0);
	assert_int_equal(g->n, 3);
	assert_record(g, 1, "_dmarc.example", false, TAPIR_ACTION_PASS, 3);
	assert_record(g, 2, "last.example", false, TAPIR_ACTION_PASS, 6);
	assert_int_equal(g->ne, 3);
	assert_error(g, 0, 2, "label longer than 63 octets");
	assert_error(
		g, 1, 4, "misplaced '*' at offset 4 (not a whole first label)");
	assert_error(g, 2, 5, "name longer than 255 octets in wire form");
}

/* --- hosts --- */

static void
test_hosts_reads_every_name_of_blocking_lines(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_HOSTS;
	assert_int_equal(run(g, "0.0.0.0 a.example b.example\n"
				"127.0.0.1\tc.example\n"
				":: d.example\n"
				"::1 e.example # tracker\n"),
		0);
	assert_int_equal(g->n, 5);
	assert_record(g, 0, "a.example", false, TAPIR_ACTION_PASS, 1);
	assert_record(g, 1, "b.example", false, TAPIR_ACTION_PASS, 1);
	assert_record(g, 2, "c.example", false, TAPIR_ACTION_PASS, 2);
	assert_record(g, 3, "d.example", false, TAPIR_ACTION_PASS, 3);
	assert_record(g, 4, "e.example", false, TAPIR_ACTION_PASS, 4);
	assert_int_equal(g->st.skipped, 0);
}

static void
test_hosts_skips_lines_for_other_addresses(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_HOSTS;
	assert_int_equal(run(g, "192.168.1.1 router.lan\n"
				"255.255.255.255 broadcasthost\n"
				"fe80::1%lo0 localhost\n"
				"0.0.0.0 ad.example\n"),
		0);
	assert_int_equal(g->n, 1);
	assert_record(g, 0, "ad.example", false, TAPIR_ACTION_PASS, 4);
	assert_int_equal(g->st.skipped, 3);
	assert_int_equal(g->ne, 0);
}

static void
test_hosts_skips_local_names_silently(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_HOSTS;
	assert_int_equal(run(g, "127.0.0.1 localhost\n"
				"127.0.0.1 localhost.localdomain LOCAL\n"
				"::1 ip6-localhost ip6-loopback\n"
				"0.0.0.0 0.0.0.0\n"
				"0.0.0.0 ad.example\n"),
		0);
	assert_int_equal(g->n, 1);
	assert_record(g, 0, "ad.example", false, TAPIR_ACTION_PASS, 5);
	assert_int_equal(g->st.skipped, 6);
	assert_int_equal(g->ne, 0);
}

static void
test_hosts_address_that_is_not_an_ip_is_an_error(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_HOSTS;
	assert_int_equal(run(g, "0.0.0.0 a.example\n"
				"ad.example\n"
				"0.0.0.256 b.example\n"
				"0.0.0.0 c.example\n"),
		0);
	assert_int_equal(g->n, 2);
	assert_record(g, 1, "c.example", false, TAPIR_ACTION_PASS, 4);
	assert_int_equal(g->ne, 2);
	assert_error(g, 0, 2, "not an IP address");
	assert_error(g, 1, 3, "not an IP address");
}

static void
test_hosts_address_without_a_name_is_an_error(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_HOSTS;
	assert_int_equal(
		run(g, "0.0.0.0\n0.0.0.0 # nothing\n::1 a.example\n"), 0);
	assert_int_equal(g->n, 1);
	assert_int_equal(g->ne, 2);
	assert_error(g, 0, 1, "no name after the address");
	assert_error(g, 1, 2, "no name after the address");
}

static void
test_hosts_bad_name_does_not_lose_the_others_on_its_line(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_HOSTS;
	assert_int_equal(
		run(g, "0.0.0.0 a.example b..example c.example\r\n"), 0);
	assert_int_equal(g->n, 2);
	assert_record(g, 0, "a.example", false, TAPIR_ACTION_PASS, 1);
	assert_record(g, 1, "c.example", false, TAPIR_ACTION_PASS, 1);
	assert_int_equal(g->ne, 1);
	assert_error(g, 0, 1, "empty label at offset 2");
}

/* --- csv --- */

static void
test_csv_upstream_shape_header_and_second_column(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_CSV;
	g->o.csv_header = true;
	assert_int_equal(run(g, "id,domain,added\n"
				"1,bad.example,2025-01-01\n"
				"2,Evil.Example.,2025-01-02\n"),
		0);
	assert_int_equal(g->n, 2);
	assert_record(g, 0, "bad.example", false, TAPIR_ACTION_PASS, 2);
	assert_record(g, 1, "evil.example", false, TAPIR_ACTION_PASS, 3);
	assert_int_equal(g->ne, 0);
}

static void
test_csv_without_header_option_reads_the_first_row(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_CSV;
	assert_int_equal(run(g, "1,first.example\n"), 0);
	assert_int_equal(g->n, 1);
	assert_record(g, 0, "first.example", false, TAPIR_ACTION_PASS, 1);
}

static void
test_csv_header_is_the_first_line_that_is_not_a_comment(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_CSV;
	g->o.csv_header = true;
	assert_int_equal(run(g, "# exported 2025-06-01\n"
				"\n"
				"id,domain\n"
				"1,a.example\n"
				"# a comment between rows\n"
				"2,b.example\n"),
		0);
	assert_int_equal(g->n, 2);
	assert_record(g, 0, "a.example", false, TAPIR_ACTION_PASS, 4);
	assert_record(g, 1, "b.example", false, TAPIR_ACTION_PASS, 6);
}

static void
test_csv_quoted_fields_with_delimiters_and_escaped_quotes(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_CSV;
	assert_int_equal(run(g, "\"1, \"\"first\"\"\",\"a.example\",x\n"
				"\"\",  \"b.example\"  ,\n"
				"3,c.example,\"tail, with comma\"\n"),
		0);
	assert_int_equal(g->ne, 0);
	assert_int_equal(g->n, 3);
	assert_record(g, 0, "a.example", false, TAPIR_ACTION_PASS, 1);
	assert_record(g, 1, "b.example", false, TAPIR_ACTION_PASS, 2);
	assert_record(g, 2, "c.example", false, TAPIR_ACTION_PASS, 3);
}

static void
test_csv_other_column_and_delimiter(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_CSV;
	g->o.csv_column = 3;
	g->o.csv_delim = ';';
	assert_int_equal(run(g, "a;b,c;x.example;d\n1;2;*.y.example\n"), 0);
	assert_int_equal(g->n, 2);
	assert_record(g, 0, "x.example", false, TAPIR_ACTION_PASS, 1);
	assert_record(g, 1, "y.example", true, TAPIR_ACTION_PASS, 2);

	memset(&g->st, 0, sizeof(g->st));
	g->n = 0;
	g->o.csv_column = 1;
	g->o.csv_delim = '\t';
	assert_int_equal(run(g, "z.example\t\tcomment\n"), 0);
	assert_int_equal(g->n, 1);
	assert_record(g, 0, "z.example", false, TAPIR_ACTION_PASS, 1);
}

static void
test_csv_row_without_enough_columns_is_an_error(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_CSV;
	assert_int_equal(run(g, "1,a.example\nonly-one\n3,c.example\n"), 0);
	assert_int_equal(g->n, 2);
	assert_record(g, 1, "c.example", false, TAPIR_ACTION_PASS, 3);
	assert_int_equal(g->ne, 1);
	assert_error(g, 0, 2, "row has 1 columns, the name is in column 2");
}

static void
test_csv_unterminated_quote_costs_only_its_row(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_CSV;
	assert_int_equal(run(g, "1,\"a.example\n2,b.example\n"), 0);
	assert_int_equal(g->n, 1);
	assert_record(g, 0, "b.example", false, TAPIR_ACTION_PASS, 2);
	assert_int_equal(g->ne, 1);
	assert_error(g, 0, 1, "unterminated quoted field");
}

static void
test_csv_text_after_closing_quote_is_an_error(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_CSV;
	assert_int_equal(run(g, "\"1\"x,a.example\n2,b.example\n"), 0);
	assert_int_equal(g->n, 1);
	assert_error(g, 0, 1, "text after the closing quote of a field");
}

static void
test_csv_escaped_quote_inside_name_is_a_bad_name(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_CSV;
	assert_int_equal(run(g, "1,\"a\"\"b.example\"\n2,,\n"), 0);
	assert_int_equal(g->n, 0);
	assert_int_equal(g->ne, 2);
	assert_error(g, 0, 1, "illegal character '\"' at offset 1");
	assert_error(g, 1, 2, "empty name");
}

static void
test_csv_reads_crlf(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_CSV;
	g->o.csv_header = true;
	assert_int_equal(
		run(g, "id,domain\r\n1,a.example\r\n2,\"b.example\"\r\n"), 0);
	assert_int_equal(g->ne, 0);
	assert_int_equal(g->n, 2);
	assert_record(g, 1, "b.example", false, TAPIR_ACTION_PASS, 3);
}

static void
test_csv_refuses_quote_as_delimiter(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_CSV;
	g->o.csv_delim = '"';
	assert_int_equal(run(g, "a\"b\n"), TAPIR_EINVAL);
}

/* --- rpz --- */

static const char rpz_zone[] = "$TTL 300\n"
			       "$ORIGIN rpz.local.\n"
			       "@ IN SOA ns.rpz.local. admin.rpz.local. (\n"
			       "\t1 3600 600 86400 300 )\n"
			       "  IN NS localhost.\n"
			       "nx.example CNAME .\n"
			       "nodata.example CNAME *.\n"
			       "drop.example CNAME rpz-drop.\n"
			       "pass.example CNAME rpz-passthru.\n"
			       "tcp.example CNAME rpz-tcp-only.\n"
			       "walled.example CNAME garden.example.net.\n"
			       "a.example 60 A 192.0.2.1\n"
			       "aaaa.example AAAA 2001:db8::1\n"
			       "txt.example TXT \"blocked\"\n"
			       "*.wild.example CNAME .\n"
			       "abs.example.rpz.local. CNAME .\n";

static void
test_rpz_reads_actions_of_qname_triggers(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	assert_int_equal(run(g, rpz_zone), 0);
	assert_int_equal(g->ne, 0);
	assert_int_equal(g->n, 10);
	assert_record(g, 0, "nx.example", false, TAPIR_ACTION_NXDOMAIN, 6);
	assert_record(g, 1, "nodata.example", false, TAPIR_ACTION_NODATA, 7);
	assert_record(g, 2, "drop.example", false, TAPIR_ACTION_DROP, 8);
	assert_record(g, 3, "pass.example", false, TAPIR_ACTION_PASSTHRU, 9);
	assert_record(g, 4, "walled.example", false, TAPIR_ACTION_REDIRECT, 11);
	assert_record(g, 5, "a.example", false, TAPIR_ACTION_REDIRECT, 12);
	assert_record(g, 6, "aaaa.example", false, TAPIR_ACTION_REDIRECT, 13);
	assert_record(g, 7, "txt.example", false, TAPIR_ACTION_REDIRECT, 14);
	assert_record(g, 8, "wild.example", true, TAPIR_ACTION_NXDOMAIN, 15);
	assert_record(g, 9, "abs.example", false, TAPIR_ACTION_NXDOMAIN, 16);
	assert_int_equal(g->st.lines, 16);
	assert_int_equal(g->st.records, 10);
}

static void
test_rpz_tcp_only_is_skipped(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	assert_int_equal(run(g, rpz_zone), 0);
	/* rpz-tcp-only is the only RR of rpz_zone left out; the apex SOA and
	 * NS are not counted as skipped. */
	assert_int_equal(g->st.skipped, 1);
	for (size_t i = 0; i < g->n; i++)
		assert_string_not_equal(g->r[i].name, "tcp.example");
}

static void
test_rpz_apex_soa_and_ns_are_ignored(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	assert_int_equal(run(g, "$ORIGIN rpz.local.\n"
				"@ SOA ns admin 1 2 3 4 5\n"
				"@ NS ns1.example.\n"
				"@ NS ns2.example.\n"),
		0);
	assert_int_equal(g->n, 0);
	assert_int_equal(g->ne, 0);
	assert_int_equal(g->st.skipped, 0);
}

static void
test_rpz_relative_names_follow_a_later_origin(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	assert_int_equal(run(g, "$ORIGIN rpz.local.\n"
				"@ SOA ns admin 1 2 3 4 5\n"
				"$ORIGIN example.rpz.local.\n"
				"www CNAME .\n"
				"@ CNAME rpz-drop.\n"),
		0);
	assert_int_equal(g->n, 2);
	assert_record(g, 0, "www.example", false, TAPIR_ACTION_NXDOMAIN, 4);
	assert_record(g, 1, "example", false, TAPIR_ACTION_DROP, 5);
}

static void
test_rpz_other_triggers_are_skipped(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	assert_int_equal(run(g, "$ORIGIN rpz.local.\n"
				"32.1.2.0.192.rpz-ip CNAME .\n"
				"ns.bad.example.rpz-nsdname CNAME .\n"
				"32.1.0.0.10.rpz-nsip CNAME .\n"
				"24.0.2.0.192.RPZ-CLIENT-IP CNAME rpz-drop.\n"
				"rpz-ip.example CNAME .\n"),
		0);
	assert_int_equal(g->st.skipped, 4);
	assert_int_equal(g->n, 1);
	assert_record(g, 0, "rpz-ip.example", false, TAPIR_ACTION_NXDOMAIN, 6);
}

static void
test_rpz_relative_cname_target_is_a_redirect(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	/* Without the dot, "rpz-drop" is rpz-drop.rpz.local.: a name. */
	assert_int_equal(run(g, "$ORIGIN rpz.local.\n"
				"a.example CNAME rpz-drop\n"),
		0);
	assert_int_equal(g->n, 1);
	assert_record(g, 0, "a.example", false, TAPIR_ACTION_REDIRECT, 2);
}

static void
test_rpz_syntax_error_mid_file_costs_only_its_line(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	assert_int_equal(run(g, "$ORIGIN rpz.local.\n"
				"a.example CNAME .\n"
				"b.example A 999.0.2.1\n"
				"c.example BOGUSTYPE foo\n"
				"d.example CNAME .\n"),
		0);
	assert_int_equal(g->n, 2);
	assert_record(g, 0, "a.example", false, TAPIR_ACTION_NXDOMAIN, 2);
	assert_record(g, 1, "d.example", false, TAPIR_ACTION_NXDOMAIN, 5);
	assert_int_equal(g->ne, 2);
	assert_int_equal(g->e[0].line, 3);
	assert_int_equal(g->e[1].line, 4);
	assert_int_equal(g->st.errors, 2);
}

static void
test_rpz_fatal_scanner_error_does_not_end_the_file(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	/* A bad directive and an unbalanced parenthesis stop libzscanner
	 * for good; the parser resumes at the next line. */
	assert_int_equal(run(g, "$ORIGIN rpz.local.\n"
				"a.example CNAME .\n"
				"$TTL forever\n"
				"b.example CNAME .\n"
				"c.example ) CNAME .\n"
				"d.example CNAME .\n"
				"$BOGUS\n"
				"e.example CNAME .\n"),
		0);
	assert_int_equal(g->ne, 3);
	assert_int_equal(g->e[0].line, 3);
	assert_int_equal(g->e[1].line, 5);
	assert_int_equal(g->e[2].line, 7);
	assert_int_equal(g->n, 4);
	assert_record(g, 0, "a.example", false, TAPIR_ACTION_NXDOMAIN, 2);
	assert_record(g, 1, "b.example", false, TAPIR_ACTION_NXDOMAIN, 4);
	assert_record(g, 2, "d.example", false, TAPIR_ACTION_NXDOMAIN, 6);
	assert_record(g, 3, "e.example", false, TAPIR_ACTION_NXDOMAIN, 8);
}

static void
test_rpz_include_is_refused_and_not_read(void **state)
{
	struct got *g = *state;
	char text[256];
	FILE *f;
	int fd;

	/* A real file that would add a record if it were read. */
	snprintf(g->tmp, sizeof(g->tmp), "/tmp/test_listfile.XXXXXX");
	assert_true((fd = mkstemp(g->tmp)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fputs("included.example CNAME .\n", f);
	fclose(f);
	snprintf(text, sizeof(text),
		"$ORIGIN rpz.local.\n$INCLUDE %s\nafter.example CNAME .\n",
		g->tmp);

	g->o.format = TAPIR_FORMAT_RPZ;
	assert_int_equal(run(g, text), 0);
	assert_int_equal(g->n, 1);
	assert_record(g, 0, "after.example", false, TAPIR_ACTION_NXDOMAIN, 3);
	assert_int_equal(g->ne, 1);
	assert_error(g, 0, 2, "$INCLUDE is not allowed in a list file");
}

static void
test_rpz_many_includes_are_each_an_error(void **state)
{
	struct got *g = *state;
	char text[1024] = "$ORIGIN rpz.local.\n";

	for (int i = 0; i < 40; i++)
		strcat(text, "$INCLUDE x.zone\n");
	strcat(text, "after.example CNAME .\n");
	g->o.format = TAPIR_FORMAT_RPZ;
	g->o.max_errors_reported = 100;
	assert_int_equal(run(g, text), 0);
	assert_int_equal(g->ne, 40);
	assert_int_equal(g->e[39].line, 41);
	assert_int_equal(g->n, 1);
	assert_record(g, 0, "after.example", false, TAPIR_ACTION_NXDOMAIN, 42);
}

static void
test_rpz_fatal_error_on_last_line_without_newline(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	assert_int_equal(run(g, "a.example. CNAME .\n"
				"b.example. CNAME .\n"
				"$BOGUS"),
		0);
	assert_int_equal(g->n, 2);
	assert_record(g, 1, "b.example", false, TAPIR_ACTION_NXDOMAIN, 2);
	assert_int_equal(g->ne, 1);
	assert_int_equal(g->e[0].line, 3);
}

/* What a caller needs to tell a file read half written: whether it ends
 * mid-line, and whether its last line was a bad one. */
static void
test_stats_tell_a_cut_last_line(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_DOMAINS;
	assert_int_equal(run(g, "a.example\nb.example\n"), 0);
	assert_false(g->st.unterminated);
	assert_int_equal(g->st.last_bad_line, 0);
	assert_int_equal(run(g, "a.example\nb.exa"), 0);
	assert_true(g->st.unterminated);
	assert_int_equal(run(g, ""), 0);
	assert_false(g->st.unterminated);
	assert_int_equal(run(g, "a b.example\nc.example\n"), 0);
	assert_int_equal(g->st.last_bad_line, 1);
	assert_int_equal(g->st.lines, 2);

	g->o.format = TAPIR_FORMAT_RPZ;
	g->ne = 0;
	assert_int_equal(run(g, "a.example. CNAME .\nb.example. CNAME"), 0);
	assert_true(g->st.unterminated);
	assert_int_equal(g->st.last_bad_line, 2);
	assert_int_equal(g->st.lines, 2);
}

static void
test_rpz_origin_option_applies_without_dollar_origin(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	g->o.origin = "RPZ.Local.";
	assert_int_equal(run(g, "bad.example CNAME .\n"
				"abs.example.rpz.local. CNAME *.\n"),
		0);
	assert_int_equal(g->n, 2);
	assert_record(g, 0, "bad.example", false, TAPIR_ACTION_NXDOMAIN, 1);
	assert_record(g, 1, "abs.example", false, TAPIR_ACTION_NODATA, 2);
}

static void
test_rpz_dollar_origin_overrides_origin_option(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	g->o.origin = "other.zone";
	assert_int_equal(
		run(g, "$ORIGIN rpz.local.\nbad.example CNAME .\n"), 0);
	assert_int_equal(g->n, 1);
	assert_record(g, 0, "bad.example", false, TAPIR_ACTION_NXDOMAIN, 2);
}

static void
test_rpz_without_any_origin_names_are_absolute(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	assert_int_equal(run(g, "bad.example. CNAME .\n*.Wild.Example. A "
				"192.0.2.1\n"),
		0);
	assert_int_equal(g->n, 2);
	assert_record(g, 0, "bad.example", false, TAPIR_ACTION_NXDOMAIN, 1);
	assert_record(g, 1, "wild.example", true, TAPIR_ACTION_REDIRECT, 2);
}

static void
test_rpz_soa_owner_is_the_apex_without_origin(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	assert_int_equal(run(g, "rpz.local. SOA ns. admin. 1 2 3 4 5\n"
				"rpz.local. NS ns.\n"
				"bad.example.rpz.local. CNAME .\n"),
		0);
	assert_int_equal(g->n, 1);
	assert_record(g, 0, "bad.example", false, TAPIR_ACTION_NXDOMAIN, 3);
	assert_int_equal(g->st.skipped, 0);
}

static void
test_rpz_owner_outside_the_zone_is_an_error(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	assert_int_equal(run(g, "$ORIGIN rpz.local.\n"
				"stray.example. CNAME .\n"
				"ok.example CNAME .\n"),
		0);
	assert_int_equal(g->n, 1);
	assert_error(g, 0, 2, "owner is outside the zone");
}

static void
test_rpz_rejects_invalid_origin_option(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	g->o.origin = "rpz.local.\n$INCLUDE /etc/passwd";
	assert_int_equal(run(g, "a CNAME .\n"), TAPIR_EINVAL);
	assert_int_equal(g->n, 0);
}

static void
test_rpz_reads_crlf(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	assert_int_equal(run(g, "$ORIGIN rpz.local.\r\n"
				"; comment\r\n"
				"a.example CNAME . ; why\r\n"
				"b.example CNAME rpz-drop.\r\n"),
		0);
	assert_int_equal(g->ne, 0);
	assert_int_equal(g->n, 2);
	assert_record(g, 1, "b.example", false, TAPIR_ACTION_DROP, 4);
}

static void
test_rpz_bad_policy_name_is_an_error_line(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	assert_int_equal(run(g, "$ORIGIN rpz.local.\n"
				"a\\.b.example CNAME .\n"
				"a*b.example CNAME .\n"
				"ok.example CNAME .\n"),
		0);
	assert_int_equal(g->n, 1);
	assert_int_equal(g->ne, 2);
	assert_error(
		g, 0, 2, "illegal character '\\' at offset 1 (no escapes)");
	assert_error(
		g, 1, 3, "misplaced '*' at offset 1 (not a whole first label)");
}

/* --- callbacks --- */

static void
test_record_callback_stops_the_parse(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_DOMAINS;
	g->stop_at = 2;
	assert_int_equal(run(g, "a.example\nb.example\nc.example\n"), 7);
	assert_int_equal(g->n, 2);
	assert_int_equal(g->st.records, 2);
	assert_int_equal(g->st.lines, 2);
}

static void
test_record_callback_stops_an_rpz_parse(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_RPZ;
	g->stop_at = 1;
	assert_int_equal(run(g, rpz_zone), 7);
	assert_int_equal(g->n, 1);
	assert_int_equal(g->st.lines, 6);
}

static void
test_error_callback_is_limited_but_all_errors_count(void **state)
{
	struct got *g = *state;
	char text[400] = "";

	for (int i = 0; i < 30; i++)
		strcat(text, "bad..name\n");
	strcat(text, "good.example\n");
	g->o.format = TAPIR_FORMAT_DOMAINS;
	g->o.max_errors_reported = 5;
	assert_int_equal(run(g, text), 0);
	assert_int_equal(g->ne, 5);
	assert_int_equal(g->e[4].line, 5);
	assert_int_equal(g->st.errors, 30);
	assert_int_equal(g->n, 1);
	assert_record(g, 0, "good.example", false, TAPIR_ACTION_PASS, 31);

	/* 0 means the default. */
	memset(&g->st, 0, sizeof(g->st));
	g->ne = g->n = 0;
	g->o.max_errors_reported = 0;
	assert_int_equal(run(g, text), 0);
	assert_int_equal(g->ne, TAPIR_FILE_ERRORS_REPORTED_DEFAULT);
	assert_int_equal(g->st.errors, 30);
}

static void
test_error_callback_may_be_null(void **state)
{
	struct got *g = *state;
	struct tapir_file_opts o = { .format = TAPIR_FORMAT_DOMAINS };

	(void)g;
	assert_int_equal(tapir_file_parse("a b\nc.example\n", 14, &o, on_record,
				 NULL, g, &g->st),
		0);
	assert_int_equal(g->st.errors, 1);
	assert_int_equal(g->n, 1);
}

/* --- files --- */

static void
write_tmp(struct got *g, const char *text)
{
	FILE *f;
	int fd;

	snprintf(g->tmp, sizeof(g->tmp), "/tmp/test_listfile.XXXXXX");
	assert_true((fd = mkstemp(g->tmp)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fputs(text, f);
	fclose(f);
}

static void
test_parse_path_reads_a_file(void **state)
{
	struct got *g = *state;
	struct tapir_error e;

	write_tmp(g, "0.0.0.0 a.example\n0.0.0.0 b.example\n");
	g->o.format = TAPIR_FORMAT_HOSTS;
	assert_int_equal(tapir_file_parse_path(g->tmp, 0, &g->o, on_record,
				 on_error, g, &g->st, &e),
		0);
	assert_int_equal(g->n, 2);
	assert_record(g, 1, "b.example", false, TAPIR_ACTION_PASS, 2);
}

static void
test_parse_path_refuses_a_file_over_max_size(void **state)
{
	struct got *g = *state;
	struct tapir_error e;

	write_tmp(g, "a.example\nb.example\n");
	g->o.format = TAPIR_FORMAT_DOMAINS;
	assert_int_equal(tapir_file_parse_path(g->tmp, 19, &g->o, on_record,
				 on_error, g, &g->st, &e),
		TAPIR_ETOOBIG);
	assert_int_equal(g->n, 0);
	assert_non_null(strstr(e.text, "larger than 19 bytes"));
	assert_int_equal(tapir_file_parse_path(g->tmp, 20, &g->o, on_record,
				 on_error, g, &g->st, &e),
		0);
	assert_int_equal(g->n, 2);
}

static void
test_parse_path_reports_a_missing_file(void **state)
{
	struct got *g = *state;
	struct tapir_error e;

	g->o.format = TAPIR_FORMAT_DOMAINS;
	assert_int_equal(tapir_file_parse_path("/nonexistent/list.txt", 0,
				 &g->o, on_record, on_error, g, &g->st, &e),
		TAPIR_ENOENT);
	assert_non_null(strstr(e.text, "/nonexistent/list.txt"));
}

/*
 * A file of a line format is read a block at a time: whatever the block,
 * and wherever its edges fall (inside a CRLF, a byte order mark, a name,
 * a line longer than the block), it gives what the whole file in memory
 * gives: the same records, bad lines and counts.
 */
static void
test_parse_path_in_blocks_gives_what_the_whole_file_gives(void **state)
{
	static const struct {
		enum tapir_file_format format;
		bool csv_header;
		const char *text;
	} cases[] = {
		{ TAPIR_FORMAT_DOMAINS, false,
			"\xef\xbb\xbf"
			"a.example\r\n# comment\n\nb.example # x\r\n"
			"bad..name\n*.c.example\nd.example" },
		{ TAPIR_FORMAT_DOMAINS, false, "" },
		{ TAPIR_FORMAT_DOMAINS, false, "\xef\xbb\xbf" },
		{ TAPIR_FORMAT_DOMAINS, false, "ab" },
		{ TAPIR_FORMAT_DOMAINS, false, "\n\n" },
		{ TAPIR_FORMAT_DOMAINS, false, "\xef\xbb" },
		{ TAPIR_FORMAT_HOSTS, false,
			"127.0.0.1 localhost\n0.0.0.0 a.example b.example "
			"c.example d.example e.example f.example g.example "
			"h.example i.example j.example\n0.0.0.0 k.example\n" },
		{ TAPIR_FORMAT_CSV, true,
			"domain,first,seen\nx,a.example,1\nx,b.example,2\n"
			"x,\"c.example\",3\nx,-bad-,4\n" },
	};
	static const size_t blocks[] = { 1, 2, 3, 7, 64, 65536 };
	size_t saved = tapir__listfile_block;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct got *whole = test_calloc(1, sizeof(*whole));

		assert_non_null(whole);
		whole->o.format = cases[i].format;
		whole->o.csv_header = cases[i].csv_header;
		assert_int_equal(
			tapir_file_parse(cases[i].text, strlen(cases[i].text),
				&whole->o, on_record, on_error, whole,
				&whole->st),
			0);
		for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]);
			b++) {
			struct got *g = test_calloc(1, sizeof(*g));
			struct tapir_error e;

			assert_non_null(g);
			g->o = whole->o;
			write_tmp(g, cases[i].text);
			tapir__listfile_block = blocks[b];
			assert_int_equal(
				tapir_file_parse_path(g->tmp, 0, &g->o,
					on_record, on_error, g, &g->st, &e),
				0);
			unlink(g->tmp);
			assert_int_equal(g->n, whole->n);
			for (size_t k = 0; k < g->n; k++) {
				assert_string_equal(
					g->r[k].name, whole->r[k].name);
				assert_int_equal(
					g->r[k].subtree, whole->r[k].subtree);
				assert_int_equal(
					g->r[k].action, whole->r[k].action);
				assert_int_equal(
					g->r[k].line, whole->r[k].line);
			}
			assert_int_equal(g->ne, whole->ne);
			for (size_t k = 0; k < g->ne; k++) {
				assert_int_equal(
					g->e[k].line, whole->e[k].line);
				assert_string_equal(
					g->e[k].reason, whole->e[k].reason);
			}
			assert_int_equal(g->st.lines, whole->st.lines);
			assert_int_equal(g->st.records, whole->st.records);
			assert_int_equal(g->st.errors, whole->st.errors);
			assert_int_equal(g->st.skipped, whole->st.skipped);
			assert_int_equal(
				g->st.unterminated, whole->st.unterminated);
			assert_int_equal(
				g->st.last_bad_line, whole->st.last_bad_line);
			test_free(g);
		}
		test_free(whole);
	}
	tapir__listfile_block = saved;
}

/* --- samples shaped like the real lists --- */

static void
test_sample_hosts_block_list(void **state)
{
	struct got *g = *state;

	/* The head of a widely used unified hosts file. */
	g->o.format = TAPIR_FORMAT_HOSTS;
	assert_int_equal(run(g, "# Title: unified hosts\n"
				"#\n"
				"127.0.0.1 localhost\n"
				"127.0.0.1 localhost.localdomain\n"
				"127.0.0.1 local\n"
				"255.255.255.255 broadcasthost\n"
				"::1 localhost\n"
				"::1 ip6-localhost\n"
				"::1 ip6-loopback\n"
				"fe80::1%lo0 localhost\n"
				"ff00::0 ip6-localnet\n"
				"ff00::0 ip6-mcastprefix\n"
				"ff02::1 ip6-allnodes\n"
				"ff02::2 ip6-allrouters\n"
				"ff02::3 ip6-allhosts\n"
				"0.0.0.0 0.0.0.0\n"
				"\n"
				"# Custom host records are listed here.\n"
				"\n"
				"0.0.0.0 1-1ads.com\n"
				"0.0.0.0 101com.com\n"
				"0.0.0.0 101order.com\n"),
		0);
	assert_int_equal(g->ne, 0);
	assert_int_equal(g->n, 3);
	assert_record(g, 0, "1-1ads.com", false, TAPIR_ACTION_PASS, 20);
	assert_record(g, 2, "101order.com", false, TAPIR_ACTION_PASS, 22);
	assert_int_equal(g->st.lines, 22);
}

static void
test_sample_domains_block_list(void **state)
{
	struct got *g = *state;

	g->o.format = TAPIR_FORMAT_DOMAINS;
	assert_int_equal(run(g, "# Blocklist: all\n"
				"# Updated: 2026-01-01\n"
				"0-0-0-0-0-0proxy.example\n"
				"000free.example\n"
				"xn--80ak6aa92e.example\n"),
		0);
	assert_int_equal(g->ne, 0);
	assert_int_equal(g->n, 3);
	assert_record(
		g, 2, "xn--80ak6aa92e.example", false, TAPIR_ACTION_PASS, 5);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_format_names_round_trip),
		T(test_parse_rejects_unknown_format_and_null_callback),
		T(test_domains_reads_one_name_a_line_canonically),
		T(test_domains_skips_comments_blanks_and_whitespace),
		T(test_domains_reads_crlf_and_a_last_line_without_newline),
		T(test_domains_ignores_utf8_bom),
		T(test_domains_wildcard_line_is_subtree),
		T(test_domains_two_names_on_a_line_is_an_error_for_that_line),
		T(test_domains_bad_name_reports_reason_from_name_canon),
		T(test_hosts_reads_every_name_of_blocking_lines),
		T(test_hosts_skips_lines_for_other_addresses),
		T(test_hosts_skips_local_names_silently),
		T(test_hosts_address_that_is_not_an_ip_is_an_error),
		T(test_hosts_address_without_a_name_is_an_error),
		T(test_hosts_bad_name_does_not_lose_the_others_on_its_line),
		T(test_csv_upstream_shape_header_and_second_column),
		T(test_csv_without_header_option_reads_the_first_row),
		T(test_csv_header_is_the_first_line_that_is_not_a_comment),
		T(test_csv_quoted_fields_with_delimiters_and_escaped_quotes),
		T(test_csv_other_column_and_delimiter),
		T(test_csv_row_without_enough_columns_is_an_error),
		T(test_csv_unterminated_quote_costs_only_its_row),
		T(test_csv_text_after_closing_quote_is_an_error),
		T(test_csv_escaped_quote_inside_name_is_a_bad_name),
		T(test_csv_reads_crlf),
		T(test_csv_refuses_quote_as_delimiter),
		T(test_rpz_reads_actions_of_qname_triggers),
		T(test_rpz_tcp_only_is_skipped),
		T(test_rpz_apex_soa_and_ns_are_ignored),
		T(test_rpz_relative_names_follow_a_later_origin),
		T(test_rpz_other_triggers_are_skipped),
		T(test_rpz_relative_cname_target_is_a_redirect),
		T(test_rpz_syntax_error_mid_file_costs_only_its_line),
		T(test_rpz_fatal_scanner_error_does_not_end_the_file),
		T(test_rpz_include_is_refused_and_not_read),
		T(test_rpz_many_includes_are_each_an_error),
		T(test_rpz_fatal_error_on_last_line_without_newline),
		T(test_stats_tell_a_cut_last_line),
		T(test_rpz_origin_option_applies_without_dollar_origin),
		T(test_rpz_dollar_origin_overrides_origin_option),
		T(test_rpz_without_any_origin_names_are_absolute),
		T(test_rpz_soa_owner_is_the_apex_without_origin),
		T(test_rpz_owner_outside_the_zone_is_an_error),
		T(test_rpz_rejects_invalid_origin_option),
		T(test_rpz_reads_crlf),
		T(test_rpz_bad_policy_name_is_an_error_line),
		T(test_record_callback_stops_the_parse),
		T(test_record_callback_stops_an_rpz_parse),
		T(test_error_callback_is_limited_but_all_errors_count),
		T(test_error_callback_may_be_null),
		T(test_parse_path_reads_a_file),
		T(test_parse_path_refuses_a_file_over_max_size),
		T(test_parse_path_reports_a_missing_file),
		cmocka_unit_test(
			test_parse_path_in_blocks_gives_what_the_whole_file_gives),
		T(test_sample_hosts_block_list),
		T(test_sample_domains_block_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
