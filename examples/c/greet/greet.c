#include <stdio.h>

#include "greet/config.h"
#include "greet/greet.h"

#ifndef GREET_API
#error "GREET_API should come from the unit's defines"
#endif

int greet(char *buf, int size, const char *name) {
  return snprintf(buf, size, "%s, %s!", GREETING, name);
}
