# itracr build. Sources are discovered, so adding a file needs no edit here.
#   make            release build: build/release/itracr
#   make test       release build + full test suite
#   make test-san   the suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make check      both (the README's test command runs this)
#   make fuzz-parse / fuzz-safetensors / fuzz-npz   bounded libFuzzer runs (FUZZ_SECONDS, default 60)
#   make install    PREFIX=/usr/local

CC      ?= gcc
PREFIX  ?= /usr/local
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
INC     := -Isrc
LIBS    := -lcjson -lopenblas -lzip -lxxhash -lm -lpthread
OMP     := -fopenmp

MODE    ?= release
ifeq ($(MODE),san)
  OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else ifeq ($(MODE),debug)
  OPT := -O0 -g
else
  OPT := -O2 -g -march=x86-64-v2
endif
CFLAGS_ALL := $(CSTD) $(WARN) $(INC) $(OPT) $(OMP) $(CFLAGS)
LDFLAGS_ALL := $(OPT) $(OMP) $(LDFLAGS)

# B and LIB_DIRS can be overridden to build a part of the tree in a private folder, e.g.
#   make B=build/mine LIB_DIRS="src/util src/rasp" build/mine/tests/test_value
B       ?= build/$(MODE)
LIB_DIRS ?= src
LIB_SRC := $(shell find $(LIB_DIRS) -name '*.c' ! -path 'src/cli/*' | sort)
CLI_SRC := $(sort $(wildcard src/cli/*.c))
TEST_SRC:= $(sort $(wildcard tests/test_*.c))
BENCH_SRC:= $(sort $(wildcard bench/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o)
TEST_BIN:= $(TEST_SRC:tests/%.c=$(B)/tests/%)
BENCH_BIN:= $(BENCH_SRC:bench/%.c=$(B)/bench/%)
LIBA    := $(B)/libitracr.a

.PHONY: all test test-san check clean install man bench fuzz-parse fuzz-safetensors fuzz-npz tests
all: $(B)/itracr

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/itracr: $(CLI_OBJ) $(LIBA)
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) $(LIBA) $(LIBS)

$(B)/tests/%: tests/%.c tests/test.h $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests -o $@ $< $(LIBA) $(LIBS)

$(B)/bench/%: bench/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIBA) $(LIBS)

tests: $(B)/itracr $(TEST_BIN)

test: tests
	@ITRACR=$(B)/itracr tests/run.sh $(B)

test-san:
	$(MAKE) MODE=san test

check:
	$(MAKE) MODE=release test
	$(MAKE) MODE=san test

bench: $(B)/itracr $(BENCH_BIN)

# ---- fuzzing (clang + libFuzzer) ----------------------------------------------------------
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := $(CSTD) $(INC) -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
# the fuzz targets exercise the parser and the file readers: only the layers they need
FUZZ_LIB_SRC := $(filter src/util/% src/rasp/% src/io/%,$(LIB_SRC))
build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRC)
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -o $@ $^ $(LIBS)
fuzz-parse: build/fuzz/fuzz_parse
	@mkdir -p build/fuzz/corpus_parse
	cp -n tests/fixtures/tracr/*.rasp build/fuzz/corpus_parse/ 2>/dev/null || true
	build/fuzz/fuzz_parse -max_total_time=$(FUZZ_SECONDS) -max_len=4096 build/fuzz/corpus_parse tests/fuzz/corpus_parse
fuzz-npz: build/fuzz/fuzz_npz
	@mkdir -p build/fuzz/corpus_npz
	build/fuzz/fuzz_npz -max_total_time=$(FUZZ_SECONDS) -max_len=8192 build/fuzz/corpus_npz tests/fuzz/corpus_npz
# the safetensors seeds are written by the library's own writer (not tracked: they are
# binary), so a fresh clone generates them first
build/fuzz/gen_safetensors_seeds: tests/fuzz/gen_safetensors_seeds.c $(FUZZ_LIB_SRC)
	@mkdir -p build/fuzz
	clang $(CSTD) $(INC) -O1 -o $@ $^ $(LIBS)
fuzz-safetensors: build/fuzz/fuzz_safetensors build/fuzz/gen_safetensors_seeds
	@mkdir -p build/fuzz/corpus_st build/fuzz/seeds_st
	build/fuzz/gen_safetensors_seeds build/fuzz/seeds_st
	build/fuzz/fuzz_safetensors -max_total_time=$(FUZZ_SECONDS) -max_len=8192 build/fuzz/corpus_st build/fuzz/seeds_st

# ---- install: the binary, the library with its headers and pkg-config file, the man page
# (when help2man is there) and bash completion; tests/cli/install.sh checks it in a scratch
# prefix by building a C program against the installed library.
VERSION := $(shell sed -n 's/^\#define ITRACR_VERSION "\(.*\)"/\1/p' src/util/version.h)
HEADERS := $(shell find src -name '*.h' ! -path 'src/cli/*' | sort)
# every subcommand's --help goes into the page as its own subsection
$(B)/itracr.1: $(B)/itracr
	{ echo '[COMMANDS IN DETAIL]'; for c in $$($(B)/itracr --help | awk '/^commands:/{on=1;next} on&&NF{print $$1}'); do \
	    echo ".SS $$c"; echo '.nf'; $(B)/itracr $$c --help | sed 's/^\./\\\&./; s/\\/\\e/g'; echo '.fi'; done; } > $(B)/itracr.h2m
	help2man --no-info --name="Inverse Tracr: RASP compiler, datasets and a weights-to-program decompiler" \
	    --version-string="itracr $(VERSION)" --include=$(B)/itracr.h2m -o $@ $(B)/itracr
man: $(B)/itracr.1

install: $(B)/itracr $(LIBA)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 755 $(B)/itracr $(DESTDIR)$(PREFIX)/bin/itracr
	install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/libitracr.a
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS@|$(LIBS)|' scripts/itracr.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/itracr.pc
	for h in $(HEADERS); do install -D -m 644 $$h $(DESTDIR)$(PREFIX)/include/itracr/$${h#src/}; done
	install -m 644 scripts/completion/itracr.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/itracr
	if command -v help2man >/dev/null; then $(MAKE) --no-print-directory B=$(B) $(B)/itracr.1 && \
	    install -D -m 644 $(B)/itracr.1 $(DESTDIR)$(PREFIX)/share/man/man1/itracr.1; fi

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
