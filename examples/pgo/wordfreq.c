/* wordfreq FILE [ROUNDS [TOP]]: counts the words of FILE (letters and
 * digits, lower-cased; each round reads it again, shifting every letter by
 * the round number so that rounds add new words), then prints the TOP
 * (default 5) most frequent words and a checksum of all counts. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "table.h"

static char *slurp(const char *path, size_t *n) {
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(1);
	}
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
		len += got;
		if (len == cap)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	if (!buf)
		abort();
	*n = len;
	return buf;
}

static void count(struct table *t, const char *text, size_t n, int round) {
	char word[64];
	size_t w = 0;
	for (size_t i = 0; i <= n; i++) {
		int c = i < n ? (unsigned char)text[i] : ' ';
		if (isalnum(c)) {
			if (w < sizeof word) {
				c = tolower(c);
				if (c >= 'a' && c <= 'z')
					c = 'a' + (c - 'a' + round % 3) % 26;
				word[w++] = (char)c;
			}
			continue;
		}
		if (w > 0)
			table_add(t, word, w);
		w = 0;
	}
}

int main(int argc, char **argv) {
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: wordfreq FILE [ROUNDS [TOP]]\n");
		return 2;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 1;
	int top = argc > 3 ? atoi(argv[3]) : 5;
	size_t n;
	char *text = slurp(argv[1], &n);
	struct table t;
	table_init(&t);
	for (int r = 0; r < rounds; r++)
		count(&t, text, n, r);
	struct entry *e = table_sorted(&t);
	unsigned long sum = 0;
	for (size_t i = 0; i < t.len; i++)
		sum = sum * 31 + (unsigned long)e[i].count;
	for (int i = 0; i < top && (size_t)i < t.len; i++)
		printf("%s %ld\n", e[i].word, e[i].count);
	printf("%zu distinct words, checksum %lu\n", t.len, sum);
	free(e);
	table_free(&t);
	free(text);
	return 0;
}
