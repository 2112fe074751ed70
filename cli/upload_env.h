/* upload_env: every environment variable `autotrace upload` reads, with its
 * default. The uploader's counterpart of preload/config.h: the names and
 * defaults live here and nowhere else (docs/upload.md lists them). */
#ifndef AT_CLI_UPLOAD_ENV_H
#define AT_CLI_UPLOAD_ENV_H

/* Retention of uploaded records: "AGE,SIZE" (either may be left out or be
 * "none"); see docs/upload.md. */
#define AT_ENV_RETENTION "AUTOTRACE_RETENTION"
#define AT_DEFAULT_RETENTION "7d,1GiB"

/* Langfuse (OTLP endpoint, and the legacy batch API). */
#define AT_ENV_LANGFUSE_PUBLIC_KEY "LANGFUSE_PUBLIC_KEY"
#define AT_ENV_LANGFUSE_SECRET_KEY "LANGFUSE_SECRET_KEY"
#define AT_ENV_LANGFUSE_HOST "LANGFUSE_HOST"
#define AT_ENV_LANGFUSE_BASE_URL "LANGFUSE_BASE_URL"
#define AT_DEFAULT_LANGFUSE_HOST "https://cloud.langfuse.com"
#define AT_LANGFUSE_OTLP_PATH "/api/public/otel/v1/traces"
#define AT_LANGFUSE_LEGACY_PATH "/api/public/ingestion"

/* OpenTelemetry's standard exporter variables (the OTLP exporter spec). */
#define AT_ENV_OTLP_ENDPOINT "OTEL_EXPORTER_OTLP_ENDPOINT"
#define AT_ENV_OTLP_TRACES_ENDPOINT "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
#define AT_ENV_OTLP_HEADERS "OTEL_EXPORTER_OTLP_HEADERS"
#define AT_ENV_OTLP_TRACES_HEADERS "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
#define AT_ENV_OTLP_COMPRESSION "OTEL_EXPORTER_OTLP_COMPRESSION"
#define AT_ENV_OTLP_TRACES_COMPRESSION "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"
#define AT_ENV_OTEL_SERVICE_NAME "OTEL_SERVICE_NAME"
#define AT_ENV_OTEL_RESOURCE_ATTRIBUTES "OTEL_RESOURCE_ATTRIBUTES"
#define AT_DEFAULT_OTLP_ENDPOINT "http://localhost:4318"
#define AT_OTLP_TRACES_PATH "/v1/traces"

/* The credentials file: KEY=VALUE lines, read only when mode 0600 (or
 * stricter) and owned by the user. Variables already set win. */
#define AT_UPLOAD_CONFIG_NAME "autotrace/upload.env"

/* Defaults of the command's options. */
#define AT_UPLOAD_GRACE_S 30   /* a dead process's open span waits */
#define AT_UPLOAD_TIMEOUT_S 30 /* one HTTP request, all included */
#define AT_UPLOAD_CONNECT_TIMEOUT_S 10
#define AT_UPLOAD_BATCH_SPANS 500        /* spans per request */
#define AT_UPLOAD_BATCH_BYTES (4u << 20) /* request body, before gzip */
#define AT_LEGACY_BATCH_BYTES 3500000u   /* Langfuse: "≤ 3.5 MB" */
#define AT_UPLOAD_GZIP_MIN 65536 /* bodies this big or more are gzipped */
#define AT_UPLOAD_POLL_MS                                                      \
  2000                               /* follow mode: look even without         \
                                        an inotify event this often */
#define AT_UPLOAD_RETRY_BASE_MS 1000 /* first backoff; doubles per attempt */
#define AT_UPLOAD_RETRY_CAP_MS 60000 /* longest backoff */
#define AT_UPLOAD_RETRY_AFTER_CAP_MS 3600000 /* longest Retry-After obeyed */
#define AT_UPLOAD_ONCE_ATTEMPTS 8 /* --once gives up on a batch after */
#define AT_UPLOAD_5XX_ATTEMPTS 3  /* 500, 501, 505...: then parked */
#define AT_UPLOAD_RETENTION_EVERY_S 60
#define AT_UPLOAD_RESPONSE_MAX (4u << 20) /* bytes of a response kept */
#define AT_UPLOAD_NICE 10                 /* CPU priority below the traced */
#define AT_UPLOAD_BUILDERS_MAX 4          /* threads building batches ahead */

#endif
