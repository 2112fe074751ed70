/* conn: the connections the TLS and socket hooks watch (app side).
 *
 * A connection is a TLS session (SSL*, gnutls_session_t: looked up in a
 * hash) or a TCP socket to a watched port (fd: a flat table, so that a
 * read or write on any other fd costs one load and a branch). Its life:
 *
 *   SNIFF    each write that may start a request is looked at: its request
 *            line (and Host field) decide, through at_match_url(), whether
 *            it is a call the parsers handle. Reads cost nothing.
 *   TRACKED  every byte written and read from then on is copied, with its
 *            time, into the connection's pending chunk (conn_chunk.h),
 *            which goes to the worker when it reaches 64 KiB, when the
 *            connection ends, at exit, and otherwise within ~20 ms (the
 *            worker harvests pending chunks). The worker's wire_conn (or
 *            wire_h2) frames the exchanges; nothing is parsed here. An
 *            HTTP/2 connection (ALPN h2, the preface) is not sniffed: it
 *            is tracked from its first byte when its host is a known LLM
 *            host.
 *   IGNORED  never again looked at (server side, TLS seen on a plain
 *            socket, HTTP/2 to a host not known as an LLM host).
 *
 * All state is under one mutex, taken only for watched connections.
 * docs/capture-tls.md has the rules and the memory bounds. */
#ifndef AT_HOOKS_CONN_H
#define AT_HOOKS_CONN_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "preload/conn_chunk.h"
#include "preload/runtime.h"

/* Marks a hooked entry point (as in curl_hooks.h). */
#ifndef AT_EXPORT
#define AT_EXPORT __attribute__((visibility("default")))
#endif

/* Raised while one of our TLS hooks runs the real call: the TLS library's
 * own socket I/O (and nested TLS calls) is not captured again. */
extern AT_TLS int at_io_depth;

/* What a TLS hook tells about its session at the first write. */
struct at_conn_meta {
  int ignore;                  /* server side: never watched */
  int h2;                      /* ALPN selected "h2" */
  char host[AT_CONN_HOST_MAX]; /* server name, else peer "ip:port", or "" */
};

typedef void (*at_conn_meta_fn)(const void *key, void *arg,
                                struct at_conn_meta *m);

/* ---- TLS sessions ---- */

/* Number of sessions in the table, and of connections (sessions and
 * sockets) being tracked: the read hooks skip the lookup while the latter
 * is 0 (a read on a session that is only sniffed needs nothing). */
extern int at_conn_nsessions;
extern int at_conn_ntracked;

/* The application wrote n bytes (n > 0) through session key. meta is
 * called (under the lock) when the session is seen for the first time. */
void at_conn_session_out(int path, const void *key, const void *buf, size_t n,
                         at_conn_meta_fn meta, void *arg);
/* It read n bytes (n > 0). */
void at_conn_session_in(const void *key, const void *buf, size_t n);
/* A read failed for another reason than "try again": kept as the close
 * reason should the connection end with an exchange in flight. */
void at_conn_session_failed(const void *key, const char *why);
/* SSL_shutdown / SSL_free / gnutls_deinit: the connection ended. With
 * forget, the key may be reused (freed) from now on. */
void at_conn_session_end(const void *key, int forget);

/* ---- sockets ---- */

#define AT_CONN_FD_CAP 65536            /* fds above are never watched */
extern struct at_conn **at_conn_fd_tab; /* NULL until a socket is watched */

static inline int at_conn_fd_watched(int fd) {
  struct at_conn **t = __atomic_load_n(&at_conn_fd_tab, __ATOMIC_ACQUIRE);
  return t && (unsigned)fd < AT_CONN_FD_CAP &&
         __atomic_load_n(&t[fd], __ATOMIC_RELAXED) != NULL;
}

/* connect() on fd succeeded or is in progress: watch it when the peer's
 * port is a watched one (docs/capture-tls.md). */
void at_conn_fd_connected(int fd, const struct sockaddr *sa, socklen_t len);
/* n bytes (n > 0) went out (dir AT_REC_OUT) or came in (AT_REC_IN) in the
 * buffers iov[0..cnt). */
void at_conn_fd_io(int fd, int dir, const struct iovec *iov, int cnt, size_t n);
/* A read or write returned r <= 0 with errno err. */
void at_conn_fd_result(int fd, ssize_t r, int err);
/* close(fd) is about to run. */
void at_conn_fd_closing(int fd);

/* ---- the worker's side ---- */

/* Connections holding bytes not yet handed over. */
extern int at_conn_npending;
/* Hand every pending chunk to the worker queue (called by the worker). */
void at_conn_harvest(void);

#endif
