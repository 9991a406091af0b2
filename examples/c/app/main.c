#include <stdio.h>

#include "greet/greet.h"

extern const char *app_version;

int main(int argc, char **argv) {
  char buf[128];
  greet(buf, sizeof buf, argc > 1 ? argv[1] : "world");
  printf("%s (app %s)\n", buf, app_version);
  return 0;
}
