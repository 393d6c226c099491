/*
 * tests/unit/test_cluster_json.c - the one JSON writer and reader
 * (cluster/json.c): escapes byte for byte (control bytes, DEL, quotes,
 * HTML characters, invalid and overlong UTF-8), literals cut short in a
 * fixed buffer, and a table of hostile inputs for the reader.
 */
#include "cluster/cluster.h"
#include "tests/unit/check_main.h"

#include <errno.h>
#include <string.h>

struct quote_row {
	const char *name, *in;
	unsigned flags;
	const char *want;
};

static const struct quote_row quote_rows[] = {
        {"plain", "alice", 0, "\"alice\""},
        {"empty", "", 0, "\"\""},
        {"quote_backslash", "a\"b\\c", 0, "\"a\\\"b\\\\c\""},
        {"control", "a\nb\x01", 0, "\"a\\u000ab\\u0001\""},
        {"del", "a\x7f", 0, "\"a\\u007f\""},
        {"html_kept", "<a&b>", 0, "\"<a&b>\""},
        {"html_escaped", "<a&b>", CLUSTER_JSON_HTML,
         "\"\\u003ca\\u0026b\\u003e\""},
        {"utf8_2", "caf\xc3\xa9", 0, "\"caf\xc3\xa9\""},
        {"utf8_4", "\xf0\x9f\x98\x80", 0, "\"\xf0\x9f\x98\x80\""},
        {"bad_lead", "\xff", 0, "\"\\ufffd\""},
        {"overlong", "\xc0\xaf", 0, "\"\\ufffd\\ufffd\""},
        {"surrogate", "\xed\xa0\x80", 0, "\"\\ufffd\\ufffd\\ufffd\""},
        {"truncated", "a\xe2\x82", 0, "\"a\\ufffd\\ufffd\""},
        {"above_max", "\xf4\x90\x80\x80", 0,
         "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
        {"slash_raw", "a/b", 0, "\"a/b\""},
};

START_TEST(test_cluster_json_quote_table)
{
	const struct quote_row *r = &quote_rows[_i];
	struct cluster_buf b;

	cluster_buf_init(&b);
	ck_assert_msg(cluster_json_quote(&b, r->in, r->flags), "%s", r->name);
	ck_assert_msg(strcmp(b.p, r->want) == 0, "%s: got %s", r->name, b.p);
	ck_assert(!b.full);
	cluster_buf_free(&b);
}
END_TEST

START_TEST(test_cluster_json_quote_null_is_null)
{
	struct cluster_buf b;

	cluster_buf_init(&b);
	cluster_json_quote(&b, NULL, 0);
	ck_assert_str_eq(b.p, "null");
	cluster_buf_free(&b);
}
END_TEST

START_TEST(test_cluster_json_quote_fixed_closes_literal)
{
	char out[10];
	struct cluster_buf b;

	cluster_buf_fixed(&b, out, sizeof(out));
	ck_assert(!cluster_json_quote(&b, "abc\x01xyz", 0));
	ck_assert_str_eq(out, "\"abc\"");
	ck_assert(b.full);

	cluster_buf_fixed(&b, out, sizeof(out));
	ck_assert(cluster_json_quote(&b, "abcdefg", 0));
	ck_assert_str_eq(out, "\"abcdefg\"");

	cluster_buf_fixed(&b, out, 2);
	ck_assert(!cluster_json_quote(&b, "a", 0));
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_cluster_json_buf_printf_grows)
{
	struct cluster_buf b;

	cluster_buf_init(&b);
	for (int i = 0; i < 1000; i++)
		ck_assert(cluster_buf_printf(&b, "%d,", i % 10));
	ck_assert_uint_eq(b.n, 2000);
	ck_assert_uint_eq(strlen(b.p), 2000);
	cluster_buf_free(&b);
}
END_TEST

START_TEST(test_cluster_json_parse_tree)
{
	static const char text[] =
	        " {\"a\":[1,-2.5e1,true,false,null],\"s\":\"x\\u00e9\\ud83d"
	        "\\ude00\\n\",\"o\":{},\"e\":[]} ";
	struct cluster_json *v;
	const struct cluster_json *a;

	ck_assert_int_eq(cluster_json_parse(text, strlen(text), &v), 0);
	ck_assert_int_eq(v->type, CLUSTER_JOBJ);
	ck_assert_uint_eq(v->n, 4);
	a = cluster_json_get(v, "a");
	ck_assert_int_eq(a->type, CLUSTER_JARR);
	ck_assert_uint_eq(a->n, 5);
	ck_assert(cluster_json_number(&a->items[1], 0) == -25.0);
	ck_assert_str_eq(a->items[1].s, "-2.5e1");
	ck_assert(a->items[2].b && !a->items[3].b);
	ck_assert_int_eq(a->items[4].type, CLUSTER_JNULL);
	ck_assert_str_eq(cluster_json_string(cluster_json_get(v, "s")),
	                 "x\xc3\xa9\xf0\x9f\x98\x80\n");
	ck_assert_uint_eq(cluster_json_get(v, "o")->n, 0);
	ck_assert_ptr_null(cluster_json_get(v, "missing"));
	ck_assert_ptr_null(cluster_json_string(a));
	ck_assert(cluster_json_number(a, 7) == 7);
	cluster_json_free(v);
}
END_TEST

START_TEST(test_cluster_json_parse_nul_escape_keeps_length)
{
	static const char text[] = "\"a\\u0000b\"";
	struct cluster_json *v;

	ck_assert_int_eq(cluster_json_parse(text, strlen(text), &v), 0);
	ck_assert_uint_eq(v->len, 3);
	ck_assert_uint_eq(strlen(v->s), 1);
	cluster_json_free_wipe(v);
}
END_TEST

struct bad_row {
	const char *name, *text;
	size_t len; /* 0: strlen */
};

static const struct bad_row bad_rows[] = {
        {"empty", "", 0},
        {"space", "  ", 0},
        {"open_object", "{", 0},
        {"open_array", "[1,", 0},
        {"trailing", "{} x", 0},
        {"two_values", "1 2", 0},
        {"bare_word", "tru", 0},
        {"key_not_string", "{1:2}", 0},
        {"no_colon", "{\"a\" 1}", 0},
        {"trailing_comma", "[1,]", 0},
        {"open_string", "\"abc", 0},
        {"raw_control", "\"a\nb\"", 0},
        {"bad_escape", "\"\\q\"", 0},
        {"short_unicode", "\"\\u12\"", 0},
        {"bad_hex", "\"\\u12g4\"", 0},
        {"escape_at_end", "\"\\", 0},
        {"number_garbage", "1.2.3", 0},
        {"number_nul", "1\0", 2},
        {"lone_minus", "-", 0},
        {"deep",
         "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
         "[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
         "]]]]]]]]]]]]]]]]",
         0},
};

START_TEST(test_cluster_json_parse_refuses)
{
	const struct bad_row *r = &bad_rows[_i];
	size_t len = r->len ? r->len : strlen(r->text);
	struct cluster_json *v = (void *)1;

	ck_assert_msg(cluster_json_parse(r->text, len, &v) == EBADMSG, "%s",
	              r->name);
	ck_assert_ptr_null(v);
}
END_TEST

START_TEST(test_cluster_json_parse_depth_64_ok)
{
	char text[130];
	struct cluster_json *v;

	memset(text, '[', 64);
	memset(text + 64, ']', 64);
	ck_assert_int_eq(cluster_json_parse(text, 128, &v), 0);
	cluster_json_free(v);
	text[63] = '[';
	memset(text, '[', 65);
	memset(text + 65, ']', 65);
	ck_assert_int_eq(cluster_json_parse(text, 130, &v), EBADMSG);
}
END_TEST

START_TEST(test_cluster_json_round_trip_hostile)
{
	/* every byte value once, through the writer and back */
	char in[256], *back;
	struct cluster_buf b;
	struct cluster_json *v;

	for (int i = 1; i < 128; i++)
		in[i - 1] = (char)i;
	in[127] = 0;
	cluster_buf_init(&b);
	cluster_json_quote(&b, in, CLUSTER_JSON_HTML);
	ck_assert_int_eq(cluster_json_parse(b.p, b.n, &v), 0);
	back = v->s;
	ck_assert_str_eq(back, in);
	cluster_json_free(v);
	cluster_buf_free(&b);
}
END_TEST

static Suite *cluster_json_suite(void)
{
	Suite *s = suite_create("cluster_json");
	TCase *tc = tcase_create("writer");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_cluster_json_quote_table, 0,
	                    sizeof(quote_rows) / sizeof(quote_rows[0]));
	tcase_add_test(tc, test_cluster_json_quote_null_is_null);
	tcase_add_test(tc, test_cluster_json_quote_fixed_closes_literal);
	tcase_add_test(tc, test_cluster_json_buf_printf_grows);
	suite_add_tcase(s, tc);

	tc = tcase_create("reader");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_cluster_json_parse_tree);
	tcase_add_test(tc, test_cluster_json_parse_nul_escape_keeps_length);
	tcase_add_loop_test(tc, test_cluster_json_parse_refuses, 0,
	                    sizeof(bad_rows) / sizeof(bad_rows[0]));
	tcase_add_test(tc, test_cluster_json_parse_depth_64_ok);
	tcase_add_test(tc, test_cluster_json_round_trip_hostile);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cluster_json_suite)
