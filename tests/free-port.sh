# shellcheck shell=bash
# Sourced by the test, fuzz, bench, package and mutation scripts. free_port prints a TCP
# port nothing listens on, below the kernel's ephemeral range (32768 and up): a port there
# can be taken by an outgoing connection, the server's own to PostgreSQL among them,
# between this check and the bind. tests/support/itest.c (itest_free_port()) keeps to the
# same range.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo $p; return; }
  done
}
