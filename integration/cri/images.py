"""The CRI test's images, built offline with scripts/mkimage.py.

The application image is mkimage.py's busybox image as is. The pod sandbox image ("pause") is
the same layer with a different config: mkimage.py's image runs `sh` (Cmd, no Entrypoint), which
would exit at once as a sandbox's process, while the CRI keeps a pod's namespaces alive through
its sandbox process; so the pause image's Entrypoint sleeps until the CRI kills it (SIGKILL on
StopPodSandbox). Only the config differs: build_pause reuses mkimage's layer, digest and archive
code and adds nothing but that config.
"""

import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))
MKIMAGE_PATH = os.path.join(HERE, "..", "..", "scripts", "mkimage.py")

PAUSE_ENTRYPOINT = ["/bin/sleep", "2147483647"]

_mkimage = None


def mkimage():
    """scripts/mkimage.py as a module."""
    global _mkimage
    if _mkimage is None:
        spec = importlib.util.spec_from_file_location("runguard_mkimage", MKIMAGE_PATH)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _mkimage = module
    return _mkimage


def build_app(out_path, ref, busybox):
    """mkimage.py's busybox image (Cmd ["sh"]) named ref."""
    return mkimage().build_image(out_path, ref, busybox)


def build_pause(out_path, ref, busybox, entrypoint=PAUSE_ENTRYPOINT):
    """mkimage.py's layer with Entrypoint = entrypoint, named ref, as an OCI archive."""
    m = mkimage()
    raw = m.layer_tar(busybox)
    layer = m.gzip_bytes(raw)
    arch = m.goarch()
    config = m.canonical_json({
        "architecture": arch,
        "os": "linux",
        "created": m.CREATED,
        "config": {"Env": [m.PATH_ENV], "Entrypoint": list(entrypoint), "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [m.sha256(raw)]},
    })
    manifest = m.canonical_json({
        "schemaVersion": 2,
        "mediaType": m.MT_MANIFEST,
        "config": {"mediaType": m.MT_CONFIG, "digest": m.sha256(config), "size": len(config)},
        "layers": [{"mediaType": m.MT_LAYER, "digest": m.sha256(layer), "size": len(layer)}],
    })
    index = m.canonical_json({
        "schemaVersion": 2,
        "mediaType": m.MT_INDEX,
        "manifests": [{"mediaType": m.MT_MANIFEST, "digest": m.sha256(manifest), "size": len(manifest),
                       "platform": {"architecture": arch, "os": "linux"},
                       "annotations": {m.REF_NAME: ref}}],
    })
    t = m._Tar()
    t.file("oci-layout", m.canonical_json({"imageLayoutVersion": "1.0.0"}))
    t.file("index.json", index)
    t.dir("blobs")
    t.dir("blobs/sha256")
    for blob in sorted([config, manifest, layer], key=m.sha256):
        t.file("blobs/sha256/" + m.sha256(blob)[len("sha256:"):], blob)
    with open(out_path, "wb") as f:
        f.write(t.bytes())
    return {"ref": ref, "manifest": m.sha256(manifest), "config": m.sha256(config)}
