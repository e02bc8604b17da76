// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Runs a libFuzzer target over files without libFuzzer: the corpus and every
 * crash ever found are replayed by `meson test --suite unit` with gcc, and
 * tests/fuzz/run.sh does the actual fuzzing with clang.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return perror(path), 1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return 1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int files = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *de;

		if (stat(argv[i], &st))
			return perror(argv[i]), 1;
		if (!S_ISDIR(st.st_mode)) {
			files++;
			if (run_file(argv[i]))
				return 1;
			continue;
		}
		d = opendir(argv[i]);
		while (d && (de = readdir(d))) {
			char p[4096];

			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", argv[i], de->d_name);
			files++;
			if (run_file(p))
				return 1;
		}
		if (d)
			closedir(d);
	}
	printf("%d inputs replayed\n", files);
	return 0;
}
