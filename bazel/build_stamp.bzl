"""The build's identity as a C++ source file: version, commit, build date.

`build_stamp` writes a `.cc` defining the three strings base/build_info.h
declares. The version is the repository's VERSION file, always. The commit
and the date come from Bazel's workspace status (tools/workspace_status.sh:
STABLE_GIT_COMMIT; Bazel's own BUILD_TIMESTAMP) only when the build is
stamped (`--stamp`, which `--config=release` sets); otherwise they are empty.

An unstamped build's action reads only VERSION, so its output, and every
compile and link after it, stays an action-cache hit from one commit to the
next. A stamped build reads stable-status.txt (which changes with the commit)
and volatile-status.txt (which Bazel never treats as a reason to rebuild, so
the date is that of the build that last ran the action).
"""

def _build_stamp_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".cc")
    inputs = [ctx.file.version]
    args = [ctx.file.version.path, out.path]
    if ctx.attr.stamp:
        inputs += [ctx.info_file, ctx.version_file]
        args += [ctx.info_file.path, ctx.version_file.path]
    ctx.actions.run(
        executable = ctx.executable._generator,
        arguments = args,
        inputs = inputs,
        outputs = [out],
        mnemonic = "BuildStamp",
        progress_message = "Writing the build's version and commit to %s" % out.short_path,
    )
    return [DefaultInfo(files = depset([out]))]

build_stamp = rule(
    implementation = _build_stamp_impl,
    attrs = {
        "version": attr.label(
            mandatory = True,
            allow_single_file = True,
            doc = "The file holding the release version (one line, MAJOR.MINOR.PATCH).",
        ),
        "stamp": attr.bool(
            doc = "Whether to read the workspace status; set it with " +
                  'select({"//bazel:stamped": True, "//conditions:default": False}).',
        ),
        "_generator": attr.label(
            default = "//bazel:write_build_stamp",
            executable = True,
            cfg = "exec",
        ),
    },
)
