/*
 * tests/fuzz/fuzz_config.c - libFuzzer target for the configuration
 * snapshot (edge/config: the file parser, the command line, every value
 * type, the checks across keys). The input is a config file, then
 * optionally the marker NUL "--" NUL and a command line, its arguments
 * split at NUL bytes (at most ARGS_MAX). The file is written to a memfd
 * and named by --config=/proc/self/fd/N; -c and --config of the fuzzed
 * command line are left out, so no other file is ever read. A snapshot
 * that loads must equal itself key by key (edge_config_key_equal, as a
 * reload compares) and is freed; one that does not load must say why and
 * leave nothing behind. Leaks are LeakSanitizer's. Seeds:
 * tests/fuzz/corpus/config.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "edge/config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                             \
	do {                                                                   \
		if (!(c))                                                      \
			__builtin_trap();                                      \
	} while (0)

#define ARGS_MAX 32
#define MARKER   "\0--\0"

static int memfd = -1;

/* -c FILE and --config[=FILE] would read another file than ours. */
static bool reads_a_file(const char *a)
{
	return strcmp(a, "-c") == 0 || strncmp(a, "--config", 8) == 0;
}

static bool write_file(const uint8_t *p, size_t n)
{
	if (memfd < 0 && (memfd = memfd_create("fuzz_config", 0)) < 0)
		return false;
	return ftruncate(memfd, 0) == 0 &&
	       (n == 0 || pwrite(memfd, p, n, 0) == (ssize_t)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[ARGS_MAX + 3], path[64];
	const uint8_t *m = memmem(data, size, MARKER, 4);
	size_t flen = m ? (size_t)(m - data) : size;
	struct edge_config cfg;
	struct edge_config_err err;
	int argc = 0;

	if (!write_file(data, flen))
		return 0;
	char *args = m ? malloc(size - flen - 4 + 1) : NULL;
	argv[argc++] = "avedge";
	if (args) {
		memcpy(args, m + 4, size - flen - 4);
		args[size - flen - 4] = '\0';
		for (char *a = args, *end = args + (size - flen - 4);
		     a <= end && argc < ARGS_MAX + 1; a += strlen(a) + 1)
			if (!reads_a_file(a))
				argv[argc++] = a;
	}
	snprintf(path, sizeof(path), "--config=/proc/self/fd/%d", memfd);
	argv[argc++] = path;
	argv[argc] = NULL;
	if (edge_config_load(&cfg, argc, argv, &err) == 0) {
		for (size_t i = 0; i < edge_config_nkeys; i++)
			REQUIRE(edge_config_key_equal(&edge_config_keys[i],
			                              &cfg, &cfg));
		edge_config_free(&cfg);
	} else {
		REQUIRE(err.msg[0] != '\0');
	}
	free(args);
	return 0;
}
