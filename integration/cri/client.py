"""A minimal CRI client: gRPC over containerd's unix socket, RuntimeService of runtime.v1.

api.proto (next to this file) is a hand-written subset of kubernetes/cri-api's runtime.v1
api.proto with the real field numbers. Its Python message classes are generated at run time with
protoc into a temporary directory (nothing generated is committed); the RPCs are plain
`channel.unary_unary` calls, so no grpc code generator is needed.

Dependencies (Debian 12): python3-grpcio, python3-protobuf, protobuf-compiler. When the
interpreter running the tests is not Debian's (pyenv, venv) but has the same major.minor, Debian's
dist-packages directory is appended to sys.path as a fallback.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.join(HERE, "api.proto")
SERVICE = "/runtime.v1.RuntimeService/"

# RPC name -> (request message, response message)
RPCS = {
    "Version": ("VersionRequest", "VersionResponse"),
    "RunPodSandbox": ("RunPodSandboxRequest", "RunPodSandboxResponse"),
    "StopPodSandbox": ("StopPodSandboxRequest", "StopPodSandboxResponse"),
    "RemovePodSandbox": ("RemovePodSandboxRequest", "RemovePodSandboxResponse"),
    "PodSandboxStatus": ("PodSandboxStatusRequest", "PodSandboxStatusResponse"),
    "CreateContainer": ("CreateContainerRequest", "CreateContainerResponse"),
    "StartContainer": ("StartContainerRequest", "StartContainerResponse"),
    "StopContainer": ("StopContainerRequest", "StopContainerResponse"),
    "RemoveContainer": ("RemoveContainerRequest", "RemoveContainerResponse"),
    "ContainerStatus": ("ContainerStatusRequest", "ContainerStatusResponse"),
    "ExecSync": ("ExecSyncRequest", "ExecSyncResponse"),
}

DEBIAN_DIST_PACKAGES = "/usr/lib/python3/dist-packages"

_grpc = None
_pb = None


def _import_grpc():
    global _grpc
    if _grpc is not None:
        return _grpc
    try:
        import grpc  # noqa: F401
        import google.protobuf  # noqa: F401
    except ImportError:
        # Debian's packages are built for /usr/bin/python3; their C extensions load in any CPython
        # of the same major.minor (same ABI tag).
        soabi = sysconfig.get_config_var("SOABI") or ""
        cygrpc = os.path.join(DEBIAN_DIST_PACKAGES, "grpc", "_cython", "cygrpc.%s.so" % soabi)
        if not soabi or not os.path.exists(cygrpc) or DEBIAN_DIST_PACKAGES in sys.path:
            raise
        sys.path.append(DEBIAN_DIST_PACKAGES)
        import grpc  # noqa: F401
        import google.protobuf  # noqa: F401
    import grpc
    _grpc = grpc
    return grpc


def unavailable_reason():
    """Why the client cannot work here, or None."""
    try:
        _import_grpc()
    except ImportError as e:
        return "python grpc/protobuf not importable (%s): apt-get install python3-grpcio python3-protobuf" % e
    if not shutil.which("protoc"):
        return "protoc not found: apt-get install protobuf-compiler"
    return None


def messages():
    """The generated api_pb2 module (generated once per process)."""
    global _pb
    if _pb is not None:
        return _pb
    _import_grpc()
    with tempfile.TemporaryDirectory(prefix="rg-cri-proto-") as out:
        subprocess.run(["protoc", "-I", HERE, "--python_out=" + out, PROTO], check=True, timeout=60,
                       stdin=subprocess.DEVNULL, capture_output=True)
        spec = importlib.util.spec_from_file_location("runguard_cri_api_pb2", os.path.join(out, "api_pb2.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    _pb = module
    return module


class RuntimeClient:
    """RuntimeService over a unix socket. Every call has a deadline (`timeout` seconds).

    Calls take keyword arguments for the request message (nested messages as dicts, enums by
    name), e.g. client.ExecSync(container_id=cid, cmd=["id"], timeout=5) (`timeout` there is the
    request's field); `deadline=` overrides the call's deadline. gRPC errors propagate as
    grpc.RpcError (.code(), .details())."""

    def __init__(self, socket_path, timeout=30):
        grpc = _import_grpc()
        self.pb = messages()
        self.timeout = timeout
        self.channel = grpc.insecure_channel("unix://" + socket_path)
        self._stubs = {}
        for name, (req, resp) in RPCS.items():
            req_cls = getattr(self.pb, req)
            resp_cls = getattr(self.pb, resp)
            self._stubs[name] = (req_cls, self.channel.unary_unary(
                SERVICE + name, request_serializer=req_cls.SerializeToString,
                response_deserializer=resp_cls.FromString))

    def call(self, name, request=None, deadline=None, **fields):
        req_cls, stub = self._stubs[name]
        if request is None:
            request = req_cls(**fields)
        return stub(request, timeout=deadline or self.timeout)

    def __getattr__(self, name):
        if name.startswith("_") or name not in RPCS:
            raise AttributeError(name)
        return lambda request=None, deadline=None, **fields: self.call(name, request, deadline, **fields)

    def wait_ready(self, deadline=30):
        """Waits until the socket answers Version; returns the VersionResponse."""
        grpc = _import_grpc()
        grpc.channel_ready_future(self.channel).result(timeout=deadline)
        return self.call("Version", version="v1", deadline=deadline)

    def close(self):
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def grpc_error():
    """The exception class failed calls raise (grpc.RpcError)."""
    return _import_grpc().RpcError
