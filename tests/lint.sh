#!/usr/bin/env bash
# make lint: clang-format conformance, cppcheck, and the banned-function grep.
set -uo pipefail
status=0
files=("$@")
[ ${#files[@]} -gt 0 ] || { echo "lint: no files"; exit 0; }

fmt_bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || fmt_bad+=("$f")
done
if [ ${#fmt_bad[@]} -gt 0 ]; then
  echo "lint: not clang-formatted (run make fmt): ${fmt_bad[*]}"; status=1
fi

# Banned: unbounded or thread-unsafe C library calls (see docs/STYLE in shared design).
banned='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|atof|strncpy|tmpnam|asctime|ctime|gmtime|localtime)\s*\('
if grep -nE "$banned" "${files[@]}" | grep -v 'lint-ok'; then
  echo "lint: banned functions above"; status=1
fi

c_files=()
for f in "${files[@]}"; do case "$f" in *.c) c_files+=("$f");; esac; done
if ! cppcheck -q --error-exitcode=1 --enable=warning,portability,performance \
     --inline-suppr --std=c11 -I. -D_GNU_SOURCE --suppress=missingIncludeSystem \
     "${c_files[@]}" 2>&1; then
  echo "lint: cppcheck findings above"; status=1
fi
[ $status -eq 0 ] && echo "lint: ok (${#files[@]} files)"
exit $status
