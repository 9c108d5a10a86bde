#!/bin/bash
# Checks that binaries built on //runtime stay lean: their NEEDED entries are
# a subset of the C/C++ system libraries, and they neither need nor export any
# Halide, LLVM, protobuf or Abseil symbol. Also checks that the shared runtime
# library exports the C API.
#
# Usage: link_deps_test.sh BINARY_OR_SO...
set -euo pipefail

allowed='^(libc\.so\.6|libz\.so\.1|libm\.so\.6|libstdc\+\+\.so\.6|libgcc_s\.so\.1|libdl\.so\.2|libpthread\.so\.0|ld-linux-x86-64\.so\.2|ld-linux-[a-z0-9_-]+\.so\.[0-9]+)$'
# A sanitizer build (bazel --config=asan/ubsan/tsan) adds its runtime.
sanitizer_runtimes='^(libasan|libubsan|libtsan|liblsan)\.so\.[0-9]+$'
forbidden_symbols='halide_|Halide|llvm|LLVM|absl|google.*protobuf'

status=0
for file in "$@"; do
  needed=$(readelf -dW "$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p')
  echo "$file NEEDED: $(echo $needed)"
  if [[ -z "$needed" ]]; then
    echo "FAIL: $file has no NEEDED entries (not dynamically linked?)"
    status=1
  fi
  for lib in $needed; do
    if ! [[ "$lib" =~ $allowed || "$lib" =~ $sanitizer_runtimes ]]; then
      echo "FAIL: $file needs $lib"
      status=1
    fi
  done
  dyn_syms=$(readelf --dyn-syms -W "$file")
  bad_symbols=$(grep -E "$forbidden_symbols" <<<"$dyn_syms" || true)
  if [[ -n "$bad_symbols" ]]; then
    head -20 <<<"$bad_symbols"
    echo "FAIL: $file has $(wc -l <<<"$bad_symbols") dynamic symbols like those above"
    status=1
  fi
  if [[ "$file" == *.so ]]; then
    for symbol in adc_module_load adc_module_run adc_module_free \
        adc_error_free; do
      if ! grep -qE " FUNC +GLOBAL +DEFAULT +[0-9]+ $symbol\$" <<<"$dyn_syms"; then
        echo "FAIL: $file does not export $symbol"
        status=1
      fi
    done
  fi
done
if [[ $status -eq 0 ]]; then echo PASS; fi
exit $status
