#!/usr/bin/env bash
# `make install` into a scratch prefix: the binary runs, --version agrees with the pkg-config
# file, the headers and static library build a C program (through pkg-config) that parses,
# compiles and runs a RASP program, and the man page and bash completion are in place.
. "$(dirname "$0")/lib.sh"
B=$(dirname "$ITRACR") # as given: make install B= takes the build folder relative to the root

# The build's own sanitizer flags must reach the test program too.
EXTRA=""
case "$B" in *san*) EXTRA="-fsanitize=address,undefined -fno-sanitize-recover=all";; esac
if make -s --no-print-directory install B="$B" PREFIX="$T/p" >"$T/make.log" 2>&1; then ok; else bad "make install: $(tail -c 500 "$T/make.log")"; fi
P=$T/p
[ -x "$P/bin/itracr" ] && ok || bad "no bin/itracr"
V=$("$P/bin/itracr" --version 2>&1)
PCV=$(PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --modversion itracr 2>&1)
[ "$V" = "itracr $PCV" ] && ok || bad "--version '$V' vs pkg-config '$PCV'"
grep -q "^VERSION" Makefile && ok || bad "Makefile has no VERSION"
[ -f "$P/share/bash-completion/completions/itracr" ] && ok || bad "no bash completion"
if command -v help2man >/dev/null; then
    [ -s "$P/share/man/man1/itracr.1" ] && grep -q 'decompile' "$P/share/man/man1/itracr.1" && ok || bad "man page missing or without subcommands"
fi
# bash completion offers subcommands and a subcommand's options
out=$(PATH="$P/bin:$PATH" bash -c 'source "$0"; COMP_WORDS=(itracr dec); COMP_CWORD=1; _itracr; echo "${COMPREPLY[*]}";
      COMP_WORDS=(itracr fmt --tr); COMP_CWORD=2; _itracr; echo "${COMPREPLY[*]}"' "$P/share/bash-completion/completions/itracr")
[ "$out" = "$(printf 'decompile\n--tracr')" ] && ok || bad "completion gave '$out'"

cat >"$T/embed.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include "rasp/rasp.h"
#include "compiler/model.h"
/* Parses a program, compiles it and runs the model on one input. */
int main(void) {
    const char *src = "vocab {1, 2, 3}\nmax_seq_len 4\nx = Map(lambda v: v + 1, tokens)\noutput x\n";
    RaspProgram p;
    char err[512];
    if (rasp_parse("embed.rasp", src, &p, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    CompileOptions o;
    compile_options_default(&o);
    CompiledModel *m = NULL;
    if (compile_program(&p, &o, &m, err, sizeof err)) { fprintf(stderr, "%s\n", err); rasp_program_free(&p); return 1; }
    Value xs[3] = {val_int(3), val_int(1), val_int(2)}, out[3];
    int rc = model_run(m, xs, 3, true, out, NULL, err, sizeof err);
    for (int i = 0; !rc && i < 3; i++) printf("%lld ", (long long)out[i].u.i);
    printf("\n");
    compiled_model_free(m);
    rasp_program_free(&p);
    return rc;
}
C
FLAGS=$(PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --cflags --libs itracr)
if gcc -std=c11 -D_POSIX_C_SOURCE=200809L $EXTRA "$T/embed.c" -o "$T/embed" $FLAGS >"$T/cc.log" 2>&1; then ok
else bad "building against the installed library: $(head -c 800 "$T/cc.log")"; fi
if [ -x "$T/embed" ]; then
    got=$("$T/embed" 2>&1)
    [ "$got" = "4 2 3 " ] && ok || bad "embedded compile+run printed '$got', want '4 2 3 '"
fi
finish
