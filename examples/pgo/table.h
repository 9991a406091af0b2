/* A hash table of words and their counts. */
#ifndef TABLE_H
#define TABLE_H

#include <stddef.h>

struct entry {
	char *word;
	long count;
};

struct table {
	struct entry *slots;
	size_t cap, len;
};

void table_init(struct table *t);
/* table_add counts one occurrence of the n bytes at word. */
void table_add(struct table *t, const char *word, size_t n);
/* table_sorted returns the entries by count, most frequent first (ties by
 * word); the caller frees the array, not the words. */
struct entry *table_sorted(const struct table *t);
void table_free(struct table *t);

#endif
