/* The Lambda Runtime API's request parser (src/lambda/rtapi_parse.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/alloc.h"
#include "lambda/internal.h"
#include "unit/leaks.h"

static enum mg_rtapi_status s_parse(const char *text, size_t len, struct mg_rtapi_request *req,
                                    struct mg_buf *body)
{
    return mg_lambda_rtapi_parse(mg_slice_make(text, len), req, body);
}

/* text must parse as one complete request; every proper prefix of it as incomplete. */
static void s_complete_at_every_split(const char *text, const char *method, const char *path,
                                      const char *body_text)
{
    size_t len = strlen(text);
    struct mg_rtapi_request req;
    struct mg_buf body;
    mg_buf_init(&body, MG_RTAPI_BODY_MAX);
    for (size_t n = 0; n < len; n++) {
        /* a heap copy of exactly n bytes, so that ASan sees any read past the end */
        char *part = mg_malloc(n ? n : 1);
        assert_non_null(part);
        mg_memcpy(part, text, n);
        enum mg_rtapi_status r = s_parse(part, n, &req, &body);
        mg_free(part);
        if (r != MG_RTAPI_INCOMPLETE)
            fail_msg("prefix of %zu bytes: status %d (http %d)", n, (int)r, req.status);
    }
    assert_int_equal(s_parse(text, len, &req, &body), MG_RTAPI_COMPLETE);
    assert_true(mg_slice_eq_cstr(req.method, method));
    assert_true(mg_slice_eq_cstr(req.path, path));
    assert_true(mg_slice_eq_cstr(req.body, body_text));
    assert_int_equal(req.used, len);
    mg_buf_cleanup(&body);
}

static void test_lambda_rtapi_parse_complete(void **state)
{
    (void)state;
    struct mg_rtapi_request req;
    struct mg_buf body;
    mg_buf_init(&body, MG_RTAPI_BODY_MAX);
    const char *next = "GET /2018-06-01/runtime/invocation/next?x=1 HTTP/1.1\r\n"
                       "Host: 127.0.0.1:9001\r\nUser-Agent: t\r\n\r\n";
    assert_int_equal(s_parse(next, strlen(next), &req, &body), MG_RTAPI_COMPLETE);
    assert_true(mg_slice_eq_cstr(req.method, "GET"));
    assert_true(mg_slice_eq_cstr(req.path, "/2018-06-01/runtime/invocation/next"));
    assert_int_equal(req.body.len, 0);
    assert_false(req.close);
    assert_int_equal(req.used, strlen(next));

    /* two pipelined requests: the first one's bytes only */
    const char *two = "POST /a/error HTTP/1.1\r\nContent-Length: 2\r\n"
                      "Lambda-Runtime-Function-Error-Type:  Custom.Err \r\n"
                      "Connection: close\r\n\r\n{}GET /b HTTP/1.1\r\n\r\n";
    assert_int_equal(s_parse(two, strlen(two), &req, &body), MG_RTAPI_COMPLETE);
    assert_true(mg_slice_eq_cstr(req.body, "{}"));
    assert_true(mg_slice_eq_cstr(req.error_type, "Custom.Err"));
    assert_true(req.close);
    assert_int_equal(req.used, strlen(two) - strlen("GET /b HTTP/1.1\r\n\r\n"));

    /* HTTP/1.0 closes the connection */
    const char *old = "GET / HTTP/1.0\r\n\r\n";
    assert_int_equal(s_parse(old, strlen(old), &req, &body), MG_RTAPI_COMPLETE);
    assert_true(req.close);
    mg_buf_cleanup(&body);
}

static void test_lambda_rtapi_parse_split(void **state)
{
    (void)state;
    s_complete_at_every_split("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: h\r\n\r\n",
                              "GET", "/2018-06-01/runtime/invocation/next", "");
    s_complete_at_every_split("POST /r HTTP/1.1\r\nContent-Length: 11\r\n\r\n{\"a\":\"b c\"}",
                              "POST", "/r", "{\"a\":\"b c\"}");
    s_complete_at_every_split("POST /r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "5\r\nhello\r\nA;ext=1\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
                              "POST", "/r", "hello0123456789");
    s_complete_at_every_split("POST /r HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n0\r\n\r\n",
                              "POST", "/r", "");
}

static void test_lambda_rtapi_parse_chunked(void **state)
{
    (void)state;
    struct mg_rtapi_request req;
    struct mg_buf body;
    mg_buf_init(&body, MG_RTAPI_BODY_MAX);
    const char *h = "POST /r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    struct {
        const char *chunks;
        enum mg_rtapi_status want;
        int status;
    } cases[] = {
        {"3\r\nabc\r\n0\r\n\r\n", MG_RTAPI_COMPLETE, 200},
        {"3\r\nabcXY0\r\n\r\n", MG_RTAPI_ERROR, 400}, /* chunk data not ended by CRLF */
        {"3\r\nabc\rX", MG_RTAPI_ERROR, 400},
        {"3\r\nabcX", MG_RTAPI_ERROR, 400},
        {"\r\nabc\r\n0\r\n\r\n", MG_RTAPI_ERROR, 400}, /* no size */
        {"g\r\n", MG_RTAPI_ERROR, 400},
        {"3x\r\nabc\r\n0\r\n\r\n", MG_RTAPI_ERROR, 400},
        {"3;a\x01\r\nabc\r\n0\r\n\r\n", MG_RTAPI_ERROR, 400},
        {"-1\r\n", MG_RTAPI_ERROR, 400},
        {"ffffffffffffffffffff\r\n", MG_RTAPI_ERROR, 413},
        {"700000\r\n", MG_RTAPI_ERROR, 413},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        int n = snprintf(text, sizeof(text), "%s%s", h, cases[i].chunks);
        enum mg_rtapi_status r = s_parse(text, (size_t)n, &req, &body);
        if (r != cases[i].want || req.status != cases[i].status)
            fail_msg("case %zu: status %d http %d", i, (int)r, req.status);
    }
    /* the sum of chunks is bounded, not only each chunk */
    struct mg_buf big;
    mg_buf_init(&big, 16u * 1024u * 1024u);
    assert_int_equal(mg_buf_append_cstr(&big, h), MG_E_OK);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(mg_buf_append_cstr(&big, "100000\r\n"), MG_E_OK);
        assert_int_equal(mg_buf_reserve(&big, 0x100000 + 2), MG_E_OK);
        memset(big.ptr + big.len, 'a', 0x100000);
        big.len += 0x100000;
        assert_int_equal(mg_buf_append_cstr(&big, "\r\n"), MG_E_OK);
    }
    assert_int_equal(mg_lambda_rtapi_parse(mg_buf_slice(&big), &req, &body), MG_RTAPI_ERROR);
    assert_int_equal(req.status, 413);
    /* an endless chunk-size line or trailer fails rather than waiting forever */
    mg_buf_reset(&big);
    assert_int_equal(mg_buf_append_cstr(&big, h), MG_E_OK);
    assert_int_equal(mg_buf_append_cstr(&big, "0\r\n"), MG_E_OK);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(mg_buf_append_cstr(&big, "x"), MG_E_OK);
    assert_int_equal(mg_lambda_rtapi_parse(mg_buf_slice(&big), &req, &body), MG_RTAPI_ERROR);
    mg_buf_cleanup(&big);
    mg_buf_cleanup(&body);
}

static void test_lambda_rtapi_parse_oversize(void **state)
{
    (void)state;
    struct mg_rtapi_request req;
    struct mg_buf body, in;
    mg_buf_init(&body, MG_RTAPI_BODY_MAX);
    mg_buf_init(&in, 1024u * 1024u);
    /* a head that never ends */
    assert_int_equal(mg_buf_append_cstr(&in, "GET / HTTP/1.1\r\n"), MG_E_OK);
    while (in.len < MG_RTAPI_HEAD_MAX - 1)
        assert_int_equal(mg_buf_append_cstr(&in, "X-A: 1\r\n"), MG_E_OK);
    in.len = MG_RTAPI_HEAD_MAX - 1;
    assert_int_equal(mg_lambda_rtapi_parse(mg_buf_slice(&in), &req, &body), MG_RTAPI_INCOMPLETE);
    assert_int_equal(mg_buf_append_cstr(&in, "y"), MG_E_OK);
    assert_int_equal(mg_lambda_rtapi_parse(mg_buf_slice(&in), &req, &body), MG_RTAPI_ERROR);
    assert_int_equal(req.status, 431);
    /* too many header fields */
    mg_buf_reset(&in);
    assert_int_equal(mg_buf_append_cstr(&in, "GET / HTTP/1.1\r\n"), MG_E_OK);
    for (unsigned i = 0; i <= MG_RTAPI_HEADERS_MAX; i++)
        assert_int_equal(mg_buf_append_cstr(&in, "X-A: 1\r\n"), MG_E_OK);
    assert_int_equal(mg_buf_append_cstr(&in, "\r\n"), MG_E_OK);
    assert_int_equal(mg_lambda_rtapi_parse(mg_buf_slice(&in), &req, &body), MG_RTAPI_ERROR);
    assert_int_equal(req.status, 431);
    /* a body over the limit is refused from its Content-Length, before it is read */
    mg_buf_reset(&in);
    assert_int_equal(mg_buf_printf(&in, "POST / HTTP/1.1\r\nContent-Length: %u\r\n\r\n",
                                   MG_RTAPI_BODY_MAX + 1),
                     MG_E_OK);
    assert_int_equal(mg_lambda_rtapi_parse(mg_buf_slice(&in), &req, &body), MG_RTAPI_ERROR);
    assert_int_equal(req.status, 413);
    /* exactly the limit waits for its bytes */
    mg_buf_reset(&in);
    assert_int_equal(mg_buf_printf(&in, "POST / HTTP/1.1\r\nContent-Length: %u\r\n\r\n",
                                   MG_RTAPI_BODY_MAX),
                     MG_E_OK);
    assert_int_equal(mg_lambda_rtapi_parse(mg_buf_slice(&in), &req, &body), MG_RTAPI_INCOMPLETE);
    mg_buf_cleanup(&in);
    mg_buf_cleanup(&body);
}

static void test_lambda_rtapi_parse_malformed(void **state)
{
    (void)state;
    struct mg_rtapi_request req;
    struct mg_buf body;
    mg_buf_init(&body, MG_RTAPI_BODY_MAX);
    struct {
        const char *text;
        int status;
    } cases[] = {
        {"\r\n\r\n", 400},
        {"GET\r\n\r\n", 400},
        {"GET /\r\n\r\n", 400},
        {"GET / HTTP/1.1 x\r\n\r\n", 400},
        {"GET  / HTTP/1.1\r\n\r\n", 400},
        {"G(T / HTTP/1.1\r\n\r\n", 400},
        {"GET x HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\n\r\n", 505},
        {"GET / FTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n: empty-name\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nA: 1\x7f\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nA: x\ny: 1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         400},
        {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
         400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
        /* what picohttpparser alone would take, refused by the checks around it */
        {"GET /  HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1\nA: 1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n\tA: 1\r\n\r\n", 400},
        {"GET /\x01 HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.2\r\n\r\n", 505},
        {"GET / HTTP/3.0\r\nA: 1\r\n\r\n", 505},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum mg_rtapi_status r = s_parse(cases[i].text, strlen(cases[i].text), &req, &body);
        if (r != MG_RTAPI_ERROR || req.status != cases[i].status)
            fail_msg("case %zu: status %d http %d", i, (int)r, req.status);
    }
    /* a NUL inside a header value */
    static const char nul[] = "GET / HTTP/1.1\r\nA: a\0b\r\n\r\n";
    assert_int_equal(s_parse(nul, sizeof(nul) - 1, &req, &body), MG_RTAPI_ERROR);
    mg_buf_cleanup(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lambda_rtapi_parse_complete),
        cmocka_unit_test(test_lambda_rtapi_parse_split),
        cmocka_unit_test(test_lambda_rtapi_parse_chunked),
        cmocka_unit_test(test_lambda_rtapi_parse_oversize),
        cmocka_unit_test(test_lambda_rtapi_parse_malformed),
    };
    return MG_RUN_TESTS(tests);
}
