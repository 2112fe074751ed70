/* openssl: hooks on libssl's record I/O — SSL_write(_ex), SSL_read(_ex),
 * SSL_peek(_ex), SSL_shutdown, SSL_free — for programs that talk TLS
 * through the system's OpenSSL without libcurl (Python, Ruby, PHP streams,
 * Perl, Node with a shared libssl).
 *
 * Each hook calls the real function of the libssl its caller was linked
 * with (preload/libfns.h), returns exactly its result with errno as it
 * left it, and afterwards hands the bytes the application actually wrote
 * or read (the return value, not the requested length) to hooks/conn.c.
 * SSL_peek does not consume: its bytes are captured by the SSL_read that
 * does. Works the same on socket and memory BIOs (asyncio, aiohttp): the
 * plaintext is what we see, the transport is the library's business.
 *
 * Not captured twice: inside libcurl (at_curl_depth, the curl path has the
 * transfer), and the socket hooks below us stay out while we run
 * (at_io_depth). No OpenSSL header is needed: the types are opaque. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "conn.h"
#include "preload/libfns.h"
#include "preload/runtime.h"

typedef struct ssl_st SSL;

enum {
  F_WRITE,
  F_WRITE_EX,
  F_READ,
  F_READ_EX,
  F_PEEK,
  F_PEEK_EX,
  F_SHUTDOWN,
  F_FREE,
  F_GET_SERVERNAME,
  F_GET_FD,
  F_IS_SERVER,
  F_GET0_ALPN,
  F_GET_ERROR,
};

static const char *const names[] = {
    "SSL_write",     "SSL_write_ex",  "SSL_read",
    "SSL_read_ex",   "SSL_peek",      "SSL_peek_ex",
    "SSL_shutdown",  "SSL_free",      "SSL_get_servername",
    "SSL_get_fd",    "SSL_is_server", "SSL_get0_alpn_selected",
    "SSL_get_error",
};

static struct at_libfns ossl = AT_LIBFNS_INIT;

/* The real functions for the calling object (a macro: the return address
 * must be the hook's own). */
#define REAL_FNS()                                                             \
  at_libfns_for(&ossl, names, sizeof names / sizeof names[0],                  \
                __builtin_return_address(0))

typedef int (*io_fn)(SSL *, void *, int);
typedef int (*io_ex_fn)(SSL *, void *, size_t, size_t *);
typedef int (*ssl_int_fn)(SSL *);
typedef void (*ssl_void_fn)(SSL *);
typedef const char *(*servername_fn)(const SSL *, int);
typedef void (*alpn_fn)(const SSL *, const unsigned char **, unsigned *);
typedef int (*get_error_fn)(const SSL *, int);

/* The hooked entry points (OpenSSL's own prototypes; no header needed). */
int SSL_write(SSL *, const void *, int);
int SSL_write_ex(SSL *, const void *, size_t, size_t *);
int SSL_read(SSL *, void *, int);
int SSL_read_ex(SSL *, void *, size_t, size_t *);
int SSL_peek(SSL *, void *, int);
int SSL_peek_ex(SSL *, void *, size_t, size_t *);
int SSL_shutdown(SSL *);
void SSL_free(SSL *);

#define FN(fns, i, type) ((type)(fns)[i])
#define TLSEXT_NAMETYPE_host_name 0
#define SSL_ERROR_SYSCALL 5
#define SSL_ERROR_SSL 1
#define SSL_ERROR_ZERO_RETURN 6

/* Under conn's lock, at the first write of a session. */
static void meta(const void *key, void *arg, struct at_conn_meta *m) {
  void *const *fns = arg;
  SSL *s = (SSL *)key;
  int saved = errno;
  ssl_int_fn is_server = FN(fns, F_IS_SERVER, ssl_int_fn);
  if (is_server && is_server(s) == 1) {
    m->ignore = 1;
    errno = saved;
    return;
  }
  alpn_fn alpn = FN(fns, F_GET0_ALPN, alpn_fn);
  if (alpn) {
    const unsigned char *p = NULL;
    unsigned n = 0;
    alpn(s, &p, &n);
    m->h2 = p && n == 2 && p[0] == 'h' && p[1] == '2';
  }
  servername_fn sn = FN(fns, F_GET_SERVERNAME, servername_fn);
  const char *name = sn ? sn(s, TLSEXT_NAMETYPE_host_name) : NULL;
  if (name && *name) {
    snprintf(m->host, sizeof m->host, "%s", name);
  } else {
    /* No SNI (an IP address, or none set): the peer, when the session
     * sits on a socket (not on a memory BIO). */
    ssl_int_fn get_fd = FN(fns, F_GET_FD, ssl_int_fn);
    int fd = get_fd ? get_fd(s) : -1;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
      char ip[64] = "";
      unsigned port = 0;
      if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        port = ntohs(in->sin_port);
        snprintf(m->host, sizeof m->host, "%s:%u", ip, port);
      } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
        snprintf(m->host, sizeof m->host, "[%s]:%u", ip, port);
      }
    }
  }
  errno = saved;
}

static int capturing(void) {
  return at_curl_depth == 0 && at_io_depth == 1;
}

static void wrote(void *const *fns, SSL *s, const void *buf, size_t n) {
  if (n && capturing())
    at_conn_session_out(AT_CONN_OPENSSL, s, buf, n, meta, (void *)fns);
}

static void got(void *const *fns, SSL *s, const void *buf, size_t n, int ret) {
  if (!capturing() || !__atomic_load_n(&at_conn_ntracked, __ATOMIC_RELAXED))
    return;
  if (n) {
    at_conn_session_in(s, buf, n);
    return;
  }
  get_error_fn ge = FN(fns, F_GET_ERROR, get_error_fn);
  int e = ge ? ge(s, ret) : 0;
  if (e == SSL_ERROR_ZERO_RETURN)
    at_conn_session_end(s, 0); /* close_notify: an orderly end */
  else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL)
    at_conn_session_failed(s, e == SSL_ERROR_SSL ? "TLS error while reading"
                                                 : "connection lost while "
                                                   "reading (TLS)");
}

AT_EXPORT int SSL_write(SSL *s, const void *buf, int num) {
  void *const *fns = REAL_FNS();
  io_fn real = FN(fns, F_WRITE, io_fn);
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  at_io_depth++;
  int r = real(s, (void *)buf, num);
  int saved = errno;
  if (r > 0)
    wrote(fns, s, buf, (size_t)r);
  at_io_depth--;
  errno = saved;
  return r;
}

AT_EXPORT int SSL_write_ex(SSL *s, const void *buf, size_t num,
                           size_t *written) {
  void *const *fns = REAL_FNS();
  io_ex_fn real = FN(fns, F_WRITE_EX, io_ex_fn);
  if (!real) {
    errno = ENOSYS;
    return 0;
  }
  at_io_depth++;
  int r = real(s, (void *)buf, num, written);
  int saved = errno;
  if (r == 1 && written)
    wrote(fns, s, buf, *written);
  at_io_depth--;
  errno = saved;
  return r;
}

AT_EXPORT int SSL_read(SSL *s, void *buf, int num) {
  void *const *fns = REAL_FNS();
  io_fn real = FN(fns, F_READ, io_fn);
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  at_io_depth++;
  int r = real(s, buf, num);
  int saved = errno;
  got(fns, s, buf, r > 0 ? (size_t)r : 0, r);
  at_io_depth--;
  errno = saved;
  return r;
}

AT_EXPORT int SSL_read_ex(SSL *s, void *buf, size_t num, size_t *readbytes) {
  void *const *fns = REAL_FNS();
  io_ex_fn real = FN(fns, F_READ_EX, io_ex_fn);
  if (!real) {
    errno = ENOSYS;
    return 0;
  }
  at_io_depth++;
  int r = real(s, buf, num, readbytes);
  int saved = errno;
  got(fns, s, buf, r == 1 && readbytes ? *readbytes : 0, r);
  at_io_depth--;
  errno = saved;
  return r;
}

/* Peeked bytes stay in the session: the read that takes them captures
 * them. The depth keeps the library's socket reads out of the socket
 * hooks. */
AT_EXPORT int SSL_peek(SSL *s, void *buf, int num) {
  void *const *fns = REAL_FNS();
  io_fn real = FN(fns, F_PEEK, io_fn);
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  at_io_depth++;
  int r = real(s, buf, num);
  at_io_depth--;
  return r;
}

AT_EXPORT int SSL_peek_ex(SSL *s, void *buf, size_t num, size_t *readbytes) {
  void *const *fns = REAL_FNS();
  io_ex_fn real = FN(fns, F_PEEK_EX, io_ex_fn);
  if (!real) {
    errno = ENOSYS;
    return 0;
  }
  at_io_depth++;
  int r = real(s, buf, num, readbytes);
  at_io_depth--;
  return r;
}

/* The application is done with the connection: what is in flight ends
 * here (a close-delimited answer is complete; a cut one is partial). */
AT_EXPORT int SSL_shutdown(SSL *s) {
  void *const *fns = REAL_FNS();
  ssl_int_fn real = FN(fns, F_SHUTDOWN, ssl_int_fn);
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  if (at_curl_depth == 0 && at_io_depth == 0 &&
      __atomic_load_n(&at_conn_nsessions, __ATOMIC_RELAXED)) {
    int saved = errno;
    at_conn_session_end(s, 0);
    errno = saved;
  }
  at_io_depth++;
  int r = real(s);
  at_io_depth--;
  return r;
}

AT_EXPORT void SSL_free(SSL *s) {
  void *const *fns = REAL_FNS();
  ssl_void_fn real = FN(fns, F_FREE, ssl_void_fn);
  /* Before the real free: once it returns, the address may be reused by
   * the next SSL_new. Sessions libcurl drives were never entered, so the
   * lookup below finds nothing for them. */
  if (s && __atomic_load_n(&at_conn_nsessions, __ATOMIC_RELAXED)) {
    int saved = errno;
    at_conn_session_end(s, 1);
    errno = saved;
  }
  if (!real)
    return;
  at_io_depth++;
  real(s);
  at_io_depth--;
}
