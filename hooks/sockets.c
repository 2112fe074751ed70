/* sockets: hooks on the libc calls that move bytes over a TCP socket, for
 * plain-HTTP traffic to local model servers (Ollama, vLLM, llama.cpp, LM
 * Studio, ...) and to AUTOTRACE_HOSTS entries.
 *
 * connect() decides whether a socket is watched (its peer's port: see
 * hooks/conn.c). Every other call runs the real function first, then, only
 * when its fd is in the watched table, hands over the bytes actually moved
 * (the return value). On any other fd — files, pipes, other sockets — a
 * hook costs two loads and a branch, then jumps to the real call (a tail
 * call: nothing of ours stays on the stack). The watched table is looked
 * at before the call: a slot only changes in connect() and close() of
 * that same fd, never during a read or write on it. Inside libcurl
 * (at_curl_depth) and inside our TLS hooks (at_io_depth: the TLS library's
 * own socket I/O, ciphertext) nothing is captured. errno is as the real
 * call left it. The _FORTIFY_SOURCE entry points (__read_chk, ...) are
 * hooked too: a fortified program calls them instead. */
#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conn.h"
#include "preload/runtime.h"
#include "preload/symbols.h"

/* glibc's fortified entry points (declared only under _FORTIFY_SOURCE). */
ssize_t __read_chk(int, void *, size_t, size_t);
ssize_t __recv_chk(int, void *, size_t, size_t, int);
ssize_t __recvfrom_chk(int, void *, size_t, size_t, int, struct sockaddr *,
                       socklen_t *);

static struct {
  void *connect, *close, *read, *readv, *write, *writev, *send, *sendto,
      *sendmsg, *recv, *recvfrom, *recvmsg, *read_chk, *recv_chk, *recvfrom_chk;
} real;

#define REAL(field, name, type) ((type)at_resolve(&real.field, name, NULL))

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*close_fn)(int);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*iov_fn)(int, const struct iovec *, int);
typedef ssize_t (*send_fn)(int, const void *, size_t, int);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int,
                             const struct sockaddr *, socklen_t);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);
typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef ssize_t (*recvfrom_fn)(int, void *, size_t, int, struct sockaddr *,
                               socklen_t *);
typedef ssize_t (*recvmsg_fn)(int, struct msghdr *, int);
typedef ssize_t (*read_chk_fn)(int, void *, size_t, size_t);
typedef ssize_t (*recv_chk_fn)(int, void *, size_t, size_t, int);
typedef ssize_t (*recvfrom_chk_fn)(int, void *, size_t, size_t, int,
                                   struct sockaddr *, socklen_t *);

#define NO_REAL()                                                              \
  do {                                                                         \
    errno = ENOSYS;                                                            \
    return -1;                                                                 \
  } while (0)

/* The slow path, only for a watched fd. */
static void __attribute__((noinline))
after_io(int fd, int dir, const struct iovec *iov, int cnt, ssize_t r) {
  if (at_io_depth || at_curl_depth)
    return;
  int saved = errno;
  if (r > 0)
    at_conn_fd_io(fd, dir, iov, cnt, (size_t)r);
  else if (r < 0 || dir == AT_REC_IN)
    at_conn_fd_result(fd, r, saved);
  errno = saved;
}

/* want: the length asked for (a read of 0 bytes returning 0 is no EOF). */
static inline void after_buf(int fd, int dir, const void *buf, size_t want,
                             ssize_t r) {
  if (__builtin_expect(at_conn_fd_watched(fd), 0) && (r != 0 || want)) {
    struct iovec v = {(void *)buf, r > 0 ? (size_t)r : 0};
    after_io(fd, dir, &v, 1, r);
  }
}

AT_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len) {
  connect_fn f = REAL(connect, "connect", connect_fn);
  if (!f)
    NO_REAL();
  int r = f(fd, sa, len);
  if (r == 0 || errno == EINPROGRESS) {
    int saved = errno;
    if (at_curl_depth == 0 && at_io_depth == 0)
      at_conn_fd_connected(fd, sa, len);
    errno = saved;
  }
  return r;
}

AT_EXPORT int close(int fd) {
  close_fn f = REAL(close, "close", close_fn);
  if (!f)
    NO_REAL();
  if (__builtin_expect(at_conn_fd_watched(fd), 0)) {
    int saved = errno;
    at_conn_fd_closing(fd);
    errno = saved;
  }
  return f(fd);
}

/* Each data hook: the fast path (the real function known, the fd not
 * watched) is a few loads and compares and a jump to the real function;
 * everything else — resolving the real function on the first call, the
 * watched fds — is in a separate function, so that the fast path saves
 * no register. */
#define FAST(real_expr, call)                                                  \
  do {                                                                         \
    if (__builtin_expect((real_expr) != NULL && !at_conn_fd_watched(fd), 1))   \
      return call;                                                             \
  } while (0)

static __attribute__((noinline)) ssize_t buf_slow(ssize_t r, int fd, int dir,
                                                  const void *buf, size_t n) {
  after_buf(fd, dir, buf, n, r);
  return r;
}

static __attribute__((noinline)) ssize_t
iov_slow(ssize_t r, int fd, int dir, const struct iovec *iov, int cnt) {
  if (at_conn_fd_watched(fd))
    after_io(fd, dir, iov, cnt, r);
  return r;
}

static __attribute__((noinline)) ssize_t no_real(void) {
  errno = ENOSYS;
  return -1;
}

static __attribute__((noinline)) ssize_t read_watched(int fd, void *buf,
                                                      size_t n) {
  read_fn f = REAL(read, "read", read_fn);
  return f ? buf_slow(f(fd, buf, n), fd, AT_REC_IN, buf, n) : no_real();
}

AT_EXPORT ssize_t read(int fd, void *buf, size_t n) {
  read_fn f = (read_fn)__atomic_load_n(&real.read, __ATOMIC_RELAXED);
  FAST(f, f(fd, buf, n));
  return read_watched(fd, buf, n);
}

static __attribute__((noinline)) ssize_t
__read_chk_watched(int fd, void *buf, size_t n, size_t buflen) {
  read_chk_fn f = REAL(read_chk, "__read_chk", read_chk_fn);
  return f ? buf_slow(f(fd, buf, n, buflen), fd, AT_REC_IN, buf, n) : no_real();
}

AT_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen) {
  read_chk_fn f =
      (read_chk_fn)__atomic_load_n(&real.read_chk, __ATOMIC_RELAXED);
  FAST(f, f(fd, buf, n, buflen));
  return __read_chk_watched(fd, buf, n, buflen);
}

static __attribute__((noinline)) ssize_t write_watched(int fd, const void *buf,
                                                       size_t n) {
  write_fn f = REAL(write, "write", write_fn);
  return f ? buf_slow(f(fd, buf, n), fd, AT_REC_OUT, buf, n) : no_real();
}

AT_EXPORT ssize_t write(int fd, const void *buf, size_t n) {
  write_fn f = (write_fn)__atomic_load_n(&real.write, __ATOMIC_RELAXED);
  FAST(f, f(fd, buf, n));
  return write_watched(fd, buf, n);
}

static __attribute__((noinline)) ssize_t
readv_watched(int fd, const struct iovec *iov, int cnt) {
  iov_fn f = REAL(readv, "readv", iov_fn);
  return f ? iov_slow(f(fd, iov, cnt), fd, AT_REC_IN, iov, cnt) : no_real();
}

AT_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt) {
  iov_fn f = (iov_fn)__atomic_load_n(&real.readv, __ATOMIC_RELAXED);
  FAST(f, f(fd, iov, cnt));
  return readv_watched(fd, iov, cnt);
}

static __attribute__((noinline)) ssize_t
writev_watched(int fd, const struct iovec *iov, int cnt) {
  iov_fn f = REAL(writev, "writev", iov_fn);
  return f ? iov_slow(f(fd, iov, cnt), fd, AT_REC_OUT, iov, cnt) : no_real();
}

AT_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  iov_fn f = (iov_fn)__atomic_load_n(&real.writev, __ATOMIC_RELAXED);
  FAST(f, f(fd, iov, cnt));
  return writev_watched(fd, iov, cnt);
}

static __attribute__((noinline)) ssize_t send_watched(int fd, const void *buf,
                                                      size_t n, int flags) {
  send_fn f = REAL(send, "send", send_fn);
  return f ? buf_slow(f(fd, buf, n, flags), fd, AT_REC_OUT, buf, n) : no_real();
}

AT_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags) {
  send_fn f = (send_fn)__atomic_load_n(&real.send, __ATOMIC_RELAXED);
  FAST(f, f(fd, buf, n, flags));
  return send_watched(fd, buf, n, flags);
}

static __attribute__((noinline)) ssize_t
sendto_watched(int fd, const void *buf, size_t n, int flags,
               const struct sockaddr *sa, socklen_t len) {
  sendto_fn f = REAL(sendto, "sendto", sendto_fn);
  return f ? buf_slow(f(fd, buf, n, flags, sa, len), fd, AT_REC_OUT, buf, n)
           : no_real();
}

AT_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
                         const struct sockaddr *sa, socklen_t len) {
  sendto_fn f = (sendto_fn)__atomic_load_n(&real.sendto, __ATOMIC_RELAXED);
  FAST(f, f(fd, buf, n, flags, sa, len));
  return sendto_watched(fd, buf, n, flags, sa, len);
}

static __attribute__((noinline)) ssize_t
sendmsg_watched(int fd, const struct msghdr *msg, int flags) {
  sendmsg_fn f = REAL(sendmsg, "sendmsg", sendmsg_fn);
  if (!f)
    return no_real();
  ssize_t r = f(fd, msg, flags);
  return msg ? iov_slow(r, fd, AT_REC_OUT, msg->msg_iov, (int)msg->msg_iovlen)
             : r;
}

AT_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  sendmsg_fn f = (sendmsg_fn)__atomic_load_n(&real.sendmsg, __ATOMIC_RELAXED);
  FAST(f, f(fd, msg, flags));
  return sendmsg_watched(fd, msg, flags);
}

/* MSG_PEEK leaves the bytes in the socket: the read that takes them
 * captures them. */
static __attribute__((noinline)) ssize_t recv_watched(int fd, void *buf,
                                                      size_t n, int flags) {
  recv_fn f = REAL(recv, "recv", recv_fn);
  if (!f)
    return no_real();
  ssize_t r = f(fd, buf, n, flags);
  return flags & MSG_PEEK ? r : buf_slow(r, fd, AT_REC_IN, buf, n);
}

AT_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags) {
  recv_fn f = (recv_fn)__atomic_load_n(&real.recv, __ATOMIC_RELAXED);
  FAST(f, f(fd, buf, n, flags));
  return recv_watched(fd, buf, n, flags);
}

static __attribute__((noinline)) ssize_t
__recv_chk_watched(int fd, void *buf, size_t n, size_t buflen, int flags) {
  recv_chk_fn f = REAL(recv_chk, "__recv_chk", recv_chk_fn);
  if (!f)
    return no_real();
  ssize_t r = f(fd, buf, n, buflen, flags);
  return flags & MSG_PEEK ? r : buf_slow(r, fd, AT_REC_IN, buf, n);
}

AT_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen,
                             int flags) {
  recv_chk_fn f =
      (recv_chk_fn)__atomic_load_n(&real.recv_chk, __ATOMIC_RELAXED);
  FAST(f, f(fd, buf, n, buflen, flags));
  return __recv_chk_watched(fd, buf, n, buflen, flags);
}

static __attribute__((noinline)) ssize_t recvfrom_watched(int fd, void *buf,
                                                          size_t n, int flags,
                                                          struct sockaddr *sa,
                                                          socklen_t *len) {
  recvfrom_fn f = REAL(recvfrom, "recvfrom", recvfrom_fn);
  if (!f)
    return no_real();
  ssize_t r = f(fd, buf, n, flags, sa, len);
  return flags & MSG_PEEK ? r : buf_slow(r, fd, AT_REC_IN, buf, n);
}

AT_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
                           struct sockaddr *sa, socklen_t *len) {
  recvfrom_fn f =
      (recvfrom_fn)__atomic_load_n(&real.recvfrom, __ATOMIC_RELAXED);
  FAST(f, f(fd, buf, n, flags, sa, len));
  return recvfrom_watched(fd, buf, n, flags, sa, len);
}

static __attribute__((noinline)) ssize_t
__recvfrom_chk_watched(int fd, void *buf, size_t n, size_t buflen, int flags,
                       struct sockaddr *sa, socklen_t *len) {
  recvfrom_chk_fn f = REAL(recvfrom_chk, "__recvfrom_chk", recvfrom_chk_fn);
  if (!f)
    return no_real();
  ssize_t r = f(fd, buf, n, buflen, flags, sa, len);
  return flags & MSG_PEEK ? r : buf_slow(r, fd, AT_REC_IN, buf, n);
}

AT_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen,
                                 int flags, struct sockaddr *sa,
                                 socklen_t *len) {
  recvfrom_chk_fn f =
      (recvfrom_chk_fn)__atomic_load_n(&real.recvfrom_chk, __ATOMIC_RELAXED);
  FAST(f, f(fd, buf, n, buflen, flags, sa, len));
  return __recvfrom_chk_watched(fd, buf, n, buflen, flags, sa, len);
}

static __attribute__((noinline)) ssize_t
recvmsg_watched(int fd, struct msghdr *msg, int flags) {
  recvmsg_fn f = REAL(recvmsg, "recvmsg", recvmsg_fn);
  if (!f)
    return no_real();
  ssize_t r = f(fd, msg, flags);
  return msg && !(flags & MSG_PEEK)
             ? iov_slow(r, fd, AT_REC_IN, msg->msg_iov, (int)msg->msg_iovlen)
             : r;
}

AT_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  recvmsg_fn f = (recvmsg_fn)__atomic_load_n(&real.recvmsg, __ATOMIC_RELAXED);
  FAST(f, f(fd, msg, flags));
  return recvmsg_watched(fd, msg, flags);
}
