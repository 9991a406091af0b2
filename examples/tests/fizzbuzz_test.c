#include <stdio.h>
#include <string.h>
#include "fizzbuzz.h"

int main(void) {
  const char *want[] = {"1", "2", "Fizz", "4", "Buzz", "Fizz", "7", "8", "Fizz", "Buzz", "11", "Fizz", "13", "14", "FizzBuzz"};
  int failed = 0;
  for (int n = 1; n <= 15; n++) {
    char got[16];
    fizzbuzz(n, got, sizeof got);
    if (strcmp(got, want[n - 1]) != 0) {
      printf("fizzbuzz(%d) = %s, want %s\n", n, got, want[n - 1]);
      failed = 1;
    }
  }
  return failed;
}
