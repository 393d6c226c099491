/*
 * tests/unit/test_edge_config_bw.c - the bandwidth keys of the
 * configuration (edge/config/config_bw.c): values as parsed, and bad
 * input as a table of files whose error must name the file, the line at
 * fault, the key and what was expected.
 */
#include "check_main.h"
#include "edge/config/config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char dir[PATH_MAX];
static char conf[PATH_MAX + 16];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "%s/avedge-config-bw-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/edge.conf", dir);
}

static void teardown(void)
{
	unlink(conf);
	rmdir(dir);
}

static void write_conf(const char *text)
{
	FILE *f = fopen(conf, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static int load_conf(struct edge_config *c, struct edge_config_err *err)
{
	char *argv[] = {"avedge", "-c", conf, NULL};

	return edge_config_load(c, 3, argv, err);
}

START_TEST(test_config_bw_values)
{
	struct edge_config c;
	struct edge_config_err err;

	write_conf("realm = example.org\n"
	           "bandwidth-class = viewer:375000\n"
	           "bandwidth-class = mcu:12500000:25000000:34\n"
	           "bandwidth-class = guest:125000::10\n"
	           "default-bandwidth-class = guest\n"
	           "realm-bandwidth-class = example.org:viewer\n"
	           "user-bandwidth-class = mcu@example.org:mcu\n");
	ck_assert_msg(load_conf(&c, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(c.bw_classes.n, 3);
	ck_assert_str_eq(c.bw_classes.v[0].cls, "viewer");
	ck_assert_uint_eq(c.bw_classes.v[0].rate_bps, 375000);
	ck_assert_uint_eq(c.bw_classes.v[0].burst_bytes, 0);
	ck_assert_int_eq(c.bw_classes.v[0].dscp, -1);
	ck_assert_uint_eq(c.bw_classes.v[1].burst_bytes, 25000000);
	ck_assert_int_eq(c.bw_classes.v[1].dscp, 34);
	ck_assert_uint_eq(c.bw_classes.v[2].burst_bytes, 0);
	ck_assert_int_eq(c.bw_classes.v[2].dscp, 10);
	ck_assert_uint_eq(c.bw_classes.v[2].line, 4);
	ck_assert_str_eq(c.default_bw_class, "guest");
	ck_assert_str_eq(c.bw_realms.v[0].key, "example.org");
	ck_assert_str_eq(c.bw_realms.v[0].cls, "viewer");
	ck_assert_str_eq(c.bw_users.v[0].key, "mcu@example.org");
	ck_assert_uint_eq(c.bw_users.v[0].line, 7);
	ck_assert_uint_eq(c.bps_capacity, 0); /* the defaults */
	ck_assert_uint_eq(c.unlimited_reservation, 125000);
	edge_config_free(&c);
	write_conf("bps-capacity = 125000000\n"
	           "unlimited-class-reservation = 62500\n");
	ck_assert_msg(load_conf(&c, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(c.bps_capacity, 125000000);
	ck_assert_uint_eq(c.unlimited_reservation, 62500);
	edge_config_free(&c);
}
END_TEST

/* The row's lines go at lines 2..; the error must name line `line`. */
static const struct {
	const char *text;
	unsigned line;
	const char *key, *expect;
} bad_rows[] = {
        {"bandwidth-class = v", 2, "bandwidth-class", "two to four fields"},
        {"bandwidth-class = v:0", 2, "bandwidth-class", "BYTES_PER_S"},
        {"bandwidth-class = v:1e6", 2, "bandwidth-class", "BYTES_PER_S"},
        {"bandwidth-class = v:-5", 2, "bandwidth-class", "BYTES_PER_S"},
        {"bandwidth-class = v:1099511627777", 2, "bandwidth-class",
         "BYTES_PER_S"},
        {"bandwidth-class = v:1000:0", 2, "bandwidth-class", "BURST_BYTES"},
        {"bandwidth-class = v:1000:x", 2, "bandwidth-class", "BURST_BYTES"},
        {"bandwidth-class = v:1000:2000:64", 2, "bandwidth-class", "DSCP"},
        {"bandwidth-class = v:1000:2000:", 2, "bandwidth-class", "DSCP"},
        {"bandwidth-class = v:1:2:3:4", 2, "bandwidth-class",
         "two to four fields"},
        {"bandwidth-class = a b:1000", 2, "bandwidth-class", "NAME"},
        {"bandwidth-class = max-bps:1000", 2, "bandwidth-class", "not max-bps"},
        {"bandwidth-class = :1000", 2, "bandwidth-class", "NAME"},
        {"bandwidth-class = v:1000\nbandwidth-class = v:2000", 3,
         "bandwidth-class", "class 'v' is defined already (line 2)"},
        {"bandwidth-class = v:1000\nuser-bandwidth-class = u:v\n"
         "user-bandwidth-class = u:v",
         4, "user-bandwidth-class", "'u' is mapped already (line 3)"},
        {"bandwidth-class = v:1000\nrealm-bandwidth-class = after:v\n"
         "realm-bandwidth-class = after:v",
         4, "realm-bandwidth-class", "'after' is mapped already"},
        {"user-bandwidth-class = alice", 2, "user-bandwidth-class",
         "USER:NAME"},
        {"user-bandwidth-class = alice:", 2, "user-bandwidth-class",
         "class NAME"},
        {"realm-bandwidth-class = a@b:v", 2, "realm-bandwidth-class",
         "without blanks, ':' or '@'"},
        {"bandwidth-class = v:1000\nuser-bandwidth-class = alice:v\n"
         "user-bandwidth-class = bob:w",
         4, "user-bandwidth-class", "class 'w' is not defined"},
        {"realm-bandwidth-class = after:nope\nbandwidth-class = v:1000", 2,
         "realm-bandwidth-class", "class 'nope' is not defined"},
        {"bandwidth-class = v:1000\nrealm-bandwidth-class = other.org:v", 3,
         "realm-bandwidth-class", "realm 'other.org' is neither realm"},
        {"bandwidth-class = v:1000\ndefault-bandwidth-class = w", 3,
         "default-bandwidth-class", "class 'w' is not defined"},
        {"default-bandwidth-class = a/b", 2, "default-bandwidth-class",
         "A-Z a-z 0-9"},
        {"bps-capacity = 10G", 2, "bps-capacity", ""},
        {"bps-capacity = -1", 2, "bps-capacity", ""},
        {"unlimited-class-reservation = 0", 2, "unlimited-class-reservation",
         ""},
};

START_TEST(test_config_bw_bad_names_file_line_key)
{
	struct edge_config c;
	struct edge_config_err err;
	char text[512], where[PATH_MAX + 64];

	snprintf(text, sizeof(text), "# line 1\n%s\nrealm = after\n",
	         bad_rows[_i].text);
	write_conf(text);
	ck_assert_int_ne(load_conf(&c, &err), 0);
	snprintf(where, sizeof(where), "%s:%u: key '%s': ", conf,
	         bad_rows[_i].line, bad_rows[_i].key);
	ck_assert_msg(strstr(err.msg, where), "row %d: '%s' lacks '%s'", _i,
	              err.msg, where);
	ck_assert_msg(strstr(err.msg, bad_rows[_i].expect),
	              "row %d: '%s' lacks '%s'", _i, err.msg,
	              bad_rows[_i].expect);
	edge_config_free(&c);
}
END_TEST

START_TEST(test_config_bw_command_line)
{
	struct edge_config c;
	struct edge_config_err err;
	char *argv[] = {"avedge", "--bandwidth-class", "v:1000",
	                "--user-bandwidth-class=alice:w", NULL};

	ck_assert_int_ne(edge_config_load(&c, 4, argv, &err), 0);
	ck_assert_msg(strstr(err.msg, "command line: option "
	                              "'--user-bandwidth-class'"),
	              "%s", err.msg);
	edge_config_free(&c);
	argv[3] = "--user-bandwidth-class=alice:v";
	ck_assert_int_eq(edge_config_load(&c, 4, argv, &err), 0);
	ck_assert_uint_eq(c.bw_users.n, 1);
	ck_assert_uint_eq(c.bw_users.v[0].line, 0);
	edge_config_free(&c);
}
END_TEST

static Suite *edge_config_bw_suite(void)
{
	Suite *s = suite_create("edge_config_bw");
	TCase *tc = tcase_create("bandwidth");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_config_bw_values);
	tcase_add_loop_test(tc, test_config_bw_bad_names_file_line_key, 0,
	                    sizeof(bad_rows) / sizeof(bad_rows[0]));
	tcase_add_test(tc, test_config_bw_command_line);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(edge_config_bw_suite)
