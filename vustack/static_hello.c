/* Prints "static hello" and its arguments: a statically linked program,
 * for the tests of vustack's warning. */
#include <stdio.h>

int main(int argc, char** argv) {
  printf("static hello");
  for (int i = 1; i < argc; ++i) printf(" %s", argv[i]);
  printf("\n");
  return 0;
}
