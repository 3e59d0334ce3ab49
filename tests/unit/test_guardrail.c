/*
 * test_guardrail: what guardrails add below the API: a check's definition
 * (guardrail_dir, stage, settings), the runner naming a guardrail to it,
 * and the journal record carrying the decisions (version 3; version 2
 * records still read). The chain around a call is tested end to end by
 * tests/integration/test_guardrails.py.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/guardrail.h"
#include "exec/journal.h"
#include "store/ledger.h"
#include "tools/runner.h"
#include "testdb.h"

static char dir[256];

/* Write an executable script dir/name with body; returns its path (static buffer). */
static const char *script(const char *name, const char *body)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0700), 0);
	return path;
}

/* A valid definition of a check at path. */
static void def(struct guardrail_def *d, const char *path)
{
	memset(d, 0, sizeof(*d));
	strcpy(d->name, "pii");
	strcpy(d->stage, "both");
	d->timeout_ms = 1000;
	snprintf(d->exec_path, sizeof(d->exec_path), "%s", path);
}

START_TEST(definition_checks)
{
	struct guardrail_def d;
	char err[512], other[300];

	def(&d, script("ok", "echo '{\"action\":\"allow\"}'"));
	ck_assert_int_eq(guardrail_def_check(&d, dir, err, sizeof(err)), 0);
	strcpy(d.env, "PROMPT_MAX_CHARS=20\nMODE=deny");
	ck_assert_int_eq(guardrail_def_check(&d, dir, err, sizeof(err)), 0);
	/* each rule broken once */
	strcpy(d.env, "AGENTHOST_X=1");
	ck_assert_int_eq(guardrail_def_check(&d, dir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "env"));
	strcpy(d.env, "NOEQUALS");
	ck_assert_int_eq(guardrail_def_check(&d, dir, err, sizeof(err)), -1);
	d.env[0] = '\0';
	strcpy(d.stage, "never");
	ck_assert_int_eq(guardrail_def_check(&d, dir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "stage"));
	strcpy(d.stage, "after");
	d.timeout_ms = GUARDRAIL_TIMEOUT_MAX + 1;
	ck_assert_int_eq(guardrail_def_check(&d, dir, err, sizeof(err)), -1);
	d.timeout_ms = 10;
	strcpy(d.name, "no spaces");
	ck_assert_int_eq(guardrail_def_check(&d, dir, err, sizeof(err)), -1);
	strcpy(d.name, "pii");
	/* outside guardrail_dir, also through "..", and not executable */
	strcpy(d.exec_path, "/bin/true");
	ck_assert_int_eq(guardrail_def_check(&d, dir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "guardrail_dir"));
	snprintf(other, sizeof(other), "%s/../%s", dir, "x");
	snprintf(d.exec_path, sizeof(d.exec_path), "%s", other);
	ck_assert_int_eq(guardrail_def_check(&d, dir, err, sizeof(err)), -1);
	snprintf(d.exec_path, sizeof(d.exec_path), "%s", script("plain", "true"));
	ck_assert_int_eq(chmod(d.exec_path, 0600), 0);
	ck_assert_int_eq(guardrail_def_check(&d, dir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not an executable"));
	/* a directory next to guardrail_dir whose name starts like it is not under it */
	snprintf(other, sizeof(other), "%s-x", dir);
	def(&d, script("ok", "true"));
	ck_assert_int_eq(guardrail_def_check(&d, other, err, sizeof(err)), -1);
}
END_TEST

START_TEST(runner_names_the_guardrail)
{
	struct tool_env vars[1] = {{"PROMPT_MAX_CHARS", "20"}};
	struct tool_run_spec s;
	struct tool_run_result res;

	memset(&s, 0, sizeof(s));
	s.exec_path = script("env", "printf '\"%s %s %s\"' \"$AGENTHOST_GUARDRAIL\" "
	                            "\"${AGENTHOST_TOOL:-none}\" \"$PROMPT_MAX_CHARS\"");
	s.tool = "length";
	s.name_var = "AGENTHOST_GUARDRAIL";
	s.tenant_id = 7;
	s.run_id = "chatcmpl-1";
	s.secrets = vars;
	s.n_secrets = 1;
	s.timeout_ms = 5000;
	s.max_output = 4096;
	ck_assert_int_eq(tool_runner_run(&s, &res), 0);
	ck_assert_str_eq(res.output, "\"length none 20\"");
	tool_run_result_free(&res);
}
END_TEST

/* Frame payload w (whose first 8 bytes are the header) into a file and read it back. */
static struct ledger_item *roundtrip(struct wbuf *w)
{
	struct ledger_item *items = NULL;
	char path[300];
	size_t n = 0;
	int64_t owner = 0;
	int fd;

	journal_seal(w);
	snprintf(path, sizeof(path), "%s/journal", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(journal_write_all(fd, w->p, w->len), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(journal_read(fd, &items, &n, &owner), 0);
	close(fd);
	ck_assert_uint_eq(n, 1);
	return items;
}

/* A finished call's record with decisions g (or NULL), encoded into w after its header. */
static void record(struct wbuf *w, const char *g)
{
	static const unsigned char hdr[8];
	struct ledger_rec rec;

	memset(&rec, 0, sizeof(rec));
	memset(w, 0, sizeof(*w));
	rec.seq = 1;
	rec.created_us = 1765000000000000LL;
	rec.e.tenant_id = 3;
	strcpy(rec.e.id, "chatcmpl-x");
	strcpy(rec.e.kind, "chat");
	strcpy(rec.e.model, "mock-1");
	strcpy(rec.e.status, "refused");
	strcpy(rec.e.reason_code, "guardrail_denied");
	strcpy(rec.e.end_user, "alice");
	rec.e.error_message = "guardrail 'pii' denied the request: email";
	rec.e.guardrails = g;
	journal_put(w, hdr, sizeof(hdr));
	journal_encode_rec(w, &rec);
	ck_assert_int_eq(w->err, 0);
}

START_TEST(journal_carries_the_decisions)
{
	const char *g = "[{\"name\":\"pii\",\"stage\":\"before\",\"action\":\"deny\","
	                "\"reason\":\"email\",\"ms\":12}]";
	struct ledger_item *it;
	struct wbuf w;

	record(&w, g);
	it = roundtrip(&w);
	ck_assert_str_eq(it->rec.e.guardrails, g);
	ck_assert_str_eq(it->rec.e.error_message, "guardrail 'pii' denied the request: email");
	ck_assert_str_eq(it->rec.e.end_user, "alice");
	journal_items_free(it);
	free(w.p);
	/* none: NULL stays NULL */
	record(&w, NULL);
	it = roundtrip(&w);
	ck_assert_ptr_null(it->rec.e.guardrails);
	journal_items_free(it);
	free(w.p);
	/* a version 2 record (a journal of the version before) is read, without decisions */
	record(&w, NULL);
	w.len -= 4; /* the absent string's length marker, the last thing of version 3 */
	w.p[9] = REC_DONE_V2;
	it = roundtrip(&w);
	ck_assert_ptr_null(it->rec.e.guardrails);
	ck_assert_str_eq(it->rec.e.end_user, "alice");
	ck_assert_str_eq(it->rec.e.reason_code, "guardrail_denied");
	journal_items_free(it);
	free(w.p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("guardrail");
	TCase *tc = tcase_create("guardrail");

	if (testdb_tmpdir("ah-test-guardrail", dir, sizeof(dir)) < 0)
		return EXIT_FAILURE;
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, definition_checks);
	tcase_add_test(tc, runner_names_the_guardrail);
	tcase_add_test(tc, journal_carries_the_decisions);
	suite_add_tcase(s, tc);
	return testdb_run(s);
}
