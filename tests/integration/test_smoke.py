"""Smoke tests: the program answers behind each web server, with ids and the error shape.

Behind lighttpd agenthost is mounted at "/"; behind nginx and Apache at "/gw"
(mount_prefix), so the same routes must work under every base, and nothing
outside the prefix may reach a handler.
"""

import re

from harness import APACHE_ERROR, BASE_APACHE, BASE_NGINX, api, assert_error, run, skip, test

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def nginx():
    if not BASE_NGINX:
        skip("AGENTHOST_URL_NGINX is not set")
    return BASE_NGINX


def apache():
    # Installed but unreachable is a failure: a skip would hide it.
    assert not APACHE_ERROR, "Apache is installed but cannot reach agenthost: " + APACHE_ERROR
    if not BASE_APACHE:
        skip("AGENTHOST_URL_APACHE is not set (Apache not installed)")
    return BASE_APACHE


@test
def healthz_answers_200():
    status, hdrs, body = api("GET", "/healthz")
    assert status == 200, (status, body)
    assert "json" in hdrs.get("content-type", ""), hdrs


@test
def readyz_answers_200_with_database_up():
    status, _, body = api("GET", "/readyz")
    assert status == 200, (status, body)


@test
def every_response_has_a_request_id():
    ids = set()
    for path in ("/healthz", "/no/such/route", "/v1/models"):
        _, hdrs, _ = api("GET", path)
        rid = hdrs.get("x-request-id", "")
        assert REQUEST_ID.match(rid), "%s: bad X-Request-Id %r" % (path, rid)
        ids.add(rid)
    assert len(ids) == 3, "request ids repeat: %s" % ids


@test
def unknown_route_is_404_with_reason_code():
    res = api("GET", "/no/such/route")
    err = assert_error(res, 404)
    assert err["reason_code"], err
    assert err.get("request_id") == res[1].get("x-request-id"), \
        "error.request_id %r differs from X-Request-Id %r" % (err.get("request_id"),
                                                              res[1].get("x-request-id"))


@test
def missing_api_key_is_401_with_reason_code():
    err = assert_error(api("GET", "/v1/models"), 401)
    assert err["reason_code"], err


@test
def nginx_healthz_under_gw():
    status, hdrs, body = api("GET", "/healthz", base=nginx())
    assert status == 200, (status, body)
    assert REQUEST_ID.match(hdrs.get("x-request-id", "")), hdrs


@test
def nginx_readyz_under_gw():
    status, _, body = api("GET", "/readyz", base=nginx())
    assert status == 200, (status, body)


@test
def nginx_unknown_route_is_404_with_reason_code():
    err = assert_error(api("GET", "/no/such/route", base=nginx()), 404)
    assert err["reason_code"], err


@test
def nginx_missing_api_key_is_401():
    err = assert_error(api("GET", "/v1/models", base=nginx()), 401)
    assert err["reason_code"], err


@test
def apache_healthz_under_gw():
    status, hdrs, body = api("GET", "/healthz", base=apache())
    assert status == 200, (status, body)
    assert REQUEST_ID.match(hdrs.get("x-request-id", "")), hdrs


@test
def apache_unknown_route_is_404_with_reason_code():
    err = assert_error(api("GET", "/no/such/route", base=apache()), 404)
    assert err["reason_code"], err


@test
def prefix_is_not_part_of_the_route_at_root():
    # Behind lighttpd the app is mounted at "/", so "/gw/healthz" is an unknown route.
    assert_error(api("GET", "/gw/healthz"), 404)


run()
