#!/bin/bash
# What goes wrong: HTTP errors, transfers cut mid-answer, bodies over
# AUTOTRACE_MAX_BODY, compressed answers. The program must see exactly what
# it sees without the shim; the observation must say what happened.
. "$(dirname "$0")/lib.sh"

body() { # body FILE TAG [stream]
  local stream='"stream":false'
  [ "${3:-}" = stream ] &&
    stream='"stream":true,"stream_options":{"include_usage":true}'
  cat >"$1" <<EOF
{"model":"gpt-4o-mini",$stream,"messages":[{"role":"user","content":"question $2"}]}
EOF
}

client() { # client ARGS...: llm_client command line in ARGS
  ARGS=("$CLIENT" --cacert "$CERT" -H "Authorization: Bearer $KEY"
    "$@" "$MOCK_URL/v1/chat/completions")
}

case_http_errors() {
  start_mock --tls
  local S=$T/spool st msg stream per=1
  curl_usable && per=3
  for st in 429 400 500; do
    case $st in
    429) msg="mock: rate limit exceeded" ;;
    400) msg="mock: the request is invalid" ;;
    500) msg="mock: internal server error" ;;
    esac
    for stream in plain stream; do
      body "$T/$st$stream.json" "err$st$stream" $stream
      if curl_usable; then
        # curl: exit 0, the error body on stdout.
        compare_run "curl$st$stream" "$S" curl -sS --cacert "$CERT" \
          -H "Authorization: Bearer $KEY" -H "x-mock-status: $st" \
          -d "@$T/$st$stream.json" "$MOCK_URL/v1/chat/completions"
        [ "$RC" = 0 ] || fail "curl exit $RC"
        grep -q "$msg" "$T/curl$st$stream.traced.out" || fail "no error body"
        # curl --fail: exit 22, nothing on stdout, a message on stderr.
        compare_run "fail$st$stream" "$S" curl -sS --fail --cacert "$CERT" \
          -H "Authorization: Bearer $KEY" -H "x-mock-status: $st" \
          -d "@$T/$st$stream.json" "$MOCK_URL/v1/chat/completions"
        [ "$RC" = 22 ] || fail "curl --fail exit $RC, expected 22"
      fi
      # llm_client (multi API): exit 0, status line says the status.
      client --api multi -H "x-mock-status: $st" --body "$T/$st$stream.json"
      compare_run "client$st$stream" "$S" "${ARGS[@]}"
      grep -q "status=$st curlcode=0" "$T/client$st$stream.traced.err" ||
        fail "llm_client: $(cat "$T/client$st$stream.traced.err")"
      grep -q "$msg" "$T/client$st$stream.traced.out" || fail "no error body"
    done
  done
  export_jsonl "$S" "$T/recs.jsonl"
  for st in 429 400 500; do
    case $st in
    429) msg="mock: rate limit exceeded" ;;
    400) msg="mock: the request is invalid" ;;
    500) msg="mock: internal server error" ;;
    esac
    for stream in plain stream; do
      check "$T/recs.jsonl" --where type=generation \
        --where "input.0.parts.0.content=question err$st$stream" --count $per \
        --eq level=ERROR --eq http.status="$st" --eq request_model=gpt-4o-mini \
        --absent output --absent usage.output_tokens
      # The provider's message, where the program read the error body...
      check "$T/recs.jsonl" --where type=generation \
        --where "input.0.parts.0.content=question err$st$stream" \
        --where-absent metadata.transport_error \
        --count $((per == 3 ? 2 : 1)) --contains "status_message=$msg"
      # ...and with curl --fail, which stops before the body, the status.
      if [ $per = 3 ]; then
        check "$T/recs.jsonl" --where type=generation \
          --where "input.0.parts.0.content=question err$st$stream" \
          --where-has metadata.transport_error --count 1 \
          --contains "status_message=HTTP $st"
      fi
    done
  done
}

case_aborted_transfer() {
  start_mock --tls
  local S=$T/spool stream api per=3
  for stream in plain stream; do
    body "$T/$stream.json" "abort-$stream" $stream
    if curl_usable; then
      per=4
      compare_run "curl-$stream" "$S" curl -sS --cacert "$CERT" \
        -H "Authorization: Bearer $KEY" -H 'x-mock-abort-after-bytes: 120' \
        -d "@$T/$stream.json" "$MOCK_URL/v1/chat/completions"
      [ "$RC" != 0 ] || fail "curl did not notice the cut"
    fi
    for api in easy multi multi-socket; do
      client --api "$api" -H 'x-mock-abort-after-bytes: 120' \
        --body "$T/$stream.json"
      compare_run "client-$stream-$api" "$S" "${ARGS[@]}"
      [ "$RC" = 1 ] || fail "llm_client exit $RC, expected 1"
    done
  done
  export_jsonl "$S" "$T/recs.jsonl"
  for stream in plain stream; do
    check "$T/recs.jsonl" --where type=generation \
      --where "input.0.parts.0.content=question abort-$stream" --count $per \
      --re 'level=^(ERROR|WARNING)$' --present metadata.transport_error \
      --present status_message --eq http.status=200 \
      --eq request_model=gpt-4o-mini
  done
}

case_timeout() {
  # The server answers after 3 s; the client gives up after 500 ms.
  start_mock --tls
  local S=$T/spool
  body "$T/b.json" timeout
  client --timeout-ms 500 -H 'x-mock-delay-ms: 3000' --body "$T/b.json"
  compare_run to "$S" "${ARGS[@]}"
  grep -q 'curlcode=28' "$T/to.traced.err" || fail "expected a timeout"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1 \
    --re 'level=^(ERROR|WARNING)$' --present metadata.transport_error \
    --absent http.status --eq "input.0.parts.0.content=question timeout"
}

case_max_body() {
  # Answers and requests over AUTOTRACE_MAX_BODY are cut in the record,
  # never for the program.
  start_mock --tls
  local S=$T/spool big
  body "$T/small.json" maxbody
  client -H 'x-mock-pad-bytes: 5000' --body "$T/small.json"
  compare_run resp "$S" AUTOTRACE_MAX_BODY=1000 "${ARGS[@]}"
  [ "$(wc -c <"$T/resp.traced.out")" -gt 5000 ] || fail "answer too short"
  big=$(head -c 3000 /dev/zero | tr '\0' 'x')
  cat >"$T/big.json" <<EOF
{"model":"gpt-4o-mini","messages":[{"role":"user","content":"long $big"}]}
EOF
  client --post readfunction --body "$T/big.json"
  compare_run req "$S" AUTOTRACE_MAX_BODY=1000 "${ARGS[@]}"
  post_cmd "$MOCK_URL/v1/chat/completions" "$T/small.json" \
    -H 'x-mock-pad-bytes: 5000' -H 'x-mock-chunk-bytes: 100'
  compare_run resp2 "$S" AUTOTRACE_MAX_BODY=1000 "${ARGS[@]}"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 3
  check "$T/recs.jsonl" --where type=generation \
    --where-has input --where "input.0.parts.0.content=question maxbody" \
    --count 2 --eq metadata.response_truncated=true \
    --eq http.status=200 --ne metadata.request_truncated=true
  # (Its answer quotes the long question, so it is cut as well.)
  check "$T/recs.jsonl" --where type=generation \
    --where metadata.request_truncated=true --count 1 --eq http.status=200
  [ "$(wc -c <"$T/req.traced.out")" -gt 3000 ] || fail "answer too short"
}

case_gzip() {
  start_mock --tls
  local S=$T/spool stream
  for stream in plain stream; do
    body "$T/$stream.json" "gzip-$stream" $stream
    # curl --compressed: libcurl inflates, the program sees plain JSON.
    post_cmd "$MOCK_URL/v1/chat/completions" "$T/$stream.json" \
      --compressed -H 'x-mock-gzip: 1'
    compare_run "gz-$stream" "$S" "${ARGS[@]}"
    grep -q 'mock answer' "$T/gz-$stream.traced.out" || fail "not inflated"
    client --compressed --api multi -H 'x-mock-gzip: 1' --body "$T/$stream.json"
    compare_run "gzc-$stream" "$S" "${ARGS[@]}"
  done
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation \
    --where "input.0.parts.0.content=question gzip-plain" --count 2 --echo \
    --eq usage.input_tokens=2 --eq level=DEFAULT \
    --eq http.response_headers.content-encoding=gzip
  check "$T/recs.jsonl" --where type=generation \
    --where "input.0.parts.0.content=question gzip-stream" --count 2 --echo \
    --eq usage.input_tokens=2 --eq metadata.stream=true --eq level=DEFAULT
}

case_gzip_not_decoded_by_curl() {
  # The program asks for gzip itself and gets the compressed bytes: its
  # output must stay byte-identical, and one generation is recorded.
  start_mock --tls
  local S=$T/spool
  body "$T/b.json" rawgzip
  post_cmd "$MOCK_URL/v1/chat/completions" "$T/b.json" -H 'x-mock-gzip: 1' \
    -H 'Accept-Encoding: gzip'
  compare_run raw "$S" "${ARGS[@]}"
  gzip -dc <"$T/raw.traced.out" | grep -q 'mock answer' || fail "not gzip"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1 \
    --eq http.status=200 --eq "input.0.parts.0.content=question rawgzip"
}

run_cases case_http_errors case_aborted_transfer case_timeout case_max_body \
  case_gzip case_gzip_not_decoded_by_curl
