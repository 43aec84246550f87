#!/usr/bin/env python3
"""Builds a busybox OCI image archive offline, from the host's static /bin/busybox.

    mkimage.py OUT.tar [--name REF] [--busybox PATH]

OUT.tar is an OCI image layout (oci-layout, index.json, blobs/sha256/...) in a tar stream, as
`ctr images import` reads it (containerd 1.6: the "oci.v1" format). It holds one image:

  layer    one gzip layer: /bin/busybox, a /bin/<applet> symlink for every applet it lists,
           /etc/passwd and /etc/group (root and nonroot 65532), /tmp (1777), /proc /sys /dev
  config   linux/<host arch>, Cmd ["sh"], no Entrypoint (so `ctr run IMAGE ID cmd args` runs
           exactly `cmd args`), PATH, WorkingDir /
  manifest an OCI manifest; the index names it with `org.opencontainers.image.ref.name` = REF.

ctr 1.6 keeps a full reference in that annotation as the image name (a bare tag would become
`import-<date>:<tag>`), so `ctr -n NS images import OUT.tar` makes REF usable by `ctr run`.
`--index-name` is not needed; given, it must differ from REF: ctr 1.6 writes the index record,
then the annotated manifest's over it, and GC may drop the now unreferenced index blob before
ctr unpacks that first record ("content digest sha256:<index>: not found").

The output is deterministic: fixed mtimes, owners and gzip header, sorted entries, canonical
JSON; the same busybox gives the same digests.

Importable: build_image(path, ref, busybox) returns the digests.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tarfile

DEFAULT_REF = "runguard.test/busybox:latest"
MTIME = 946684800  # 2000-01-01T00:00:00Z, every file's mtime
CREATED = "2000-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"

PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/bin/sh\n"
GROUP = b"root:x:0:\nnonroot:x:65532:\n"


def goarch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64"}.get(m, m)


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _Tar:
    """A deterministic tar writer (ustar, root-owned, fixed mtime)."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.USTAR_FORMAT)

    def _info(self, name, kind, mode):
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.mode = mode
        ti.mtime = MTIME
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        return ti

    def dir(self, name, mode=0o755):
        self.tar.addfile(self._info(name.rstrip("/") + "/", tarfile.DIRTYPE, mode))

    def file(self, name, data, mode=0o644):
        ti = self._info(name, tarfile.REGTYPE, mode)
        ti.size = len(data)
        self.tar.addfile(ti, io.BytesIO(data))

    def symlink(self, name, target):
        ti = self._info(name, tarfile.SYMTYPE, 0o777)
        ti.linkname = target
        self.tar.addfile(ti)

    def bytes(self):
        self.tar.close()
        return self.buf.getvalue()


def applets(busybox):
    out = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True, timeout=30).stdout
    names = sorted({a.strip() for a in out.split() if a.strip() and "/" not in a})
    names = [a for a in names if a != "busybox"]
    if "sh" not in names:
        raise RuntimeError("%s lists no `sh` applet" % busybox)
    return names


def layer_tar(busybox):
    with open(busybox, "rb") as f:
        binary = f.read()
    t = _Tar()
    t.dir("bin")
    t.file("bin/busybox", binary, 0o755)
    for a in applets(busybox):
        t.symlink("bin/" + a, "busybox")
    t.dir("dev")
    t.dir("etc")
    t.file("etc/group", GROUP)
    t.file("etc/passwd", PASSWD)
    t.dir("home")
    t.dir("home/nonroot")  # owned by root: the image gives its user nothing writable but /tmp
    t.dir("proc")
    t.dir("root", 0o700)
    t.dir("sys")
    t.dir("tmp", 0o1777)
    return t.bytes()


def gzip_bytes(data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as g:
        g.write(data)
    return buf.getvalue()


def build_image(out_path, ref=DEFAULT_REF, busybox="/bin/busybox"):
    """Writes the OCI archive to out_path; returns {ref, index, manifest, config, layer, diff_id}."""
    raw = layer_tar(busybox)
    layer = gzip_bytes(raw)
    diff_id = sha256(raw)
    arch = goarch()
    config = canonical_json({
        "architecture": arch,
        "os": "linux",
        "created": CREATED,
        "config": {"Env": [PATH_ENV], "Cmd": ["sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": CREATED, "created_by": "scripts/mkimage.py: static busybox and its applet links"}],
    })
    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": MT_LAYER, "digest": sha256(layer), "size": len(layer)}],
    })
    index = canonical_json({
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [{
            "mediaType": MT_MANIFEST,
            "digest": sha256(manifest),
            "size": len(manifest),
            "platform": {"architecture": arch, "os": "linux"},
            "annotations": {REF_NAME: ref},
        }],
    })
    t = _Tar()
    t.file("oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"}))
    t.file("index.json", index)
    t.dir("blobs")
    t.dir("blobs/sha256")
    for blob in sorted([config, manifest, layer], key=sha256):
        t.file("blobs/sha256/" + sha256(blob)[len("sha256:"):], blob)
    data = t.bytes()
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out_path)
    return {"ref": ref, "index": sha256(index), "manifest": sha256(manifest), "config": sha256(config),
            "layer": sha256(layer), "diff_id": diff_id}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="the archive to write (.tar)")
    ap.add_argument("--name", default=DEFAULT_REF, help="image reference (default %(default)s)")
    ap.add_argument("--busybox", default="/bin/busybox", help="a static busybox (default %(default)s)")
    a = ap.parse_args()
    info = build_image(a.out, a.name, a.busybox)
    print("%s %s" % (info["ref"], info["manifest"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
