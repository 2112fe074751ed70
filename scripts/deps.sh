#!/bin/sh
# deps.sh build|test — make sure the Debian packages autotrace needs are
# installed.
#
#   build: what `make all` and `make demo` need
#   test:  build + what `make test`, `make fuzz` and `make bench` use
#
# All present: silent, exit 0. Missing and root: apt-get installs them.
# Missing and not root: prints the command to run, exit 1. Not Debian (no
# dpkg-query): prints what is needed and exits 0, so that other
# distributions can try with their own packages.
set -eu

what=${1:-build}

# gcc make pkg-config: the build; libcurl4-openssl-dev: the demo agent, the
# test client and the CLI's uploader; libcjson-dev liblmdb-dev: the core and
# the CLI; zlib1g-dev: gzip of the uploader's request bodies; python3: the bundled mock provider (make demo, tests); openssl:
# the throwaway TLS certificate of the mock's HTTPS mode; curl: a traced
# program in the tests and the quickest way to try autotrace by hand.
BUILD_PKGS="gcc make pkg-config libcurl4-openssl-dev libcjson-dev liblmdb-dev zlib1g-dev \
python3 openssl curl"
# libbrotli-dev libzstd-dev (with zlib1g-dev): wire/ decodes br, zstd, gzip
# and deflate bodies seen on raw connections.
BUILD_PKGS="$BUILD_PKGS libbrotli-dev libzstd-dev"
# libdw-dev (elfutils' libdw and libelf): the core names the functions of
# captured call stacks (preload/core_symbolize.c); the shim never links it.
BUILD_PKGS="$BUILD_PKGS libdw-dev"
# libnghttp2-dev: wire/h2.c decodes HTTP/2 header blocks with libnghttp2's
# HPACK inflater (one per direction of a connection).
BUILD_PKGS="$BUILD_PKGS libnghttp2-dev"
# libcriterion-dev: unit tests; lmdb-utils: mdb_stat, to check a spool is a
# sound LMDB environment; binutils: nm, for the exported-symbols test;
# clang: libFuzzer for make fuzz.
TEST_PKGS="libcriterion-dev lmdb-utils binutils clang"
# libssl-dev libgnutls28-dev libc6-dev: the doctor tests build programs with
# -lssl (and OpenSSL's static archives), -lgnutls and -static.
TEST_PKGS="$TEST_PKGS libssl-dev libgnutls28-dev libc6-dev"
# The TLS/socket capture tests' real clients: Ruby's Net::HTTP, PHP's curl
# extension, Python's requests/httpx/aiohttp (and h2), and a GnuTLS client
# (tests/tools/gnutls_client.c, libgnutls28-dev).
TEST_PKGS="$TEST_PKGS ruby php-cli php-curl python3-requests python3-httpx \
python3-aiohttp python3-h2"

case $what in
build) pkgs=$BUILD_PKGS ;;
test) pkgs="$BUILD_PKGS $TEST_PKGS" ;;
*)
  echo "usage: sh scripts/deps.sh build|test" >&2
  exit 2
  ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "autotrace: not a Debian-like system (no dpkg-query); make sure these" \
    "(Debian names) or their equivalents are installed:" >&2
  echo "  $pkgs" >&2
  exit 0
fi

missing=""
for p in $pkgs; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case $st in
  *" installed") ;;
  *) missing="$missing $p" ;;
  esac
done
missing=${missing# }
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "autotrace: missing packages: $missing" >&2
  echo "sudo apt-get install -y $missing" >&2
  exit 1
fi

echo "autotrace: installing $missing" >&2
apt-get update -q >&2
# shellcheck disable=SC2086 # word splitting of the list is intended
DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >&2
