/*
 * tests/unit/check_main.h - the main() every Check test executable shares.
 * Each test case sets its own timeout with tcase_set_timeout (sanitized
 * builds on a busy 2-core box are slow); CK_TIMEOUT_MULTIPLIER scales them.
 */
#ifndef AVEDGE_CHECK_MAIN_H
#define AVEDGE_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define AVEDGE_TEST_TIMEOUT_S 60

#define CHECK_MAIN(suite_fn)                                                   \
	int main(void)                                                         \
	{                                                                      \
		SRunner *sr = srunner_create(suite_fn());                      \
		srunner_run_all(sr, CK_NORMAL);                                \
		int failed = srunner_ntests_failed(sr);                        \
		srunner_free(sr);                                              \
		return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;              \
	}

#endif
