"""One macro for every .proto in the project: system protoc + grpc_cpp_plugin.

    slotkeeper_proto_library(
        name = "agent_proto",
        srcs = ["agent.proto"],
        deps = [":model_proto"],   # other slotkeeper_proto_library targets
        grpc = True,               # also generate service stubs
    )

produces a `cc_library` named `name` whose headers are included as
"proto/agent.pb.h" (and "proto/agent.grpc.pb.h").
"""

def slotkeeper_proto_library(name, srcs, deps = [], grpc = False, visibility = None):
    # The .proto files this library and everything it imports need at codegen.
    native.filegroup(
        name = name + "_srcs",
        srcs = srcs + [d + "_srcs" for d in deps],
        visibility = visibility,
    )
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc"]
        if grpc:
            outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]

    pkg = native.package_name()
    grpc_args = ""
    tools = ["@system_libs//:bin/protoc"]
    if grpc:
        tools.append("@system_libs//:bin/grpc_cpp_plugin")
        grpc_args = ("--grpc_out=$(GENDIR) " +
                     "--plugin=protoc-gen-grpc=$(location @system_libs//:bin/grpc_cpp_plugin) ")
    native.genrule(
        name = name + "_codegen",
        srcs = [name + "_srcs"],
        outs = outs,
        tools = tools,
        cmd = ("$(location @system_libs//:bin/protoc) -I. --cpp_out=$(GENDIR) " +
               grpc_args +
               " ".join([pkg + "/" + s for s in srcs])),
        message = "protoc " + " ".join(srcs),
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + ["@system_libs//:protobuf"] + (["@system_libs//:grpc"] if grpc else []),
        visibility = visibility,
    )
