#!/bin/bash
# Other runtimes against the mock's HTTPS mode: Ruby's Net::HTTP (its
# openssl extension on the system libssl), PHP's curl extension (libcurl:
# captured by the curl path, exactly once, although the same bytes pass
# the TLS hooks; PHP loads it RTLD_DEEPBIND, see hooks/dlopen.c) and PHP's
# own https:// streams (OpenSSL). Output byte-identical with and without
# the shim.
. "$(dirname "$0")/lib.sh"

need() {
  command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed (scripts/deps.sh test)"
}

# PHP dlopen()s its extensions RTLD_DEEPBIND, which the sanitizer runtime
# (preloaded ahead of the shim in the build/asan runs) refuses outright,
# with or without the shim (google/sanitizers#611).
need_php() {
  need php
  if is_asan; then
    skip "PHP cannot start under a preloaded libasan (RTLD_DEEPBIND; google/sanitizers#611)"
  fi
}

case_ruby_net_http() {
  need ruby
  start_mock --tls
  cat >"$T/client.rb" <<'RBEOF'
require "net/http"
require "json"
base, ca, key = ARGV
uri = URI(base + "/v1/chat/completions")
http = Net::HTTP.new(uri.host, uri.port)
http.use_ssl = true
http.ca_file = ca
http.start do |h|   # one kept-alive connection for every request
  4.times do |i|
    stream = i.odd?
    body = {model: "gpt-4o-mini", stream: stream,
            messages: [{role: "user", content: "ruby number #{i}"}]}
    body[:stream_options] = {include_usage: true} if stream
    req = Net::HTTP::Post.new(uri, "Content-Type" => "application/json",
                              "Authorization" => "Bearer #{key}")
    req.body = JSON.generate(body)
    puts h.request(req).body
  end
end
RBEOF
  compare_run ruby "$T/spool" ruby "$T/client.rb" "$MOCK_URL" "$CERT" "$KEY"
  [ "$RC" = 0 ] || fail "ruby failed: $(cat "$T/ruby.traced.err")"
  export_jsonl "$T/spool" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 4 \
    --eq metadata.capture=openssl --eq usage.input_tokens=3 --eq usage.output_tokens=9 \
    --order start_ns,completion_start_ns,end_ns
  local i
  for i in 0 1 2 3; do
    check "$T/recs.jsonl" --where type=generation \
      --where "input.0.parts.0.content=ruby number $i" --count 1 \
      --eq "output.0.parts.0.content=This is a mock answer to: ruby number $i"
  done
  no_secret "$T/spool"
}

php_curl_script() {
  cat >"$1" <<'PHPEOF'
<?php
[$_, $base, $ca, $key] = $argv;
foreach ([false, true] as $i => $stream) {
  $body = ["model" => "gpt-4o-mini", "stream" => $stream,
           "messages" => [["role" => "user", "content" => "php number $i"]]];
  if ($stream) $body["stream_options"] = ["include_usage" => true];
  $ch = curl_init("$base/v1/chat/completions");
  curl_setopt($ch, CURLOPT_POSTFIELDS, json_encode($body));
  curl_setopt($ch, CURLOPT_HTTPHEADER,
              ["Content-Type: application/json", "Authorization: Bearer $key"]);
  curl_setopt($ch, CURLOPT_CAINFO, $ca);
  curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
  echo curl_exec($ch), "\n";
  curl_close($ch);
}
PHPEOF
}

case_php_curl_captured_once() {
  need_php
  php -m 2>/dev/null | grep -x curl >/dev/null || skip "php-curl is not installed"
  start_mock --tls
  php_curl_script "$T/curl.php"
  compare_run php "$T/spool" php "$T/curl.php" "$MOCK_URL" "$CERT" "$KEY"
  [ "$RC" = 0 ] || fail "php failed: $(cat "$T/php.traced.err")"
  export_jsonl "$T/spool" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 2 --eq metadata.capture=curl \
    --eq usage.output_tokens=9
  check "$T/recs.jsonl" --where type=generation \
    --where "input.0.parts.0.content=php number 1" --count 1 --eq metadata.stream=true \
    --eq "output.0.parts.0.content=This is a mock answer to: php number 1"
}

case_php_keep_deepbind() {
  # The opt-out: with RTLD_DEEPBIND kept, PHP's curl extension is out of
  # reach (nothing captured), and the program still runs unchanged.
  need_php
  php -m 2>/dev/null | grep -x curl >/dev/null || skip "php-curl is not installed"
  start_mock --tls
  php_curl_script "$T/curl.php"
  compare_run php "$T/spool" AUTOTRACE_KEEP_DEEPBIND=1 php "$T/curl.php" \
    "$MOCK_URL" "$CERT" "$KEY"
  [ ! -e "$T/spool" ] || fail "captured although DEEPBIND was kept"
}

case_php_streams() {
  # file_get_contents("https://...") goes through PHP's openssl extension.
  need_php
  start_mock --tls
  cat >"$T/streams.php" <<'PHPEOF'
<?php
[$_, $base, $ca, $key] = $argv;
$body = json_encode(["model" => "gpt-4o-mini",
  "messages" => [["role" => "user", "content" => "php streams"]]]);
$ctx = stream_context_create([
  "http" => ["method" => "POST", "content" => $body,
             "header" => "Content-Type: application/json\r\nAuthorization: Bearer $key\r\n"],
  "ssl" => ["cafile" => $ca]]);
echo file_get_contents("$base/v1/chat/completions", false, $ctx), "\n";
PHPEOF
  compare_run streams "$T/spool" php "$T/streams.php" "$MOCK_URL" "$CERT" "$KEY"
  [ "$RC" = 0 ] || fail "php failed: $(cat "$T/streams.traced.err")"
  export_jsonl "$T/spool" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1 --eq metadata.capture=openssl \
    --eq "output.0.parts.0.content=This is a mock answer to: php streams"
}

run_cases case_ruby_net_http case_php_curl_captured_once case_php_keep_deepbind \
  case_php_streams
