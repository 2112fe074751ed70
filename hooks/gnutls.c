/* gnutls: hooks on GnuTLS's record I/O — gnutls_record_send,
 * gnutls_record_recv, gnutls_bye, gnutls_deinit — for programs that use
 * GnuTLS rather than OpenSSL (Debian builds of several tools and language
 * runtimes). The same model as hooks/openssl.c: the real function of the
 * caller's own libgnutls (preload/libfns.h), its result and errno
 * untouched, then the bytes it actually moved to hooks/conn.c. The host is
 * the server name the client set (gnutls_server_name_get), else the peer
 * of the session's socket.
 *
 * Not handled: a send repeated after GNUTLS_E_AGAIN with a NULL buffer
 * (GnuTLS then sends bytes it kept from the earlier call, which we never
 * see): those bytes are missing from the capture, and the exchange they
 * belong to comes out partial. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "conn.h"
#include "preload/libfns.h"
#include "preload/runtime.h"

typedef struct gnutls_session_int *gnutls_session_t;
typedef struct {
  unsigned char *data;
  unsigned int size;
} gnutls_datum_t;

enum {
  F_SEND,
  F_RECV,
  F_BYE,
  F_DEINIT,
  F_SERVER_NAME_GET,
  F_TRANSPORT_GET_INT,
  F_ALPN_SELECTED,
  F_STRERROR,
};

static const char *const names[] = {
    "gnutls_record_send",
    "gnutls_record_recv",
    "gnutls_bye",
    "gnutls_deinit",
    "gnutls_server_name_get",
    "gnutls_transport_get_int",
    "gnutls_alpn_get_selected_protocol",
    "gnutls_strerror",
};

static struct at_libfns gtls = AT_LIBFNS_INIT;

/* The real functions for the calling object (a macro: the return address
 * must be the hook's own). */
#define REAL_FNS()                                                             \
  at_libfns_for(&gtls, names, sizeof names / sizeof names[0],                  \
                __builtin_return_address(0))

typedef ssize_t (*send_fn)(gnutls_session_t, const void *, size_t);
typedef ssize_t (*recv_fn)(gnutls_session_t, void *, size_t);
typedef int (*bye_fn)(gnutls_session_t, int);
typedef void (*deinit_fn)(gnutls_session_t);
typedef int (*sn_get_fn)(gnutls_session_t, void *, size_t *, unsigned *,
                         unsigned);
typedef int (*get_int_fn)(gnutls_session_t);
typedef int (*alpn_fn)(gnutls_session_t, gnutls_datum_t *);
typedef const char *(*strerror_fn)(int);

#define FN(fns, i, type) ((type)(fns)[i])
#define GNUTLS_NAME_DNS 1
#define GNUTLS_E_AGAIN (-28)
#define GNUTLS_E_INTERRUPTED (-52)
#define GNUTLS_E_REHANDSHAKE (-37)
#define GNUTLS_E_INTERNAL_ERROR (-59)

/* The hooked entry points (GnuTLS's own prototypes; no header needed). */
ssize_t gnutls_record_send(gnutls_session_t, const void *, size_t);
ssize_t gnutls_record_recv(gnutls_session_t, void *, size_t);
int gnutls_bye(gnutls_session_t, int);
void gnutls_deinit(gnutls_session_t);

static void meta(const void *key, void *arg, struct at_conn_meta *m) {
  void *const *fns = arg;
  gnutls_session_t s = (gnutls_session_t)key;
  int saved = errno;
  alpn_fn alpn = FN(fns, F_ALPN_SELECTED, alpn_fn);
  gnutls_datum_t proto = {0};
  if (alpn && alpn(s, &proto) == 0)
    m->h2 = proto.size == 2 && proto.data && proto.data[0] == 'h' &&
            proto.data[1] == '2';
  sn_get_fn sn = FN(fns, F_SERVER_NAME_GET, sn_get_fn);
  char name[AT_CONN_HOST_MAX];
  size_t len = sizeof name - 1;
  unsigned type = 0;
  if (sn && sn(s, name, &len, &type, 0) == 0 && type == GNUTLS_NAME_DNS &&
      len > 0 && len < sizeof name) {
    name[len] = '\0';
    snprintf(m->host, sizeof m->host, "%s", name);
  } else {
    get_int_fn gi = FN(fns, F_TRANSPORT_GET_INT, get_int_fn);
    int fd = gi ? gi(s) : -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char ip[64] = "";
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
      if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(m->host, sizeof m->host, "%s:%u", ip, ntohs(in->sin_port));
      } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(m->host, sizeof m->host, "[%s]:%u", ip, ntohs(in6->sin6_port));
      }
    }
  }
  errno = saved;
}

static int capturing(void) {
  return at_curl_depth == 0 && at_io_depth == 1;
}

AT_EXPORT ssize_t gnutls_record_send(gnutls_session_t s, const void *data,
                                     size_t size) {
  void *const *fns = REAL_FNS();
  send_fn real = FN(fns, F_SEND, send_fn);
  if (!real)
    return GNUTLS_E_INTERNAL_ERROR; /* no libgnutls: cannot happen */
  at_io_depth++;
  ssize_t r = real(s, data, size);
  int saved = errno;
  if (r > 0 && data && capturing())
    at_conn_session_out(AT_CONN_GNUTLS, s, data, (size_t)r, meta, (void *)fns);
  at_io_depth--;
  errno = saved;
  return r;
}

AT_EXPORT ssize_t gnutls_record_recv(gnutls_session_t s, void *data,
                                     size_t size) {
  void *const *fns = REAL_FNS();
  recv_fn real = FN(fns, F_RECV, recv_fn);
  if (!real)
    return GNUTLS_E_INTERNAL_ERROR;
  at_io_depth++;
  ssize_t r = real(s, data, size);
  int saved = errno;
  if (capturing() && __atomic_load_n(&at_conn_ntracked, __ATOMIC_RELAXED)) {
    if (r > 0) {
      at_conn_session_in(s, data, (size_t)r);
    } else if (r == 0 && size > 0) {
      at_conn_session_end(s, 0); /* close_notify: an orderly end */
    } else if (r < 0 && r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED &&
               r != GNUTLS_E_REHANDSHAKE) {
      strerror_fn se = FN(fns, F_STRERROR, strerror_fn);
      char why[96];
      snprintf(why, sizeof why, "GnuTLS: %s",
               se ? se((int)r) : "error while reading");
      at_conn_session_failed(s, why);
    }
  }
  at_io_depth--;
  errno = saved;
  return r;
}

AT_EXPORT int gnutls_bye(gnutls_session_t s, int how) {
  void *const *fns = REAL_FNS();
  bye_fn real = FN(fns, F_BYE, bye_fn);
  if (!real)
    return GNUTLS_E_INTERNAL_ERROR;
  if (at_curl_depth == 0 && at_io_depth == 0 &&
      __atomic_load_n(&at_conn_nsessions, __ATOMIC_RELAXED)) {
    int saved = errno;
    at_conn_session_end(s, 0);
    errno = saved;
  }
  at_io_depth++;
  int r = real(s, how);
  at_io_depth--;
  return r;
}

AT_EXPORT void gnutls_deinit(gnutls_session_t s) {
  void *const *fns = REAL_FNS();
  deinit_fn real = FN(fns, F_DEINIT, deinit_fn);
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
