#ifndef FIZZBUZZ_H
#define FIZZBUZZ_H
/* fizzbuzz writes what n says in the game into buf (size bytes). */
void fizzbuzz(int n, char *buf, int size);
#endif
