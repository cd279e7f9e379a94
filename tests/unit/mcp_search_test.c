/* BM25 ranking of the search tool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "mcp/internal.h"
#include "unit/leaks.h"

struct s_def {
    const char *name, *desc, *schema;
};

static const struct s_def s_defs[] = {
    {"weather___getCurrentWeather", "Current weather conditions for a city",
     "{\"type\":\"object\",\"properties\":{\"city\":{}}}"},
    {"weather___forecast", "Multi-day forecast",
     "{\"type\":\"object\",\"properties\":{\"city\":{},"
     "\"days\":{}}}"},
    {"finance___stock_price", "Latest price of a stock ticker",
     "{\"type\":\"object\",\"properties\":{\"ticker\":{}}}"},
    {"mail___send_email", "Send an email message to a recipient",
     "{\"type\":\"object\",\"properties\":{\"to\":{},\"subject\":{},\"body\":{}}}"},
    {"mail___list_inbox", "List messages in the inbox", "{\"type\":\"object\"}"},
};
#define S_N (sizeof(s_defs) / sizeof(s_defs[0]))

static struct mg_tool s_tools[S_N];
static struct mg_tool_catalog s_cat;

static int s_setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < S_N; i++) {
        s_tools[i].full_name = s_defs[i].name;
        s_tools[i].full_name_len = strlen(s_defs[i].name);
        s_tools[i].description = s_defs[i].desc;
        s_tools[i].input_schema_json = mg_slice_make(s_defs[i].schema, strlen(s_defs[i].schema));
    }
    s_cat.tools = s_tools;
    s_cat.n_tools = S_N;
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    return 0;
}

static void test_mcp_search_ranks(void **state)
{
    (void)state;
    size_t out[10];
    size_t n = mg_mcp_search(&s_cat, "What's the weather in Paris?", out, 10);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 0); /* "weather" in the name (split at the case change) and text */
    assert_int_equal(out[1], 1);
    n = mg_mcp_search(&s_cat, "stock TICKER", out, 10);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 2);
    n = mg_mcp_search(&s_cat, "email subject", out, 10);
    assert_true(n >= 1);
    assert_int_equal(out[0], 3);
    /* a property name alone finds a tool */
    n = mg_mcp_search(&s_cat, "days", out, 10);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 1);
    /* rarer terms weigh more: "messages inbox" prefers list_inbox over send_email */
    n = mg_mcp_search(&s_cat, "message inbox", out, 10);
    assert_int_equal(out[0], 4);
}

static void test_mcp_search_edges(void **state)
{
    (void)state;
    size_t out[2];
    assert_int_equal(mg_mcp_search(&s_cat, "", out, 2), 0);
    assert_int_equal(mg_mcp_search(&s_cat, "!!! ???", out, 2), 0);
    assert_int_equal(mg_mcp_search(&s_cat, "zebra", out, 2), 0);
    assert_int_equal(mg_mcp_search(&s_cat, "city weather forecast price email inbox", out, 2), 2);
    struct mg_tool_catalog empty = {0};
    assert_int_equal(mg_mcp_search(&empty, "weather", out, 2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mcp_search_ranks, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_mcp_search_edges, s_setup, s_teardown),
    };
    return MG_RUN_TESTS(tests);
}
