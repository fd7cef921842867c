// lwIP's compiler and platform glue for Linux with glibc (x86_64, arm64).
#ifndef STACKD_LWIP_PORT_ARCH_CC_H_
#define STACKD_LWIP_PORT_ARCH_CC_H_

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

#define LWIP_TIMEVAL_PRIVATE 0
#define LWIP_ERRNO_STDINCLUDE 1
#define LWIP_RAND() ((u32_t)stackd_lwip_rand())

#ifndef BYTE_ORDER
#define BYTE_ORDER __BYTE_ORDER
#endif

#define LWIP_PLATFORM_DIAG(x) \
  do {                        \
    printf x;                 \
  } while (0)

// An lwIP assertion is a bug in stackd or lwIP, never a peer's doing: stop
// with the location rather than run on with corrupted state.
#define LWIP_PLATFORM_ASSERT(x)                                         \
  do {                                                                  \
    fprintf(stderr, "stackd: lwIP assertion \"%s\" failed at %s:%d\n", \
            x, __FILE__, __LINE__);                                     \
    abort();                                                            \
  } while (0)

#endif  // STACKD_LWIP_PORT_ARCH_CC_H_
