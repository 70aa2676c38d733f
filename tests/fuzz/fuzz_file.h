/*
 * fuzz_file.h - for fuzz targets whose parser reads a file (configuration,
 * address maps): each input is written to one temporary file per process,
 * /tmp/fuzz_NAME.PID, removed at exit.  Header-only, one per target.
 */
#ifndef CUTOVER_FUZZ_FILE_H
#define CUTOVER_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char fuzz_file_path[64];

static void
fuzz_file_remove(void)
{
	unlink(fuzz_file_path);
}

/* From LLVMFuzzerInitialize(). */
static void
fuzz_file_init(const char *name)
{
	int n = snprintf(fuzz_file_path, sizeof fuzz_file_path,
	    "/tmp/fuzz_%s.%ld", name, (long)getpid());

	if (n <= 0 || (size_t)n >= sizeof fuzz_file_path)
		abort();
	atexit(fuzz_file_remove);
}

/* The input as the file's whole content; its path. */
static const char *
fuzz_file_write(const uint8_t *data, size_t size)
{
	FILE *f = fopen(fuzz_file_path, "wb");

	if (f == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();
	return fuzz_file_path;
}

#endif
