"""Signed scan attestations for the attestation gate's tests, made with the `openssl` CLI only.

An implementation independent of runguard's attest/ library (which goes through libcrypto): keys
are generated and payloads signed by `openssl genpkey`/`dgst`/`pkeyutl`, everything else is
Python's stdlib. Formats (shared/reference/attestations.md):

  PAE          "DSSEv1" SP len(type) SP type SP len(body) SP body      (byte lengths, decimal)
  DSSE         {"payloadType", "payload": b64(body), "signatures": [{"keyid", "sig": b64}]}
  bundle v0.3  {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "verificationMaterial": {"publicKey": {"hint": b64(sha256(DER SPKI))}},
                "dsseEnvelope": DSSE with keyid = hint and exactly one signature}
  statement    in-toto v0.1 {"_type", "subject": [{"name", "digest": {"sha256": hex}}],
                "predicateType", "predicate"}
  predicate    cosign vuln/v1 {"invocation", "scanner": {"uri", "version", "db", "result": report},
                "metadata": {"scanStartedOn", "scanFinishedOn"}}

    keys = KeyRing(dir)
    k = keys.key("p256")
    doc = vuln_attestation([k], "sha256:" + hex, vulns=[Vuln("CVE-2024-1", "openssl", "CRITICAL", "3.0.2")])
    Store(store_dir).put("sha256:" + hex, "scan", doc)      # <store>/sha256/<hex>/scan.json

Scan times are RFC 3339 UTC strings; `rfc3339(seconds_ago=3600)` is an hour ago.
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections import namedtuple

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
COSIGN_VULN = "https://cosign.sigstore.dev/attestation/vuln/v1"
INTOTO_VULNS_V01 = "https://in-toto.io/attestation/vulns/v0.1"
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
BUNDLE_LEGACY = "application/vnd.dev.sigstore.bundle+json;version=%s"  # 0.1, 0.2, 0.3

KINDS = ("p256", "p384", "ed25519", "rsa", "rsa-pss")  # rsa-pss: an RSA key that signs with PSS

# The limits documented in attest/include/runguard/attest/limits.h and docs/attestation.md.
MAX_ATTESTATION_BYTES = 32 << 20
MAX_VEX_BYTES = 8 << 20


def openssl_skip_reason():
    if not os.access(OPENSSL, os.X_OK):
        return "the openssl CLI is not installed (Debian package openssl)"
    return None


def _openssl(args, input=None):
    p = subprocess.run([OPENSSL] + list(args), input=input, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed (%d): %s" % (" ".join(args), p.returncode,
                                                            p.stderr.decode(errors="replace").strip()))
    return p.stdout


# -- base64, digests, time ---------------------------------------------------------------------

def b64(data):
    return base64.b64encode(data).decode()


def b64url(data, pad=False):
    s = base64.urlsafe_b64encode(data).decode()
    return s if pad else s.rstrip("=")


def sha256_digest(data):
    """"sha256:<hex>" of bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def random_digest():
    """A digest no real image has: an image whose attestation the test writes itself."""
    return sha256_digest(os.urandom(32))


def digest_hex(digest):
    algo, sep, hexpart = digest.partition(":")
    if not sep or algo != "sha256" or len(hexpart) != 64:
        raise ValueError("not a sha256 digest: %r" % digest)
    return hexpart


def rfc3339(seconds_ago=0, at=None):
    """UTC RFC 3339 ("2026-11-29T10:00:00Z") of `at` (unix seconds, default now) minus seconds_ago."""
    t = (time.time() if at is None else at) - seconds_ago
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def day(days_from_today):
    """YYYY-MM-DD (UTC) of today plus days_from_today (for exceptions' `until`)."""
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + days_from_today * 86400))


# -- keys and signatures -----------------------------------------------------------------------

class Key:
    """A key pair as PEM files; `kind` says how it signs (see KINDS)."""

    def __init__(self, kind, private_pem, public_pem):
        self.kind = kind
        self.private_pem = private_pem
        self.public_pem = public_pem
        self._der = None

    def der_spki(self):
        if self._der is None:
            self._der = _openssl(["pkey", "-pubin", "-in", self.public_pem, "-outform", "DER"])
        return self._der

    @property
    def id(self):
        """runguard's key id (keys.h): "sha256:<hex of DER SubjectPublicKeyInfo>"."""
        return sha256_digest(self.der_spki())

    @property
    def hint(self):
        """sigstore's key hint: base64(sha256(DER SPKI))."""
        return b64(hashlib.sha256(self.der_spki()).digest())

    def public_pem_bytes(self):
        with open(self.public_pem, "rb") as f:
            return f.read()

    def sign(self, message):
        """The raw signature of `message` (bytes) under this key's scheme: ECDSA P-256/SHA-256 and
        P-384/SHA-384 (DER), Ed25519 (pure), RSA SHA-256 with PKCS#1 v1.5 or PSS."""
        with tempfile.TemporaryDirectory(prefix="rg-att-sign-") as d:
            msg = os.path.join(d, "msg")
            sig = os.path.join(d, "sig")
            with open(msg, "wb") as f:
                f.write(message)
            if self.kind == "ed25519":
                _openssl(["pkeyutl", "-sign", "-rawin", "-inkey", self.private_pem, "-in", msg, "-out", sig])
            else:
                digest = "-sha384" if self.kind == "p384" else "-sha256"
                args = ["dgst", digest, "-sign", self.private_pem]
                if self.kind == "rsa-pss":
                    args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"]
                _openssl(args + ["-out", sig, msg])
            with open(sig, "rb") as f:
                return f.read()

    def verify_with_openssl(self, message, signature):
        """Cross-check for the helpers themselves (not for runguard)."""
        with tempfile.TemporaryDirectory(prefix="rg-att-verify-") as d:
            msg, sig = os.path.join(d, "msg"), os.path.join(d, "sig")
            with open(msg, "wb") as f:
                f.write(message)
            with open(sig, "wb") as f:
                f.write(signature)
            if self.kind == "ed25519":
                args = ["pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", self.public_pem, "-in", msg, "-sigfile", sig]
            else:
                args = ["dgst", "-sha384" if self.kind == "p384" else "-sha256", "-verify", self.public_pem]
                if self.kind == "rsa-pss":
                    args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"]
                args += ["-signature", sig, msg]
            p = subprocess.run([OPENSSL] + args, capture_output=True, timeout=60)
            return p.returncode == 0


class KeyRing:
    """Keys generated into one directory, by (kind, slot): slot 0 and 1 of "p256" are two
    different P-256 keys. "rsa-pss" shares the "rsa" key of its slot (the key does not say)."""

    _GEN = {
        "p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "p384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        "ed25519": ["-algorithm", "ED25519"],
        "rsa": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    }

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self._files = {}

    def key(self, kind="p256", slot=0):
        if kind not in KINDS:
            raise ValueError("unknown key kind %r (one of %s)" % (kind, ", ".join(KINDS)))
        base = "rsa" if kind == "rsa-pss" else kind
        name = "%s-%d" % (base, slot)
        if name not in self._files:
            priv = os.path.join(self.dir, name + ".pem")
            pub = os.path.join(self.dir, name + ".pub")
            _openssl(["genpkey"] + self._GEN[base] + ["-out", priv])
            os.chmod(priv, 0o600)
            _openssl(["pkey", "-in", priv, "-pubout", "-out", pub])
            os.chmod(pub, 0o644)
            self._files[name] = (priv, pub)
        priv, pub = self._files[name]
        return Key(kind, priv, pub)

    def write_public(self, name, data):
        """A file in the ring's directory with arbitrary content (a broken "key")."""
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path


# -- DSSE and bundles --------------------------------------------------------------------------

def pae(payload_type, body):
    """DSSE v1 pre-authentication encoding; lengths are of the UTF-8 bytes."""
    t = payload_type.encode() if isinstance(payload_type, str) else payload_type
    b = body.encode() if isinstance(body, str) else body
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(b), b)


def dsse_envelope(payload_type, payload, keys, keyid="", urlsafe=False):
    """A DSSE envelope over `payload` (bytes), one signature per key in order, each over PAE."""
    if isinstance(payload, str):
        payload = payload.encode()
    enc = (lambda d: b64url(d, pad=True)) if urlsafe else b64
    sigs = [{"keyid": keyid, "sig": enc(k.sign(pae(payload_type, payload)))} for k in keys]
    return {"payloadType": payload_type, "payload": enc(payload), "signatures": sigs}


def sigstore_bundle(payload_type, payload, key, media_type=BUNDLE_V03):
    """A sigstore bundle (default v0.3) whose content is a DSSE envelope signed by `key`, with
    verificationMaterial.publicKey.hint = the key's hint and the signature's keyid the same."""
    env = dsse_envelope(payload_type, payload, [key], keyid=key.hint)
    return {"mediaType": media_type,
            "verificationMaterial": {"publicKey": {"hint": key.hint}, "timestampVerificationData": {}},
            "dsseEnvelope": env}


def tamper_payload(envelope, change=None):
    """A copy of a DSSE envelope (or a bundle's) whose payload was changed after signing; the
    signatures are left as they were. `change` maps the decoded payload bytes to new bytes
    (default: the first "CRITICAL" becomes "LOW", else a byte is appended)."""
    doc = json.loads(json.dumps(envelope))
    env = doc["dsseEnvelope"] if "dsseEnvelope" in doc else doc
    body = base64.b64decode(env["payload"])
    if change is None:
        change = lambda b: b.replace(b"CRITICAL", b"LOW", 1) if b"CRITICAL" in b else b + b" "
    new = change(body)
    assert new != body, "tamper_payload changed nothing"
    env["payload"] = b64(new)
    return doc


def tamper_signature(envelope):
    """A copy whose first signature has one bit flipped."""
    doc = json.loads(json.dumps(envelope))
    env = doc["dsseEnvelope"] if "dsseEnvelope" in doc else doc
    sig = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    sig[len(sig) // 2] ^= 0x01
    env["signatures"][0]["sig"] = b64(bytes(sig))
    return doc


# -- statements, predicates, reports -----------------------------------------------------------

Vuln = namedtuple("Vuln", "id pkg severity fixed status", defaults=("", None))
"""One vulnerability: Vuln("CVE-2024-1", "openssl", "CRITICAL", "3.0.2") is fixable (a fixed
version), Vuln("CVE-2024-2", "bash", "HIGH") is not; status overrides Trivy's Status."""


def purl(pkg, version="1.0.0"):
    return "pkg:deb/debian/%s@%s" % (pkg, version)


def trivy_report(vulns=(), created=None, artifact="registry.example/app:1", image_digests=()):
    """A Trivy JSON report (SchemaVersion 2) with one os-pkgs result holding `vulns`.
    image_digests: "sha256:…" written as Metadata.RepoDigests ("repo@sha256:…") so a bare report
    names its image."""
    items = []
    for v in vulns:
        j = {"VulnerabilityID": v.id, "PkgName": v.pkg, "InstalledVersion": "1.0.0", "Severity": v.severity,
             "PkgIdentifier": {"PURL": purl(v.pkg)}, "Title": "test vulnerability " + v.id}
        if v.fixed:
            j["FixedVersion"] = v.fixed
            j["Status"] = v.status or "fixed"
        else:
            j["Status"] = v.status or "affected"
        items.append(j)
    report = {"SchemaVersion": 2, "CreatedAt": created or rfc3339(), "ArtifactName": artifact,
              "ArtifactType": "container_image",
              "Metadata": {"OS": {"Family": "debian", "Name": "12"},
                           "RepoDigests": ["%s@%s" % (artifact.rsplit(":", 1)[0], d) for d in image_digests]},
              "Results": [{"Target": artifact + " (debian 12)", "Class": "os-pkgs", "Type": "debian",
                           "Vulnerabilities": items}]}
    return report


def cosign_vuln_predicate(report, finished=None, scanner="trivy", version="0.50.0"):
    """What `trivy image --format cosign-vuln` writes (scanStartedOn == scanFinishedOn)."""
    finished = finished or rfc3339()
    return {"invocation": {"parameters": None, "uri": "", "event_id": "", "builder.id": ""},
            "scanner": {"uri": "pkg:github/aquasecurity/%s@%s" % (scanner, version), "version": version,
                        "db": {"uri": "", "version": ""}, "result": report},
            "metadata": {"scanStartedOn": finished, "scanFinishedOn": finished}}


def statement(image_digests, predicate_type, predicate, type_=STATEMENT_V01, name="registry.example/app"):
    """An in-toto statement whose subjects are the given digests ("sha256:<hex>", one or a list)."""
    if isinstance(image_digests, str):
        image_digests = [image_digests]
    subjects = [{"name": name, "digest": {"sha256": digest_hex(d)}} for d in image_digests]
    return {"_type": type_, "subject": subjects, "predicateType": predicate_type, "predicate": predicate}


def canonical(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def vuln_attestation(keys, image_digest, vulns=(), finished=None, bundle=False, report=None, subject=None,
                     predicate_type=COSIGN_VULN, statement_type=STATEMENT_V01, urlsafe=False):
    """The usual case, as cosign `attest --type vuln --key` makes it: a cosign vuln/v1 statement
    about `subject` (default: image_digest) wrapping a Trivy report with `vulns`, finished at
    `finished` (default now), signed by `keys` as a DSSE envelope, or (bundle=True, one key) as a
    sigstore bundle v0.3. Returns the document as a dict."""
    report = report if report is not None else trivy_report(vulns, created=finished)
    st = statement(subject or image_digest, predicate_type, cosign_vuln_predicate(report, finished), type_=statement_type)
    payload = canonical(st)
    if bundle:
        if len(keys) != 1:
            raise ValueError("a sigstore bundle carries exactly one signature")
        return sigstore_bundle(IN_TOTO_PAYLOAD_TYPE, payload, keys[0])
    return dsse_envelope(IN_TOTO_PAYLOAD_TYPE, payload, keys, urlsafe=urlsafe)


def bare_report_attestation(keys, report, payload_type="application/vnd.aquasec.trivy+json"):
    """A scanner report signed as it is (no in-toto statement): the report must name its image."""
    return dsse_envelope(payload_type, canonical(report), keys)


def openvex(statements, author="security@example.com", timestamp=None):
    """An OpenVEX v0.2.0 document. statements: dicts with vulnerability, products, status, ..."""
    return {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/%d" % int(time.time() * 1e6),
            "author": author, "timestamp": timestamp or rfc3339(), "version": 1, "statements": list(statements)}


def vex_not_affected(cve, image_digest, package):
    """A not_affected statement for `cve` in `package` (a purl subcomponent) of the image."""
    return {"vulnerability": {"name": cve}, "products": [{"@id": image_digest, "subcomponents": [{"@id": purl(package)}]}],
            "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}


# -- files -------------------------------------------------------------------------------------

def write_json(path, obj):
    data = obj if isinstance(obj, (bytes, bytearray)) else json.dumps(obj, indent=1).encode()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


class Store:
    """An attestation store as the gate reads it: <dir>/sha256/<hex>/*.json."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)

    def image_dir(self, image_digest):
        return os.path.join(self.dir, "sha256", digest_hex(image_digest))

    def put(self, image_digest, name, doc):
        """Writes `doc` (dict, or raw bytes) as <store>/sha256/<hex>/<name>.json; returns the path."""
        return write_json(os.path.join(self.image_dir(image_digest), name + ".json"), doc)

    def clear(self, image_digest):
        shutil.rmtree(self.image_dir(image_digest), ignore_errors=True)

    def files(self, image_digest):
        d = self.image_dir(image_digest)
        return sorted(os.listdir(d)) if os.path.isdir(d) else []


def attestation_policy(keys, store, action="enforce", threshold=None, max_age=None, max_severity=None,
                       exceptions=(), vex=(), require_images=None, sandboxes=None, digest_annotation=None, extra=""):
    """The policy's `attestation:` section (YAML text, top level). keys: Key objects or paths."""
    lines = ["attestation:", "  action: %s" % action]
    paths = [k.public_pem if isinstance(k, Key) else k for k in keys]
    lines.append("  keys: [%s]" % ", ".join(json.dumps(p) for p in paths))
    if threshold is not None:
        lines.append("  threshold: %d" % threshold)
    if max_age is not None:
        lines.append("  maxAge: %s" % max_age)
    if max_severity:
        lines.append("  maxSeverity: {%s}" % ", ".join("%s: %s" % kv for kv in max_severity.items()))
    if exceptions:
        lines.append("  exceptions:")
        for e in exceptions:
            lines.append("    - " + json.dumps(e))
    if vex:
        lines.append("  vex: [%s]" % ", ".join(json.dumps(v) for v in vex))
    lines.append("  store: %s" % json.dumps(store))
    if digest_annotation is not None:
        lines.append("  digestAnnotation: %s" % json.dumps(digest_annotation))
    if require_images is not None or sandboxes is not None:
        parts = []
        if require_images is not None:
            parts.append("images: [%s]" % ", ".join(json.dumps(g) for g in require_images))
        if sandboxes is not None:
            parts.append("sandboxes: %s" % ("true" if sandboxes else "false"))
        lines.append("  requireFor: {%s}" % ", ".join(parts))
    return "\n".join(lines) + "\n" + extra


def deeply_nested_json(depth):
    return b"[" * depth + b"]" * depth


def corpora_dir():
    """../shared/corpora relative to the repository (present in the workspace, not in a fresh clone)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.environ.get("RUNGUARD_SHARED_DIR"), os.path.join(here, "..", "..", "shared")):
        if cand and os.path.isdir(os.path.join(cand, "corpora")):
            return os.path.normpath(os.path.join(cand, "corpora"))
    return None


def self_check(directory):
    """Signs and verifies with every kind through openssl; raises on any mismatch (used by the
    tests' setUpClass so a broken helper is not mistaken for a runguard bug)."""
    ring = KeyRing(directory)
    msg = pae(IN_TOTO_PAYLOAD_TYPE, b'{"x":1}')
    assert pae("http://example.com/HelloWorld", b"hello world") == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    for kind in KINDS:
        k = ring.key(kind)
        if not k.verify_with_openssl(msg, k.sign(msg)):
            raise AssertionError("openssl could not verify its own %s signature" % kind)
    return ring
