/* version: the autotrace release, reported by `autotrace --version` and as
 * telemetry.sdk.version / the OTLP scope version in exports. */
#ifndef AT_CLI_VERSION_H
#define AT_CLI_VERSION_H

#define AT_VERSION "0.1.0"

#endif
