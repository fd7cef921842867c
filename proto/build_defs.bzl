"""Compiles .proto files with Debian's protoc and grpc_cpp_plugin."""

def cc_proto(name, src, grpc = False, lite = False, deps = [], visibility = None):
    """A cc_library named `name` with the C++ code for one .proto file.

    Args:
      name: the library's name.
      src: the .proto file, in this package.
      grpc: also generate the gRPC service stubs (*.grpc.pb.{h,cc}).
      lite: the .proto says optimize_for = LITE_RUNTIME; link protobuf-lite.
      deps: cc_proto libraries of the imported .proto files.
      visibility: as for cc_library.
    """
    base = src[:-len(".proto")]
    outs = [base + ".pb.h", base + ".pb.cc"]
    cmd = "protoc --proto_path=. --cpp_out=$(GENDIR) $(location %s)" % src
    if grpc:
        outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
        cmd += (" && protoc --proto_path=. --grpc_out=$(GENDIR)" +
                " --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin" +
                " $(location %s)" % src)
    native.genrule(
        name = name + "_gen",
        srcs = [src],
        outs = outs,
        cmd = cmd,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + (["//third_party:grpc"] if grpc else
                       ["//third_party:protobuf_lite"] if lite else
                       ["//third_party:protobuf"]),
        visibility = visibility,
    )
