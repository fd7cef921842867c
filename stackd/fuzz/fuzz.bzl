"""fuzz_target(): a libFuzzer target and the test that replays its corpus.

fuzz_target(name, srcs, deps, corpus) makes
- cc_binary NAME: with --define=fuzz=1 (tools/fuzz, clang with
  -fsanitize=fuzzer-no-link,address,undefined) a libFuzzer binary; in the
  ordinary build a replayer (fuzz_replay_main.cc) of files it is given;
- cc_test NAME_corpus_test: the ordinary build's replay of every file in
  `corpus` (a filegroup: the project's seeds and every past finding), in
  tools/test.
"""

def fuzz_target(name, srcs, deps, corpus):
    native.cc_binary(
        name = name,
        testonly = 1,
        srcs = srcs,
        linkopts = select({
            "//stackd/fuzz:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        linkstatic = 1,
        deps = deps + select({
            "//stackd/fuzz:fuzzing": [],
            "//conditions:default": ["//stackd/fuzz:fuzz_replay_main"],
        }),
    )
    native.cc_test(
        name = name + "_corpus_test",
        size = "small",
        srcs = srcs,
        args = ["$(locations %s)" % corpus],
        data = [corpus],
        linkstatic = 1,
        deps = deps + ["//stackd/fuzz:fuzz_replay_main"],
    )
