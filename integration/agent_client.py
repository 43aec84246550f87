"""Clients for runguardd in the integration tests: its gRPC API and its internal frame protocol.

gRPC: proto/runguard/v1/agent.proto is compiled with protoc into a temporary directory at run time
(nothing generated is committed, as for cri/client.py); the RPCs are plain channel.unary_unary /
unary_stream calls. Internal protocol: 4-byte big-endian length + JSON object (docs/agent.md).
"""

import importlib.util
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "proto")
SERVICE = "/runguard.v1.Agent/"

from cri.client import _import_grpc, unavailable_reason  # noqa: E402,F401  (same dependency rules)

UNARY = {
    "Status": ("StatusRequest", "StatusResponse"),
    "ListContainers": ("ListContainersRequest", "ListContainersResponse"),
    "GetContainer": ("GetContainerRequest", "GetContainerResponse"),
    "ReloadPolicy": ("ReloadPolicyRequest", "ReloadPolicyResponse"),
}

_pb = None


def messages():
    """The generated agent_pb2 module (generated once per process)."""
    global _pb
    if _pb is not None:
        return _pb
    _import_grpc()
    with tempfile.TemporaryDirectory(prefix="rg-agent-proto-") as out:
        subprocess.run(["protoc", "-I", PROTO_DIR, "-I", "/usr/include", "--python_out=" + out,
                        os.path.join(PROTO_DIR, "runguard", "v1", "agent.proto")],
                       check=True, timeout=60, stdin=subprocess.DEVNULL, capture_output=True)
        path = os.path.join(out, "runguard", "v1", "agent_pb2.py")
        spec = importlib.util.spec_from_file_location("runguard_agent_pb2", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["runguard_agent_pb2"] = module
        spec.loader.exec_module(module)
    _pb = module
    return module


class AgentClient:
    """runguard.v1.Agent over a unix socket; every call has a deadline (seconds)."""

    def __init__(self, socket_path, timeout=10):
        grpc = _import_grpc()
        self.pb = messages()
        self.timeout = timeout
        # Its own subchannel: a client made after an agent restart must not reuse a dead
        # connection another client in this process holds.
        self.channel = grpc.insecure_channel("unix://" + socket_path, options=[("grpc.use_local_subchannel_pool", 1)])
        self._unary = {}
        for name, (req, resp) in UNARY.items():
            req_cls, resp_cls = getattr(self.pb, req), getattr(self.pb, resp)
            self._unary[name] = (req_cls, self.channel.unary_unary(
                SERVICE + name, request_serializer=req_cls.SerializeToString,
                response_deserializer=resp_cls.FromString))
        self._watch = self.channel.unary_stream(
            SERVICE + "WatchEvents", request_serializer=self.pb.WatchEventsRequest.SerializeToString,
            response_deserializer=self.pb.Event.FromString)

    def call(self, name, deadline=None, **fields):
        req_cls, stub = self._unary[name]
        return stub(req_cls(**fields), timeout=deadline or self.timeout)

    def __getattr__(self, name):
        if name.startswith("_") or name not in UNARY:
            raise AttributeError(name)
        return lambda deadline=None, **fields: self.call(name, deadline, **fields)

    def watch(self, deadline=None, **fields):
        """The WatchEvents stream (an iterator of Event; .cancel() ends it)."""
        return self._watch(self.pb.WatchEventsRequest(**fields), timeout=deadline)

    def close(self):
        self.channel.close()


def rpc_error():
    return _import_grpc().RpcError


def status_code():
    return _import_grpc().StatusCode


# -- internal protocol --

def encode(obj):
    payload = json.dumps(obj, separators=(",", ":")).encode()
    return struct.pack(">I", len(payload)) + payload


def read_frame(sock):
    """One frame's JSON object, or None on EOF."""
    head = _read_exact(sock, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">I", head)
    body = _read_exact(sock, n)
    return None if body is None else json.loads(body)


def _read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def connect(path, timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(path)
    except BaseException:
        s.close()
        raise
    return s


def request(path, obj, timeout=5):
    """Sends one request frame and returns the reply's JSON object."""
    with connect(path, timeout) as s:
        s.sendall(encode(obj))
        return read_frame(s)
