/* io_bench: the cost of a hooked read/write on fds the shim does not watch.
 *
 *   io_bench N
 *
 * N one-byte write()s to /dev/null, read()s from /dev/zero, and send()/
 * recv() pairs over an AF_UNIX socketpair (a socket never connect()ed to a
 * watched port); prints "op=... ns=..." per kind (CPU time per call).
 * bench/tls_bench.sh runs it with and without the shim, and under
 * callgrind to count instructions. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  int dn = open("/dev/null", O_WRONLY), dz = open("/dev/zero", O_RDONLY);
  int sv[2];
  if (dn < 0 || dz < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    perror("io_bench");
    return 1;
  }
  char c = 'x';
  double t0 = now();
  for (long i = 0; i < n; i++)
    if (write(dn, &c, 1) != 1)
      return 1;
  double t1 = now();
  for (long i = 0; i < n; i++)
    if (read(dz, &c, 1) != 1)
      return 1;
  double t2 = now();
  for (long i = 0; i < n; i++)
    if (send(sv[0], &c, 1, 0) != 1 || recv(sv[1], &c, 1, 0) != 1)
      return 1;
  double t3 = now();
  printf("op=write_devnull ns=%.2f\n", (t1 - t0) / n);
  printf("op=read_devzero ns=%.2f\n", (t2 - t1) / n);
  printf("op=send_recv_pair ns=%.2f\n", (t3 - t2) / n / 2);
  return 0;
}
