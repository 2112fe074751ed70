/* gnutls_client: one HTTP/1.1 POST over GnuTLS, for the GnuTLS capture
 * test. Prints the response body bytes as received (after the header
 * block; chunked framing included) so that runs can be compared.
 *
 *   gnutls_client --cacert PEM --port N [--host NAME] [--path P]
 *                 [--body JSON] [--key KEY] [--n N]
 *
 * Makes N requests on one connection (keep-alive; the last one says
 * Connection: close and the body is read to the end of the stream). */
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what, int rc) {
  fprintf(stderr, "gnutls_client: %s: %s\n", what,
          rc < 0 ? gnutls_strerror(rc) : "failed");
  exit(1);
}

static void send_all(gnutls_session_t s, const char *p, size_t n) {
  while (n) {
    ssize_t r = gnutls_record_send(s, p, n);
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
      continue;
    if (r < 0)
      die("send", (int)r);
    p += r;
    n -= (size_t)r;
  }
}

/* Read one response: headers, then a Content-Length body or a chunked
 * one, or (with close) to the end. Prints the bytes after the headers. */
static void read_response(gnutls_session_t s, int close_after) {
  static char buf[1 << 20];
  size_t len = 0;
  char *body = NULL;
  long clen = -1;
  int chunked = 0;
  for (;;) {
    if (body) {
      size_t have = len - (size_t)(body - buf);
      if (clen >= 0 && have >= (size_t)clen)
        break;
      if (chunked && have >= 5 && !memcmp(buf + len - 5, "0\r\n\r\n", 5))
        break;
    }
    if (len == sizeof buf - 1)
      die("response too large", 0);
    ssize_t r = gnutls_record_recv(s, buf + len, sizeof buf - 1 - len);
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
      continue;
    if (r == 0 || r == GNUTLS_E_PREMATURE_TERMINATION) {
      if (body && (close_after || clen < 0))
        break;
      die("connection closed early", 0);
    }
    if (r < 0)
      die("recv", (int)r);
    len += (size_t)r;
    buf[len] = '\0';
    if (!body) {
      char *e = strstr(buf, "\r\n\r\n");
      if (!e)
        continue;
      body = e + 4;
      char *cl = strcasestr(buf, "\r\ncontent-length:");
      if (cl && cl < body)
        clen = strtol(cl + 17, NULL, 10);
      char *te = strcasestr(buf, "\r\ntransfer-encoding: chunked");
      chunked = te && te < body;
    }
  }
  fwrite(body, 1, len - (size_t)(body - buf), stdout);
  fputc('\n', stdout);
}

int main(int argc, char **argv) {
  const char *ca = NULL, *host = "localhost", *path = "/v1/chat/completions";
  const char *body = "{}", *key = NULL;
  int port = 0, n = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--cacert"))
      ca = argv[i + 1];
    else if (!strcmp(argv[i], "--port"))
      port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--host"))
      host = argv[i + 1];
    else if (!strcmp(argv[i], "--path"))
      path = argv[i + 1];
    else if (!strcmp(argv[i], "--body"))
      body = argv[i + 1];
    else if (!strcmp(argv[i], "--key"))
      key = argv[i + 1];
    else if (!strcmp(argv[i], "--n"))
      n = atoi(argv[i + 1]);
  }
  if (!ca || !port) {
    fprintf(stderr, "usage: gnutls_client --cacert PEM --port N ...\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    perror("connect");
    return 1;
  }
  gnutls_certificate_credentials_t cred;
  gnutls_session_t s;
  int rc;
  if ((rc = gnutls_certificate_allocate_credentials(&cred)) < 0)
    die("credentials", rc);
  if ((rc = gnutls_certificate_set_x509_trust_file(cred, ca,
                                                   GNUTLS_X509_FMT_PEM)) < 0)
    die("trust file", rc);
  if ((rc = gnutls_init(&s, GNUTLS_CLIENT)) < 0)
    die("init", rc);
  gnutls_server_name_set(s, GNUTLS_NAME_DNS, host, strlen(host));
  gnutls_set_default_priority(s);
  gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
  gnutls_session_set_verify_cert(s, host, 0);
  gnutls_transport_set_int(s, fd);
  do
    rc = gnutls_handshake(s);
  while (rc < 0 && !gnutls_error_is_fatal(rc));
  if (rc < 0)
    die("handshake", rc);
  for (int i = 0; i < n; i++) {
    char head[1024];
    int last = i == n - 1;
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%d\r\n"
                      "Content-Type: application/json\r\n"
                      "%s%s%s"
                      "Content-Length: %zu\r\n%s\r\n",
                      path, host, port, key ? "Authorization: Bearer " : "",
                      key ? key : "", key ? "\r\n" : "", strlen(body),
                      last ? "Connection: close\r\n" : "");
    send_all(s, head, (size_t)hn);
    send_all(s, body, strlen(body));
    read_response(s, last);
  }
  gnutls_bye(s, GNUTLS_SHUT_WR);
  gnutls_deinit(s);
  gnutls_certificate_free_credentials(cred);
  close(fd);
  return 0;
}
