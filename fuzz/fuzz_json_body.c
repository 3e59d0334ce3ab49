/*
 * fuzz_json_body: a request body through req_json_object (host/http.c): the
 * nesting-depth pre-scan, then jansson with duplicate keys refused; every
 * refusal is a 400 with a reason_code. The first byte picks max_json_depth.
 */
#include "config.h"

#include "common/buf.h"
#include "common/conf.h"
#include "fuzz/fuzz.h"
#include "host/http.h"

static int sink_write(void *io, const void *p, size_t n)
{
	return buf_append(io, p, n);
}

static int sink_flush(void *io)
{
	(void)io;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf c;
	static int ready;
	struct buf out = BUF_INIT;
	struct req r;
	json_t *v;

	if (!ready) {
		conf_defaults(&c);
		ready = 1;
	}
	if (size == 0)
		return 0;
	c.max_json_depth = 2 + data[0] % 40;
	memset(&r, 0, sizeof(r));
	r.conf = &c;
	r.method = "POST";
	r.query = "";
	r.write = sink_write;
	r.flush = sink_flush;
	r.io = &out;
	memcpy(r.request_id, "fuzz", 5);
	buf_append(&r.body, data + 1, size - 1);
	v = req_json_object(&r);
	if (v == NULL && (r.status != 400 || strstr(buf_str(&out), "reason_code") == NULL))
		abort();
	json_decref(v);
	buf_free(&r.body);
	buf_free(&r.headers);
	buf_free(&out);
	return 0;
}
