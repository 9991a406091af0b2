#include <stdio.h>

#include "examples/custom/license_text.h"
#include "examples/custom/motd.h"

int main(void) {
  fputs(motd(), stdout);
  fputs(license(), stdout);
  return 0;
}
