/*
 * test_reasons: the reason-code table (common/tbl/reasons.h) against
 * docs/API.md, its own invariants, the JSON error writer that derives
 * status, type and Retry-After from it, and the provider boundary.
 *
 * DESIGN
 * docs/API.md's table (| status | reason_code | when |) is parsed as text:
 * a row's status cell is a number or "—" (never an HTTP status), its code
 * cell one or more `code`s. Both directions are checked, so a code added
 * to either side alone fails here. The file is found through $srcdir (set
 * by automake's harness and by tests/run), else the current directory.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/reason.h"
#include "host/http.h"
#include "providers/registry.h"

/* ------------------------------------------------------------ docs/API.md */

#define DOC_MAX 256

struct doc_code {
	char name[64];
	int status; /* 0 for "—" */
	int line;
};

static struct doc_code doc[DOC_MAX];
static size_t n_doc;

/* Split "| a | b | c |" into its first two cells (trimmed) into a and b. 0, or -1. */
static int doc_cells(const char *line, char *a, size_t acap, char *b, size_t bcap)
{
	const char *p = line, *q;
	char *outs[2] = {a, b};
	size_t caps[2] = {acap, bcap};

	for (int i = 0; i < 2; i++) {
		size_t n;

		if (*p != '|')
			return -1;
		p++;
		q = strchr(p, '|');
		if (q == NULL)
			return -1;
		while (*p == ' ')
			p++;
		n = (size_t)(q - p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n >= caps[i])
			return -1;
		memcpy(outs[i], p, n);
		outs[i][n] = '\0';
		p = q;
	}
	return 0;
}

/* Read the reason-code table of docs/API.md into doc[]. */
static void doc_load(void)
{
	const char *srcdir = getenv("srcdir");
	char path[1024], line[4096];
	int in_table = 0, lineno = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/docs/API.md", srcdir && *srcdir ? srcdir : ".");
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	n_doc = 0;
	while (fgets(line, sizeof(line), f)) {
		char st[32], codes[2048];
		const char *p;

		lineno++;
		if (!in_table) {
			in_table = strncmp(line, "| status | reason_code | when |", 31) == 0;
			continue;
		}
		if (strncmp(line, "|---", 4) == 0)
			continue;
		if (line[0] != '|')
			break;
		ck_assert_msg(doc_cells(line, st, sizeof(st), codes, sizeof(codes)) == 0,
		              "API.md:%d: not a table row", lineno);
		p = codes;
		while ((p = strchr(p, '`')) != NULL) {
			const char *e = strchr(p + 1, '`');
			struct doc_code *d;

			ck_assert_msg(e != NULL, "API.md:%d: unbalanced `", lineno);
			ck_assert_msg(n_doc < DOC_MAX, "API.md: more than %d codes", DOC_MAX);
			ck_assert_msg((size_t)(e - p - 1) < sizeof(d->name), "API.md:%d: long code",
			              lineno);
			d = &doc[n_doc++];
			memcpy(d->name, p + 1, (size_t)(e - p - 1));
			d->name[e - p - 1] = '\0';
			d->line = lineno;
			if (strcmp(st, "—") == 0)
				d->status = 0;
			else
				ck_assert_msg(sscanf(st, "%d", &d->status) == 1 && d->status >= 100,
				              "API.md:%d: status '%s' is neither a number nor —",
				              lineno, st);
			p = e + 1;
		}
	}
	fclose(f);
	ck_assert_msg(in_table, "%s has no '| status | reason_code | when |' table", path);
	ck_assert_msg(n_doc > 0, "%s: the reason-code table is empty", path);
}

START_TEST(every_code_is_documented_with_its_status)
{
	doc_load();
	for (unsigned r = R_none + 1; r < REASON__MAX; r++) {
		size_t i;

		for (i = 0; i < n_doc; i++)
			if (strcmp(doc[i].name, reason_name(r)) == 0)
				break;
		ck_assert_msg(i < n_doc, "%s (common/tbl/reasons.h) is not in docs/API.md's table",
		              reason_name(r));
		ck_assert_msg(doc[i].status == reason_status(r),
		              "%s: docs/API.md:%d says %d, common/tbl/reasons.h says %d",
		              reason_name(r), doc[i].line, doc[i].status, reason_status(r));
	}
}
END_TEST

START_TEST(every_documented_code_exists_once)
{
	doc_load();
	for (size_t i = 0; i < n_doc; i++) {
		ck_assert_msg(reason_lookup(doc[i].name) != R_none,
		              "docs/API.md:%d: `%s` is not in common/tbl/reasons.h", doc[i].line,
		              doc[i].name);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(doc[i].name, doc[j].name) != 0,
			              "docs/API.md:%d: `%s` is listed twice (also line %d)",
			              doc[i].line, doc[i].name, doc[j].line);
	}
}
END_TEST

/* ---------------------------------------------------------------- the table */

/* The type API.md's "type follows the status" sentence gives. */
static const char *type_for_status(int status)
{
	switch (status) {
	case 401:
		return "authentication_error";
	case 403:
		return "permission_error";
	case 404:
		return "not_found_error";
	case 409:
		return "conflict_error";
	case 429:
		return "rate_limit_error";
	default:
		return status >= 500 || status == 0 ? "api_error" : "invalid_request_error";
	}
}

START_TEST(table_invariants)
{
	ck_assert_str_eq(reason_name(R_none), "");
	ck_assert_int_eq(reason_status(R_none), 200);
	ck_assert_int_eq(reason_lookup(""), R_none);
	ck_assert_int_eq(reason_lookup(NULL), R_none);
	ck_assert_int_eq(reason_lookup("no_such_code"), R_none);
	ck_assert_str_eq(reason_name(REASON__MAX), "");
	for (unsigned r = R_none + 1; r < REASON__MAX; r++) {
		const char *name = reason_name(r);
		unsigned fl = reason_flags(r);
		int st = reason_status(r);

		ck_assert_msg(name[0] != '\0', "row %u has no name", r);
		/* Names are unique: the lookup of each finds that row, not an earlier one. */
		ck_assert_msg(reason_lookup(name) == (enum reason)r, "%s is in the table twice",
		              name);
		/* execution and run-step rows keep the code in 48 bytes */
		ck_assert_msg(strlen(name) < 48, "%s is too long for a reason_code column", name);
		ck_assert_msg(st == 0 || (st >= 400 && st <= 599), "%s: status %d", name, st);
		if (r == R_tenant_budget_exceeded || r == R_key_budget_exceeded ||
		    r == R_project_budget_exceeded || r == R_tag_budget_exceeded ||
		    r == R_end_user_budget_exceeded)
			ck_assert_str_eq(reason_type(r), "insufficient_quota");
		else
			ck_assert_msg(strcmp(reason_type(r), type_for_status(st)) == 0,
			              "%s: type %s, but status %d gives %s", name, reason_type(r),
			              st, type_for_status(st));
		/* What a provider reports is a failed call, not a refusal of the caller. */
		if (fl & RF_PROVIDER)
			ck_assert_msg(st == 499 || st == 502 || st == 504, "%s: provider code, %d",
			              name, st);
		if (fl & RF_UPSTREAM)
			ck_assert_msg(fl & RF_PROVIDER, "%s: upstream but not a provider code",
			              name);
		if (st == 0)
			ck_assert_msg(!(fl & RF_RETRY), "%s: Retry-After on a code never sent",
			              name);
	}
}
END_TEST

START_TEST(refusal_defaults)
{
	struct refusal rf;
	char longer[700];

	ck_assert_int_eq(reason_set(&rf, R_rpm_exceeded, "limit %d", 7), -1);
	ck_assert_int_eq(rf.reason, R_rpm_exceeded);
	ck_assert_str_eq(rf.message, "limit 7");
	ck_assert_int_eq(rf.retry_after, 1); /* RF_RETRY */
	reason_set(&rf, R_invalid_request, "x");
	ck_assert_int_eq(rf.retry_after, 0);
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	reason_set(&rf, R_internal_error, "%s", longer);
	ck_assert_uint_eq(strlen(rf.message), sizeof(rf.message) - 1);
}
END_TEST

/* ------------------------------------------------------------ the writer */

static int sink_write(void *io, const void *p, size_t n)
{
	return buf_append(io, p, n);
}

static int sink_flush(void *io)
{
	(void)io;
	return 0;
}

struct sent {
	struct req r;
	struct conf c;
	struct buf out;
};

static void sent_init(struct sent *s)
{
	memset(s, 0, sizeof(*s));
	conf_defaults(&s->c);
	s->r.conf = &s->c;
	s->r.write = sink_write;
	s->r.flush = sink_flush;
	s->r.io = &s->out;
	strcpy(s->r.request_id, "req_test");
}

static void sent_free(struct sent *s)
{
	buf_free(&s->out);
	buf_free(&s->r.headers);
}

static int has(const struct sent *s, const char *needle)
{
	return strstr(buf_str(&s->out), needle) != NULL;
}

START_TEST(writer_derives_status_type_and_retry_after)
{
	struct sent s;
	struct refusal rf;

	sent_init(&s);
	resp_error(&s.r, R_tenant_budget_exceeded, "daily budget of $%d", 5);
	ck_assert_int_eq(s.r.status, 429);
	ck_assert_msg(has(&s, "Status: 429 "), "%s", buf_str(&s.out));
	ck_assert(has(&s, "Retry-After: 1\r\n"));
	ck_assert(has(&s, "\"type\":\"insufficient_quota\""));
	ck_assert(has(&s, "\"code\":\"tenant_budget_exceeded\""));
	ck_assert(has(&s, "\"reason_code\":\"tenant_budget_exceeded\""));
	ck_assert(has(&s, "\"message\":\"daily budget of $5\""));
	ck_assert(has(&s, "\"request_id\":\"req_test\""));
	ck_assert_str_eq(s.r.reason_code, "tenant_budget_exceeded");
	sent_free(&s);

	/* A retry_after set by the caller wins; no flag and no value: no header. */
	sent_init(&s);
	reason_set(&rf, R_tenant_migrating, "moving");
	rf.retry_after = 2;
	resp_refusal(&s.r, &rf);
	ck_assert_int_eq(s.r.status, 503);
	ck_assert(has(&s, "Retry-After: 2\r\n"));
	ck_assert(has(&s, "\"type\":\"api_error\""));
	sent_free(&s);
	sent_init(&s);
	resp_error(&s.r, R_model_not_found, "no model");
	ck_assert_int_eq(s.r.status, 404);
	ck_assert(!has(&s, "Retry-After"));
	ck_assert(has(&s, "\"type\":\"not_found_error\""));
	sent_free(&s);
}
END_TEST

START_TEST(writer_never_sends_499_or_unsendable_codes)
{
	struct sent s;
	struct refusal rf;

	/* Recorded as 499; a client still listening hears 400. */
	sent_init(&s);
	resp_error(&s.r, R_client_disconnected, "gone");
	ck_assert_int_eq(s.r.status, 400);
	ck_assert(has(&s, "\"reason_code\":\"client_disconnected\""));
	ck_assert(has(&s, "\"type\":\"invalid_request_error\""));
	sent_free(&s);

	/* A tool step's code, or no code at all, is a bug in the caller. */
	sent_init(&s);
	resp_error(&s.r, R_tool_timeout, "tool");
	ck_assert_int_eq(s.r.status, 500);
	ck_assert(has(&s, "\"reason_code\":\"internal_error\""));
	ck_assert_str_eq(s.r.reason_code, "internal_error");
	sent_free(&s);
	sent_init(&s);
	memset(&rf, 0, sizeof(rf));
	resp_refusal(&s.r, &rf);
	ck_assert_int_eq(s.r.status, 500);
	ck_assert(has(&s, "\"reason_code\":\"internal_error\""));
	sent_free(&s);
}
END_TEST

START_TEST(writer_body_with_members)
{
	struct sent s;
	struct refusal rf;
	json_t *err;

	sent_init(&s);
	reason_set(&rf, R_max_steps_reached, "too many steps");
	err = resp_error_object(&s.r, &rf);
	ck_assert_ptr_nonnull(err);
	json_object_set_new(json_object_get(err, "error"), "run_id", json_string("run_x"));
	resp_refusal_body(&s.r, &rf, err);
	ck_assert_int_eq(s.r.status, 422);
	ck_assert(has(&s, "\"run_id\":\"run_x\""));
	ck_assert(has(&s, "\"reason_code\":\"max_steps_reached\""));
	sent_free(&s);
}
END_TEST

/* ------------------------------------------------- the provider boundary */

START_TEST(provider_codes_are_read_once_and_bounded)
{
	struct ah_result res;

	memset(&res, 0, sizeof(res));
	strcpy(res.error_code, "upstream_timeout");
	ck_assert_int_eq(provider_reason(&res), R_upstream_timeout);
	strcpy(res.error_code, "client_disconnected");
	ck_assert_int_eq(provider_reason(&res), R_client_disconnected);
	/* A plugin cannot speak for admission, nor invent a code. */
	strcpy(res.error_code, "tenant_budget_exceeded");
	ck_assert_int_eq(provider_reason(&res), R_provider_error);
	strcpy(res.error_code, "made_up");
	ck_assert_int_eq(provider_reason(&res), R_provider_error);
	res.error_code[0] = '\0';
	ck_assert_int_eq(provider_reason(&res), R_provider_error);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reasons");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, every_code_is_documented_with_its_status);
	tcase_add_test(tc, every_documented_code_exists_once);
	tcase_add_test(tc, table_invariants);
	tcase_add_test(tc, refusal_defaults);
	tcase_add_test(tc, writer_derives_status_type_and_retry_after);
	tcase_add_test(tc, writer_never_sends_499_or_unsendable_codes);
	tcase_add_test(tc, writer_body_with_members);
	tcase_add_test(tc, provider_codes_are_read_once_and_bounded);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
