#!/bin/sh
# cmake/qemu-run.sh - CMAKE_CROSSCOMPILING_EMULATOR of the bare-metal
# toolchain files: runs one test program under qemu-system-* with
# semihosting, passing the program's arguments through semihosting (argv),
# so add_test(COMMAND prog -n 10) works as on the host. Semihosting joins
# the arguments with spaces: an argument cannot contain a space.
#   qemu-run.sh [--no-argv0] QEMU [QEMU-OPTIONS...] -- PROGRAM [ARG...]
# --no-argv0: the C library makes up argv[0] itself (picolibc says
# "program-name"), so the program is not passed as the first argument.
# The exit status is the program's (semihosting exit), or qemu's own.
argv0=yes
[ "${1:-}" = "--no-argv0" ] && { argv0=no; shift; }
qemu=$1; shift
opts=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts="$opts $1"; shift; done
[ $# -ge 2 ] || { echo "usage: qemu-run.sh QEMU [OPTIONS...] -- PROGRAM [ARG...]" >&2; exit 2; }
shift
prog=$1
[ $argv0 = yes ] || shift
# argv[0] is the program; a comma inside an argument is doubled (qemu's escape).
cfg="enable=on,target=native"
for a in "$@"; do cfg="$cfg,arg=$(printf '%s' "$a" | sed 's/,/,,/g')"; done
# Without any arg= qemu passes the kernel path as the command line, which
# picolibc would show as argv[1]: an empty one gives argc == 1.
[ $# -gt 0 ] || cfg="$cfg,arg="
# shellcheck disable=SC2086 # opts are separate words by construction
exec "$qemu" $opts -nographic -monitor none -semihosting-config "$cfg" -kernel "$prog"
