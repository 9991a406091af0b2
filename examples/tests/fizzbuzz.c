#include <stdio.h>
#include "fizzbuzz.h"

void fizzbuzz(int n, char *buf, int size) {
  if (n % 15 == 0) snprintf(buf, size, "FizzBuzz");
  else if (n % 3 == 0) snprintf(buf, size, "Fizz");
  else if (n % 5 == 0) snprintf(buf, size, "Buzz");
  else snprintf(buf, size, "%d", n);
}
