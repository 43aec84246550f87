#!/usr/bin/env python3
"""Builds a busybox OCI bundle for the demo and the benchmarks.

    mkbundle.py DIR [--insecure] [--bind HOST:CTR] [--env K=V]... -- ARGS...

The rootfs holds the static /bin/busybox and its applet links; config.json starts from
`runc spec` (runc's own default) with terminal off. --insecure makes it the container a careless
spec produces: root, Docker's 14 default capabilities in every set, no seccomp, no memory or pids
limit, no noNewPrivileges.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

APPLETS = ["sh", "cat", "grep", "id", "ls", "sleep", "true", "touch", "echo", "env", "head", "awk", "mount"]
DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
               "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
               "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--insecure", action="store_true")
    ap.add_argument("--bind", action="append", default=[])
    ap.add_argument("--env", action="append", default=[])
    argv = sys.argv[1:]
    cmd = []
    if "--" in argv:
        cmd = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    a = ap.parse_args(argv)
    a.args = cmd

    rootfs = os.path.join(a.dir, "rootfs")
    os.makedirs(os.path.join(rootfs, "bin"), exist_ok=True)
    for d in ("proc", "sys", "dev", "tmp", "etc"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    for applet in APPLETS:
        link = os.path.join(rootfs, "bin", applet)
        if not os.path.lexists(link):
            os.symlink("busybox", link)
    config = os.path.join(a.dir, "config.json")
    if os.path.exists(config):
        os.unlink(config)
    subprocess.run(["runc", "spec", "--bundle", a.dir], check=True)
    with open(config) as f:
        c = json.load(f)
    c["process"]["terminal"] = False
    c["process"]["args"] = a.args or ["true"]
    c["process"]["env"] += a.env
    c["root"]["readonly"] = False
    if a.insecure:
        c["process"]["capabilities"] = {s: list(DOCKER_CAPS) for s in ("bounding", "effective", "permitted", "inheritable")}
        c["process"]["noNewPrivileges"] = False
        c["process"].pop("rlimits", None)
        c["linux"].pop("seccomp", None)
        c["linux"].pop("resources", None)
    for b in a.bind:
        src, dst = b.split(":", 1)
        c["mounts"].append({"destination": dst, "type": "bind", "source": src, "options": ["rbind", "ro"]})
    with open(config, "w") as f:
        json.dump(c, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
