#include "table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *s, size_t n) {
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

void table_init(struct table *t) {
	t->cap = 64;
	t->len = 0;
	t->slots = calloc(t->cap, sizeof *t->slots);
	if (!t->slots)
		abort();
}

static void grow(struct table *t) {
	struct table bigger = {calloc(t->cap * 2, sizeof *t->slots), t->cap * 2, t->len};
	if (!bigger.slots)
		abort();
	for (size_t i = 0; i < t->cap; i++) {
		struct entry e = t->slots[i];
		if (!e.word)
			continue;
		size_t j = hash(e.word, strlen(e.word)) & (bigger.cap - 1);
		while (bigger.slots[j].word)
			j = (j + 1) & (bigger.cap - 1);
		bigger.slots[j] = e;
	}
	free(t->slots);
	*t = bigger;
}

void table_add(struct table *t, const char *word, size_t n) {
	if (4 * (t->len + 1) > 3 * t->cap)
		grow(t);
	size_t j = hash(word, n) & (t->cap - 1);
	for (;;) {
		struct entry *e = &t->slots[j];
		if (!e->word) {
			e->word = malloc(n + 1);
			if (!e->word)
				abort();
			memcpy(e->word, word, n);
			e->word[n] = 0;
			e->count = 1;
			t->len++;
			return;
		}
		if (strncmp(e->word, word, n) == 0 && e->word[n] == 0) {
			e->count++;
			return;
		}
		j = (j + 1) & (t->cap - 1);
	}
}

static int by_count(const void *a, const void *b) {
	const struct entry *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->word, y->word);
}

struct entry *table_sorted(const struct table *t) {
	struct entry *out = malloc((t->len + 1) * sizeof *out);
	if (!out)
		abort();
	size_t k = 0;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].word)
			out[k++] = t->slots[i];
	qsort(out, k, sizeof *out, by_count);
	return out;
}

void table_free(struct table *t) {
	for (size_t i = 0; i < t->cap; i++)
		free(t->slots[i].word);
	free(t->slots);
}
