#!/usr/bin/python3
"""A generic gRPC client that learns a server's API from server reflection.

It knows nothing of stackd's .proto files: it asks the server, through the
server-reflection protocol (grpc.reflection.v1alpha.ServerReflection), for
its services and for the file descriptors that define them, then makes the
call with messages built from those descriptors. It needs only Debian's
python3-grpcio and python3-protobuf (Debian has no grpcio-reflection, so the
reflection messages are defined here).

Usage:
  grpc_reflection_client.py ENDPOINT list
      Prints the server's services, one full name per line.
  grpc_reflection_client.py ENDPOINT call SERVICE/METHOD [JSON_REQUEST]
      Calls a unary method with the request given as JSON (default "{}") and
      prints the response as JSON, with the .proto field names.

ENDPOINT is in gRPC's syntax: "unix:/dev/net/mynet.grpc", "127.0.0.1:1234".
Each RPC has a 10 s deadline. Exit status: 0 on success, 1 when the server
or the call fails, 2 for bad usage; a failure prints one line on stderr.
"""

import os
import sys

import grpc
from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import json_format
from google.protobuf import message_factory

_PROG = os.path.basename(sys.argv[0]) if sys.argv else "grpc_reflection_client"
_TIMEOUT_SECONDS = 10.0
_REFLECTION_PACKAGE = "grpc.reflection.v1alpha"
_REFLECTION_METHOD = "/%s.ServerReflection/ServerReflectionInfo" % (
    _REFLECTION_PACKAGE)

_F = descriptor_pb2.FieldDescriptorProto


class UsageError(Exception):
  """The command line is wrong (exit status 2)."""


class ClientError(Exception):
  """The server or the call failed (exit status 1)."""


def _message(file_proto, name, fields, oneofs=()):
  """Adds a message to `file_proto`.

  Args:
    file_proto: the FileDescriptorProto to add to.
    name: the message's short name.
    fields: (name, number, type, label, type_name or None, oneof index or
      None) tuples.
    oneofs: the names of the message's oneofs, indexed by the tuples.
  """
  msg = file_proto.message_type.add(name=name)
  for oneof in oneofs:
    msg.oneof_decl.add(name=oneof)
  for field_name, number, field_type, label, type_name, oneof in fields:
    field = msg.field.add(name=field_name, number=number, type=field_type,
                          label=label)
    if type_name is not None:
      field.type_name = type_name
    if oneof is not None:
      field.oneof_index = oneof


def _reflection_file():
  """The part of grpc/reflection/v1alpha/reflection.proto this client uses.

  Fields it does not use are left out; protobuf skips them when parsing.
  """
  fp = descriptor_pb2.FileDescriptorProto(
      name="stackd_tests/reflection_v1alpha.proto",
      package=_REFLECTION_PACKAGE, syntax="proto3")
  opt, rep = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
  string, bytes_, int32, msg = (_F.TYPE_STRING, _F.TYPE_BYTES, _F.TYPE_INT32,
                                _F.TYPE_MESSAGE)
  pkg = "." + _REFLECTION_PACKAGE + "."
  _message(fp, "ServerReflectionRequest", [
      ("host", 1, string, opt, None, None),
      ("file_by_filename", 3, string, opt, None, 0),
      ("file_containing_symbol", 4, string, opt, None, 0),
      ("list_services", 7, string, opt, None, 0),
  ], oneofs=["message_request"])
  _message(fp, "ServerReflectionResponse", [
      ("valid_host", 1, string, opt, None, None),
      ("original_request", 2, msg, opt, pkg + "ServerReflectionRequest",
       None),
      ("file_descriptor_response", 4, msg, opt,
       pkg + "FileDescriptorResponse", 0),
      ("list_services_response", 6, msg, opt, pkg + "ListServiceResponse", 0),
      ("error_response", 7, msg, opt, pkg + "ErrorResponse", 0),
  ], oneofs=["message_response"])
  _message(fp, "FileDescriptorResponse", [
      ("file_descriptor_proto", 1, bytes_, rep, None, None),
  ])
  _message(fp, "ListServiceResponse", [
      ("service", 1, msg, rep, pkg + "ServiceResponse", None),
  ])
  _message(fp, "ServiceResponse", [
      ("name", 1, string, opt, None, None),
  ])
  _message(fp, "ErrorResponse", [
      ("error_code", 1, int32, opt, None, None),
      ("error_message", 2, string, opt, None, None),
  ])
  return fp


def _message_class(factory, desc):
  """The Python class of the message `desc` (protobuf 3.x and 4.x)."""
  if hasattr(message_factory, "GetMessageClass"):
    return message_factory.GetMessageClass(desc)
  return factory.GetPrototype(desc)


class ReflectionClient:
  """Asks one server for its services and descriptors."""

  def __init__(self, channel):
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_reflection_file())
    factory = message_factory.MessageFactory(pool)
    self._request_class = _message_class(
        factory,
        pool.FindMessageTypeByName(
            _REFLECTION_PACKAGE + ".ServerReflectionRequest"))
    response_class = _message_class(
        factory,
        pool.FindMessageTypeByName(
            _REFLECTION_PACKAGE + ".ServerReflectionResponse"))
    self._info = channel.stream_stream(
        _REFLECTION_METHOD,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_class.FromString)

  def _ask(self, **request_fields):
    """Sends one reflection request and returns the server's answer."""
    request = self._request_class(**request_fields)
    responses = self._info(iter([request]), timeout=_TIMEOUT_SECONDS)
    try:
      response = next(responses)
    except StopIteration:
      raise ClientError("reflection stream ended without an answer")
    finally:
      responses.cancel()
    if response.WhichOneof("message_response") == "error_response":
      err = response.error_response
      raise ClientError("reflection: %s (code %d)" %
                        (err.error_message, err.error_code))
    return response

  def services(self):
    """The full names of the server's services."""
    response = self._ask(list_services="")
    return [s.name for s in response.list_services_response.service]

  def _files(self, **request_fields):
    """The FileDescriptorProtos of one answer, by file name."""
    response = self._ask(**request_fields)
    if response.WhichOneof("message_response") != "file_descriptor_response":
      raise ClientError("reflection: no file descriptors in the answer")
    files = {}
    for data in response.file_descriptor_response.file_descriptor_proto:
      fp = descriptor_pb2.FileDescriptorProto.FromString(data)
      files[fp.name] = fp
    return files

  def pool_for_symbol(self, symbol):
    """A DescriptorPool with the file defining `symbol` and its imports."""
    files = self._files(file_containing_symbol=symbol)
    missing = [d for fp in files.values() for d in fp.dependency
               if d not in files]
    while missing:
      name = missing.pop()
      if name in files:
        continue
      for fp in self._files(file_by_filename=name).values():
        if fp.name not in files:
          files[fp.name] = fp
          missing.extend(d for d in fp.dependency if d not in files)
    pool = descriptor_pool.DescriptorPool()
    added = set()

    def add(name, chain):
      if name in added:
        return
      if name in chain:
        raise ClientError("reflection: import cycle through %s" % name)
      if name not in files:
        raise ClientError("reflection: server did not send %s" % name)
      for dep in files[name].dependency:
        add(dep, chain | {name})
      pool.Add(files[name])
      added.add(name)

    for name in list(files):
      add(name, frozenset())
    return pool


def _split_method(full_method):
  """("pkg.Service", "Method") from "pkg.Service/Method"."""
  service, sep, method = full_method.lstrip("/").rpartition("/")
  if not sep or not service or not method:
    raise UsageError("method must be SERVICE/METHOD, got %r" % full_method)
  return service, method


def _call(channel, reflection, full_method, json_request):
  """Calls a unary method; returns the response as JSON text."""
  service_name, method_name = _split_method(full_method)
  pool = reflection.pool_for_symbol(service_name)
  try:
    service = pool.FindServiceByName(service_name)
  except KeyError:
    raise ClientError("no service %s" % service_name)
  method = service.methods_by_name.get(method_name)
  if method is None:
    raise ClientError("service %s has no method %s" %
                      (service_name, method_name))
  if method.client_streaming or method.server_streaming:
    raise ClientError("%s is a streaming method; only unary calls work" %
                      full_method)
  factory = message_factory.MessageFactory(pool)
  request_class = _message_class(factory, method.input_type)
  response_class = _message_class(factory, method.output_type)
  try:
    request = json_format.Parse(json_request, request_class(),
                                descriptor_pool=pool)
  except json_format.ParseError as e:
    raise UsageError("bad JSON request for %s: %s" %
                     (method.input_type.full_name, e))
  stub = channel.unary_unary(
      "/%s/%s" % (service.full_name, method.name),
      request_serializer=lambda m: m.SerializeToString(),
      response_deserializer=response_class.FromString)
  response = stub(request, timeout=_TIMEOUT_SECONDS)
  return json_format.MessageToJson(response, preserving_proto_field_name=True,
                                   descriptor_pool=pool)


def _run(argv):
  """Runs the command line `argv` (without the program name)."""
  if len(argv) < 2:
    raise UsageError("usage: %s ENDPOINT list | ENDPOINT call SERVICE/METHOD "
                     "[JSON_REQUEST]" % _PROG)
  endpoint, command, args = argv[0], argv[1], argv[2:]
  with grpc.insecure_channel(endpoint) as channel:
    reflection = ReflectionClient(channel)
    if command == "list":
      if args:
        raise UsageError("list takes no arguments")
      for name in reflection.services():
        print(name)
    elif command == "call":
      if len(args) not in (1, 2):
        raise UsageError("call takes SERVICE/METHOD [JSON_REQUEST]")
      print(_call(channel, reflection, args[0],
                  args[1] if len(args) == 2 else "{}"))
    else:
      raise UsageError("unknown command %r (list, call)" % command)


def _one_line(text):
  """`text` with its whitespace runs, newlines included, made one space."""
  return " ".join(str(text).split())


def main(argv):
  endpoint = argv[1] if len(argv) > 1 else ""
  try:
    _run(argv[1:])
  except UsageError as e:
    print("%s: %s" % (_PROG, _one_line(e)), file=sys.stderr)
    return 2
  except grpc.RpcError as e:
    code = e.code() if hasattr(e, "code") else None
    details = e.details() if hasattr(e, "details") else e
    print("%s: %s: %s: %s" % (_PROG, endpoint,
                              code.name if code is not None else "UNKNOWN",
                              _one_line(details)), file=sys.stderr)
    return 1
  except ClientError as e:
    print("%s: %s: %s" % (_PROG, endpoint, _one_line(e)), file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
