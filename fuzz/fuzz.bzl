"""slotkeeper_fuzz_target: a libFuzzer binary, built only with --config=fuzz.

Tagged `manual` so that `bazel build //...` and `bazel test //...` (gcc,
which has no libFuzzer) never build it; linked with -fsanitize=fuzzer,
which supplies main(). testonly: targets use test helpers.
"""

def slotkeeper_fuzz_target(name, srcs, deps = []):
    native.cc_binary(
        name = name,
        srcs = srcs,
        deps = deps,
        linkopts = ["-fsanitize=fuzzer"],
        tags = ["manual"],
        testonly = True,
    )
