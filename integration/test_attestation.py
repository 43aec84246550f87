"""The image scan attestation gate (issue 8) against the real runtime: runguard under real runc,
under a real containerd, and `runguardctl attest verify|inspect`.

Attestations are made here with the openssl CLI and Python's stdlib (attest_tools.py), never with
runguard's own code: keys of every supported type, DSSE signatures over PAE, sigstore bundles,
in-toto statements with cosign vuln/v1 predicates wrapping Trivy reports. Real reports from
../shared/corpora are signed too when that directory exists (the tests that need it say so and
skip otherwise).

What a test asserts, from the outside and from inside the container:
  - an image whose attestation passes starts: the probe (harness.PROBE, pid 1 reading
    /proc/self/status) ran, and <stateDir>/<id>/decision.json has decision.attestation
    {"gate": "enforce", "passed": true, ...} naming the key that signed;
  - a refused create: non-zero exit (below 128: no crash), the reason on stderr and as the last
    runc-style JSON line of --log, with RG-ATTEST-001 and gate.h's stable phrase; config.json
    byte-identical; nothing in stateDir; no container in `runc list`;
  - audit: the container starts and its record says why it would have been refused.

Images for plain runc are identified by the `runguard.dev/image-digest` annotation, believed only
when the policy lists it in trustedAnnotations; under containerd by containerd's API (the digest
`ctr images ls` shows), through the one-shot `runguardctl helper image-digest`.

Every test works in its own temporary directory (keys: one directory for the module), removes its
containers even when it fails, and never touches /etc/runguard, /run/runguard or /run/containerd.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import attest_tools as at
from harness import RUNC, RUNGUARD_BIN, TIMEOUT, Probe, RunguardTestCase, agent_settings

RUNGUARDCTL = os.path.join(RUNGUARD_BIN, "runguardctl")
DIGEST_ANNOTATION = "runguard.dev/image-digest"
TRUSTED = "trustedAnnotations: [%s]\n" % DIGEST_ANNOTATION
CONTROL = "RG-ATTEST-001"
# Text that means the process crashed rather than failed.
CRASH_MARKERS = ("Aborted", "AddressSanitizer", "UndefinedBehaviorSanitizer", "LeakSanitizer", "runtime error:",
                 "terminate called", "Segmentation fault", "core dumped", "stack-overflow", "std::bad_alloc")

CVE_CRIT = "CVE-2024-0001"
CVE_HIGH = "CVE-2024-0002"
CVE_MED = "CVE-2024-0003"
CVE_LOW = "CVE-2024-0004"

_RING_DIR = None
_RING = None


def ring():
    """Keys for the whole module (RSA generation is slow), checked once against openssl itself."""
    global _RING, _RING_DIR
    if _RING is None:
        _RING_DIR = tempfile.mkdtemp(prefix="rg-att-keys-", dir="/tmp")
        os.chmod(_RING_DIR, 0o755)
        _RING = at.self_check(_RING_DIR)
    return _RING


def tearDownModule():
    if _RING_DIR:
        shutil.rmtree(_RING_DIR, ignore_errors=True)


def assertNoCrash(test, p, what):
    out = (p.stdout or "") + (p.stderr or "")
    test.assertGreaterEqual(p.returncode, 0, "%s: killed by signal %d\n%s" % (what, -p.returncode, out[-2000:]))
    test.assertLess(p.returncode, 128, "%s: exit %d looks like a crash\n%s" % (what, p.returncode, out[-2000:]))
    for m in CRASH_MARKERS:
        test.assertNotIn(m, out, "%s: crash text %r in the output:\n%s" % (what, m, out[-2000:]))


def signer_ids(att):
    """Key ids of the signers in a verdict (CLI JSON) or a record's attestation member (which
    may carry the verdict detail at top level or under "detail")."""
    signers = att.get("signers")
    if signers is None and isinstance(att.get("detail"), dict):
        signers = att["detail"].get("signers")
    out = []
    for s in signers or []:
        out.append(s.get("id") if isinstance(s, dict) else s)
    return out


def finding_ids(items):
    return [f.get("id") if isinstance(f, dict) else f for f in items or []]


# ============================================================================================
# runguard under runc
# ============================================================================================

class AttestationRuncBase(RunguardTestCase):

    def setUp(self):
        super().setUp()
        reason = at.openssl_skip_reason()
        if reason:
            self.skipTest(reason)
        self.keys = ring()
        self.key = self.keys.key("p256")
        self.store = at.Store(os.path.join(self.tmp, "store"))
        self.digest = at.random_digest()
        self.gate()

    # -- policy and bundles --
    def gate(self, keys=None, trusted=True, controls="", extra="", **kw):
        """Writes the policy: default controls, the digest annotation trusted (unless not), and
        an attestation section with `keys` (default: self.key) and the test's store."""
        text = (TRUSTED if trusted else "") + at.attestation_policy(keys if keys is not None else [self.key],
                                                                      self.store.dir, **kw) + extra
        return self.write_policy(controls, extra=text)

    def attested_bundle(self, digest=None, annotate=True, annotations=None):
        b = self.bundle("b-%d" % time.monotonic_ns())
        ann = dict(annotations or {})
        if annotate:
            ann[DIGEST_ANNOTATION] = digest or self.digest
        b.spec["annotations"] = ann
        b.set_args("sh", "-c", "echo started")
        return b

    def put(self, doc, name="scan", digest=None):
        return self.store.put(digest or self.digest, name, doc)

    def attest(self, vulns=(), keys=None, name="scan", digest=None, **kw):
        """Signs a cosign vuln attestation for the image and puts it in the store."""
        doc = at.vuln_attestation(keys or [self.key], digest or self.digest, vulns=vulns, **kw)
        self.put(doc, name, digest)
        return doc

    # -- outcomes --
    def record_attestation(self, cid):
        record, _ = self.decision(cid)
        self.assertIn("attestation", record["decision"],
                      "decision.attestation missing from the record: %s" % json.dumps(record["decision"])[:2000])
        return record, record["decision"]["attestation"]

    def assertStarts(self, b=None):
        """The probe runs as the container's init (it read its own /proc/self/status); returns
        (id, Probe, decision.attestation)."""
        b = b or self.attested_bundle()
        cid, pr = self.run_probe(b)
        self.assertIn("Uid", pr.status, "the probe did not read /proc/self/status")
        _, att = self.record_attestation(cid)
        return cid, pr, att

    def assertPassed(self, b=None, signers=None):
        cid, pr, att = self.assertStarts(b)
        self.assertEqual(att.get("gate"), "enforce", att)
        self.assertIs(att.get("passed"), True, att)
        ids = signer_ids(att)
        for k in signers or [self.key]:
            self.assertIn(k.id, ids, "the record does not name the key that signed: %s" % att)
        self.assertEqual([f for f in self.findings(cid) if f["id"] == CONTROL], [],
                         "a passing attestation produced an %s finding" % CONTROL)
        return cid, att

    def assertRefused(self, *needles, b=None):
        """create refused by the gate: non-zero (not a crash), RG-ATTEST-001 and every needle on
        stderr and in the last --log line (runc's JSON error), nothing changed or left."""
        b = b or self.attested_bundle()
        before = b.write()
        state_before = self.state_entries()
        cid = self.new_id()
        p = self.runguard(["run", "--bundle", b.path, cid], log=b.log)
        assertNoCrash(self, p, "runguard run")
        self.assertNotEqual(p.returncode, 0, "the container was not refused; stdout %r, log %s" % (p.stdout, b.log_text()))
        self.assertNotIn("started", p.stdout)
        lines = b.log_lines()
        self.assertTrue(lines, "nothing written to --log " + b.log)
        last = json.loads(lines[-1])
        self.assertEqual(last.get("level"), "error", lines[-1])
        msg = last.get("msg", "")
        for n in (CONTROL,) + needles:
            self.assertIn(n, msg, "--log error line")
            self.assertIn(n, p.stderr, "stderr")
        self.assertEqual(b.config_bytes(), before, "config.json changed by a refused create")
        self.assertFalse(os.path.exists(self.container_state_dir(cid)), "state left for a refused container")
        self.assertEqual(self.state_entries(), state_before, "a refused create changed " + self.state_dir)
        self.assertNotIn(cid, self.runc_list_ids())
        return msg

    def state_entries(self):
        """stateDir's entries (the containers a test started before, kept for their records)."""
        return sorted(os.listdir(self.state_dir)) if os.path.isdir(self.state_dir) else []


class AttestationRuncTest(AttestationRuncBase):

    # -- passes --
    def test_passing_attestation_starts_and_records_the_signer(self):
        self.attest([at.Vuln(CVE_MED, "libfoo", "MEDIUM", "1.0.1"), at.Vuln(CVE_LOW, "libbar", "LOW")])
        cid, att = self.assertPassed()
        summary = att.get("summary", "")
        self.assertTrue(summary.startswith("passed: signed by 1 trusted key"), summary)
        self.assertIn("0 blocking", summary)
        record, _ = self.decision(cid)
        self.assertEqual(record["context"].get("imageDigest"), self.digest)

    def test_every_key_type_and_envelope_form(self):
        cases = [
            ("p256 dsse", "p256", {}),
            ("p384 dsse", "p384", {}),
            ("ed25519 dsse", "ed25519", {}),
            ("rsa pkcs1 dsse", "rsa", {}),
            ("rsa pss dsse", "rsa-pss", {}),
            ("p256 bundle v0.3", "p256", {"bundle": True}),
            ("ed25519 bundle v0.3", "ed25519", {"bundle": True}),
            ("url-safe base64", "p256", {"urlsafe": True}),
            ("statement v1", "p384", {"statement_type": at.STATEMENT_V1}),
        ]
        for name, kind, kw in cases:
            with self.subTest(name=name):
                key = self.keys.key(kind)
                self.digest = at.random_digest()
                self.gate(keys=[key])
                self.attest([at.Vuln(CVE_LOW, "libbar", "LOW")], keys=[key], **kw)
                self.assertPassed(signers=[key])

    def test_legacy_bundle_media_types(self):
        for version in ("0.1", "0.2", "0.3"):
            with self.subTest(version=version):
                self.digest = at.random_digest()
                st = at.statement(self.digest, at.COSIGN_VULN, at.cosign_vuln_predicate(at.trivy_report([])))
                doc = at.sigstore_bundle(at.IN_TOTO_PAYLOAD_TYPE, at.canonical(st), self.key,
                                         media_type=at.BUNDLE_LEGACY % version)
                self.put(doc)
                self.assertPassed()

    def test_bare_trivy_report_signed_as_is(self):
        report = at.trivy_report([at.Vuln(CVE_LOW, "libbar", "LOW")], image_digests=[self.digest])
        self.put(at.bare_report_attestation([self.key], report))
        self.assertPassed()
        # The same report for another image: bound by the digests it names itself.
        self.digest = at.random_digest()
        self.put(at.bare_report_attestation([self.key], report))
        self.assertRefused("signed for another image")

    def test_custom_digest_annotation(self):
        self.gate(trusted=False, digest_annotation="example.com/digest", extra="trustedAnnotations: [example.com/digest]\n")
        self.attest()
        self.assertPassed(self.attested_bundle(annotate=False, annotations={"example.com/digest": self.digest}))
        # The default key is no longer the one looked at.
        self.assertRefused("image digest unknown", b=self.attested_bundle())

    # -- severity --
    def test_failing_severity_refused(self):
        self.attest([at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2"), at.Vuln(CVE_LOW, "libbar", "LOW")])
        msg = self.assertRefused("above the severity ceiling", CVE_CRIT)
        self.assertNotIn(CVE_LOW, msg, "a finding under the ceiling was reported as blocking")

    def test_ceilings_split_by_fix_state(self):
        # Defaults: fixable up to MEDIUM, unfixable up to HIGH.
        self.attest([at.Vuln(CVE_HIGH, "bash", "HIGH")])  # HIGH, no fix: allowed
        self.assertPassed()
        self.attest([at.Vuln(CVE_HIGH, "bash", "HIGH", "5.2.1")])  # HIGH with a fix: not
        self.assertRefused("above the severity ceiling", CVE_HIGH)
        self.gate(max_severity={"fixable": "HIGH", "unfixable": "HIGH"})
        self.assertPassed()
        self.gate(max_severity={"fixable": "NONE", "unfixable": "NONE"})
        self.attest([at.Vuln(CVE_LOW, "libbar", "LOW", "1.0.1")])
        self.assertRefused("above the severity ceiling", CVE_LOW)

    def test_unknown_severity_ranks_as_unknownAs(self):
        self.attest([at.Vuln("CVE-2024-0009", "libodd", "UNKNOWN")])
        self.assertPassed()  # UNKNOWN ranks HIGH by default, the unfixable ceiling is HIGH
        self.gate(max_severity={"unknownAs": "CRITICAL"})
        self.assertRefused("above the severity ceiling", "CVE-2024-0009")

    # -- age --
    def test_stale_attestation_refused(self):
        self.attest([], finished=at.rfc3339(seconds_ago=200 * 3600))
        self.assertRefused("older than maxAge", "168h")

    def test_max_age_from_policy(self):
        self.attest([], finished=at.rfc3339(seconds_ago=2 * 3600))
        self.assertPassed()
        self.gate(max_age="1h")
        self.assertRefused("older than maxAge")

    def test_scan_in_the_future_refused(self):
        self.attest([], finished=at.rfc3339(seconds_ago=-86400))
        self.assertRefused("scan finished in the future")

    # -- trust and binding --
    def test_missing_attestation_refused(self):
        self.assertRefused("no attestation for " + self.digest)

    def test_forged_payload_refused(self):
        doc = at.vuln_attestation([self.key], self.digest, vulns=[at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2")])
        self.put(at.tamper_payload(doc))  # CRITICAL -> LOW after signing
        self.assertRefused("not signed by a trusted key")

    def test_tampered_signature_refused(self):
        self.put(at.tamper_signature(at.vuln_attestation([self.key], self.digest)))
        self.assertRefused("not signed by a trusted key")

    def test_wrong_key_refused(self):
        other = self.keys.key("p256", slot=1)
        self.attest([], keys=[other])
        self.assertRefused("not signed by a trusted key")

    def test_threshold_counts_distinct_keys(self):
        k2 = self.keys.key("ed25519", slot=0)
        self.gate(keys=[self.key, k2], threshold=2)
        self.attest([], keys=[self.key])
        self.assertRefused("signed by 1 of the required 2 distinct trusted keys")
        self.attest([], keys=[self.key, self.key])  # the same key twice counts once
        self.assertRefused("signed by 1 of the required 2 distinct trusted keys")
        self.attest([], keys=[self.key, k2])
        self.assertPassed(signers=[self.key, k2])

    def test_attestation_for_another_image_refused(self):
        other = at.random_digest()
        self.attest([], subject=other)  # correctly signed, stored under this image's digest
        self.assertRefused("signed for another image")

    def test_untrusted_digest_annotation_refused(self):
        self.gate(trusted=False)
        self.attest([])  # a good attestation exists: the image cannot be identified
        self.assertRefused("image digest unknown")

    def test_no_digest_refused(self):
        self.attest([])
        self.assertRefused("image digest unknown", b=self.attested_bundle(annotate=False))

    def test_malformed_digest_annotation_refused(self):
        self.assertRefused(b=self.attested_bundle(digest="sha256:not-hex/../../etc"))

    # -- which containers --
    def test_requireFor_excludes_an_unnamed_image(self):
        # Plain runc has no image reference: "" matches only "*".
        self.gate(require_images=["registry.example/*"])
        cid, pr, att = self.assertStarts(self.attested_bundle(annotate=False))
        self.assertNotEqual(att.get("passed"), False, "a container outside requireFor was judged: %s" % att)
        self.assertEqual([f for f in self.findings(cid) if f["id"] == CONTROL], [])

    # -- exceptions and VEX --
    def test_exception_applies_until_it_expires(self):
        self.attest([at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2")])
        self.gate(exceptions=[{"id": CVE_CRIT, "until": at.day(30), "reason": "patched in the next release"}])
        cid, att = self.assertPassed()
        self.assertIn(CVE_CRIT, [f.get("id") for f in att["detail"]["findings"]["suppressed"]], att)
        # Expired: judged as if there were none (the verdict lists it; test_verify_expired_exception...).
        self.gate(exceptions=[{"id": CVE_CRIT, "until": at.day(-2), "reason": "was due last week"}])
        self.assertRefused("above the severity ceiling", CVE_CRIT, "exception %s expired on %s" % (CVE_CRIT, at.day(-2)))
        # Limited to images by glob: plain runc names no image, so it does not apply.
        self.gate(exceptions=[{"id": CVE_CRIT, "until": at.day(30), "images": ["registry.example/app/*"],
                               "reason": "app only"}])
        self.assertRefused("above the severity ceiling", CVE_CRIT)

    def test_vex_not_affected_suppresses(self):
        self.attest([at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2")])
        vex = at.write_json(os.path.join(self.tmp, "vex", "openssl.json"),
                            at.openvex([at.vex_not_affected(CVE_CRIT, self.digest, "openssl")]))
        self.gate(vex=[vex])
        self.assertPassed()
        # A directory of documents works the same; an unrelated package's statement does not.
        other = at.write_json(os.path.join(self.tmp, "vex2", "other.json"),
                              at.openvex([at.vex_not_affected(CVE_CRIT, self.digest, "libbar")]))
        self.gate(vex=[os.path.dirname(other)])
        self.assertRefused("above the severity ceiling", CVE_CRIT)

    # -- the store --
    def test_newest_scan_decides(self):
        good_old = at.vuln_attestation([self.key], self.digest, vulns=[], finished=at.rfc3339(seconds_ago=48 * 3600))
        bad_new = at.vuln_attestation([self.key], self.digest, vulns=[at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2")],
                                      finished=at.rfc3339(seconds_ago=3600))
        self.put(good_old, "a-old")
        self.put(bad_new, "b-new")
        self.assertRefused("above the severity ceiling", CVE_CRIT)
        # Older failing, newer passing: the newer scan decides (the CVE was fixed).
        self.store.clear(self.digest)
        self.put(at.vuln_attestation([self.key], self.digest, vulns=[at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2")],
                                     finished=at.rfc3339(seconds_ago=48 * 3600)), "a-old")
        self.put(at.vuln_attestation([self.key], self.digest, vulns=[], finished=at.rfc3339(seconds_ago=3600)), "b-new")
        self.assertPassed()

    def test_replaced_attestation_is_checked_again(self):
        # The verdict cache is keyed by the document's digest: new bytes, new verdict.
        self.attest([])
        self.assertPassed()
        self.assertPassed()
        self.attest([at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2")])  # same file name
        self.assertRefused("above the severity ceiling")

    def test_cached_pass_never_outlives_max_age(self):
        # A scan 50 s old under maxAge 1m passes (and is cached, in <libDir>/attest-cache); 12 s
        # later the same bytes, policy and image must be refused as stale, not served from cache.
        finished = time.time() - 50
        self.gate(max_age="1m")
        self.attest([], finished=at.rfc3339(at=finished))
        self.assertPassed()
        self.assertPassed()  # the second start: a cache hit
        cache = os.path.join(self.lib_dir, "attest-cache")
        self.assertTrue(os.path.isdir(cache) and os.listdir(cache), "no verdict cache under " + cache)
        time.sleep(max(0.0, finished + 62 - time.time()))
        self.assertRefused("older than maxAge")

    def test_garbage_in_the_store_refuses_cleanly(self):
        cases = {
            "truncated": json.dumps(at.vuln_attestation([self.key], self.digest)).encode()[:-40],
            "not-json": b"\x00\xff garbage \xfe",
            "nested": at.deeply_nested_json(100000),
            "bad-base64": json.dumps({"payloadType": at.IN_TOTO_PAYLOAD_TYPE, "payload": "!!!not base64!!!",
                                      "signatures": [{"keyid": "", "sig": "AAAA"}]}).encode(),
        }
        for name, data in cases.items():
            with self.subTest(case=name):
                self.store.clear(self.digest)
                self.put(data, name)
                self.assertRefused(name + ".json")

    def test_oversized_attestation_refused_by_size(self):
        path = self.put(b" " * (at.MAX_ATTESTATION_BYTES + 1), "huge")
        self.assertRefused("above the limit of %d bytes" % at.MAX_ATTESTATION_BYTES, os.path.basename(path))

    def test_garbage_beside_a_good_attestation_is_ignored(self):
        self.put(b"{\"payload\":", "a-broken")
        self.attest([], name="b-good")
        self.assertPassed()

    # -- audit and off --
    def test_audit_action_starts_and_records_why(self):
        self.gate(action="audit")
        self.attest([at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2")])
        cid, pr, att = self.assertStarts()
        self.assertEqual(att.get("gate"), "audit", att)
        self.assertIs(att.get("passed"), False, att)
        self.assertIn("above the severity ceiling", att.get("summary", ""))
        self.assertIn(CVE_CRIT, att.get("summary", ""))
        found = self.findings(cid, CONTROL)
        self.assertEqual(len(found), 1, self.findings(cid))
        self.assertEqual(found[0]["action"], "audit")

    def test_audit_records_a_missing_attestation(self):
        self.gate(action="audit")
        cid, pr, att = self.assertStarts()
        self.assertIs(att.get("passed"), False, att)
        self.assertIn("no attestation for " + self.digest, att.get("summary", ""))
        self.assertEqual([f["action"] for f in self.findings(cid, CONTROL)], ["audit"])

    def test_top_level_audit_mode_starts(self):
        self.gate(extra="mode: audit\n")
        cid, pr, att = self.assertStarts()
        self.assertIs(att.get("passed"), False, att)
        self.assertIn("no attestation for", att.get("summary", ""))
        self.assertEqual([f["action"] for f in self.findings(cid, CONTROL)], ["audit"])

    def test_gate_off_without_keys(self):
        cases = {
            "no section": None,
            "no keys": dict(keys=[]),
            "action off": dict(action="off"),
        }
        for name, kw in cases.items():
            with self.subTest(case=name):
                if kw is None:
                    self.write_policy(extra=TRUSTED)
                else:
                    self.gate(**kw)
                cid, pr, att = self.assertStarts()  # nothing in the store
                self.assertEqual(att.get("gate"), "off", att)
                self.assertEqual(self.findings(cid, CONTROL), [])

    def test_unreadable_key_fails_closed(self):
        missing = os.path.join(self.tmp, "no-such-key.pub")
        not_a_key = self.keys.write_public("not-a-key.pub", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
        # failurePolicy: open does not open it: an unreadable trusted key is a broken policy, and
        # opening would start the container with no control at all.
        for key, extra in ((missing, ""), (not_a_key, ""), (self.key.private_pem, ""), (missing, "failurePolicy: open\n")):
            with self.subTest(key=key, extra=extra):
                self.gate(keys=[key], extra=extra)
                self.attest([])
                b = self.attested_bundle()
                before = b.write()
                cid = self.new_id()
                p = self.runguard(["run", "--bundle", b.path, cid], log=b.log)
                assertNoCrash(self, p, "runguard run")
                self.assertNotEqual(p.returncode, 0, "started with an unusable trusted key")
                self.assertIn(key, p.stderr)
                self.assertEqual(b.config_bytes(), before)
                self.assertFalse(os.path.exists(self.container_state_dir(cid)), "state left for a refused container")

    # -- real reports (../shared/corpora) --
    def corpus_report(self, name):
        d = at.corpora_dir()
        if d is None:
            self.skipTest("../shared/corpora is not present (a fresh clone): real Trivy reports skipped")
        with open(os.path.join(d, "trivy", name)) as f:
            report = json.load(f)
        # As if scanned just now: the gate judges a wrapped report by the older of its own time and
        # the predicate's, and these goldens were made years ago.
        report["CreatedAt"] = at.rfc3339()
        return report

    def test_corpus_alpine_39_refused_on_critical(self):
        self.attest(report=self.corpus_report("alpine-39.json.golden"))
        self.assertRefused("above the severity ceiling", "CVE-2019-14697")

    def test_corpus_centos_7_passes_default_ceilings(self):
        # 2 LOW + 1 MEDIUM (fixed), one of the LOWs will_not_fix: under both default ceilings.
        self.attest(report=self.corpus_report("centos-7.json.golden"))
        self.assertPassed()


# ============================================================================================
# runguard under containerd
# ============================================================================================

class AttestationContainerdTest(unittest.TestCase):
    """One containerd for the class (integration/containerd.py), the busybox image imported; the
    store is keyed by the digest containerd reports for it."""

    NS = "k8s.io"  # CRI annotations (the sandbox cases write them with ctr) are believed only here
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        from containerd import IMAGE_REF, Containerd, containerd_skip_reason
        reason = containerd_skip_reason() or at.openssl_skip_reason()
        if reason:
            raise unittest.SkipTest(reason)
        if not os.access(RUNGUARDCTL, os.X_OK):
            raise unittest.SkipTest("runguardctl (the image-digest helper) not built at " + RUNGUARDCTL)
        cls.image_ref = IMAGE_REF
        cls.tmp = tempfile.mkdtemp(prefix="rg-att-ctrd-", dir="/tmp")
        os.chmod(cls.tmp, 0o755)
        cls.state_dir = os.path.join(cls.tmp, "state")
        cls.policy_path = os.path.join(cls.tmp, "policy.yaml")
        cls.store = at.Store(os.path.join(cls.tmp, "store"))
        cls.keys = ring()
        cls.key = cls.keys.key("p256")
        with open(cls.policy_path, "w") as f:
            f.write("stateDir: %s\n" % cls.state_dir)
        cls.ctrd = Containerd(env={"RUNGUARD_CONFIG": cls.policy_path}, namespaces=[cls.NS])
        try:
            cls.ctrd.start()
            cls.ctrd.import_image(cls.NS)
            cls.digest = cls.ctr_digest()
        except BaseException:
            cls.ctrd.stop()
            cls.ctrd.remove_dir()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        from containerd import mounts_under
        problems = cls.ctrd.stop()
        leftovers = mounts_under(cls.ctrd.dir) + mounts_under(cls.tmp)
        state = sorted(os.listdir(cls.state_dir)) if os.path.isdir(cls.state_dir) else []
        cls.ctrd.remove_dir()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        msgs = list(problems)
        if leftovers:
            msgs.append("mounts left under the temp dirs: %s" % leftovers)
        if state:
            msgs.append("runguard state left in %s: %s" % (cls.state_dir, state))
        if msgs:
            raise AssertionError("containerd teardown: " + "; ".join(msgs))

    @classmethod
    def ctr_digest(cls):
        p = cls.ctrd.ctr(["images", "ls"], ns=cls.NS, check=True)
        for line in p.stdout.splitlines()[1:]:
            cols = line.split()
            if cols and cols[0] == cls.image_ref:
                return next(c for c in cols if c.startswith("sha256:"))
        raise AssertionError("ctr images ls does not list %s:\n%s" % (cls.image_ref, p.stdout))

    def setUp(self):
        self.store.clear(self.digest)
        self.gate()

    def gate(self, **kw):
        text = "stateDir: %s\nlibDir: %s-lib\nevents: { path: %s-events.jsonl }\nruntime:\n  path: %s\n" % (
            self.state_dir, self.state_dir, self.state_dir, RUNC)
        text += agent_settings(self.tmp, containerd=self.ctrd.address)  # no runguardd: the helper answers
        text += at.attestation_policy([self.key], self.store.dir, **kw)
        with open(self.policy_path, "w") as f:
            f.write(text)

    def attest(self, vulns=(), **kw):
        self.store.put(self.digest, "scan", at.vuln_attestation([self.key], self.digest, vulns=vulns, **kw))

    def ctr(self, args, **kw):
        return self.ctrd.ctr(args, ns=self.NS, **kw)

    def new_id(self, name):
        cid = "%s-%d-%d" % (name, os.getpid(), time.monotonic_ns() % 100000)
        self.addCleanup(self.ctrd.remove_container, self.NS, cid)
        return cid

    def run_fg(self, name, extra=()):
        cid = self.new_id(name)
        args = ["run", "--rm"] + list(extra) + self.ctrd.run_flags() + [
            self.image_ref, cid, "sh", "-c", "grep '^Uid:' /proc/self/status; echo attested-ok"]
        return cid, self.ctr(args)

    def start_sleeper(self, name, extra=()):
        cid = self.new_id(name)
        p = self.ctr(["run", "-d", "--null-io"] + list(extra) + self.ctrd.run_flags() + [self.image_ref, cid, "sleep", "600"])
        self.assertEqual(p.returncode, 0, "ctr run -d failed: %s\ncontainerd log:\n%s" % (p.stderr, self.ctrd.log_tail(15)))
        return cid

    def decision(self, cid):
        path = os.path.join(self.state_dir, cid, "decision.json")
        self.assertTrue(os.path.isfile(path), "no decision record at " + path)
        with open(path) as f:
            return json.load(f)

    def assertStarts(self, name, extra=()):
        cid, p = self.run_fg(name, extra)
        assertNoCrash(self, p, "ctr run")
        self.assertEqual(p.returncode, 0, "ctr run failed (rc %d)\nstderr: %s\ncontainerd log:\n%s"
                         % (p.returncode, p.stderr, self.ctrd.log_tail(15)))
        self.assertIn("attested-ok", p.stdout)
        self.assertRegex(p.stdout, r"(?m)^Uid:\s+\d+", "the process did not read its /proc/self/status")
        return cid

    def assertRefused(self, name, *needles, extra=()):
        cid, p = self.run_fg(name, extra)
        self.assertNotEqual(p.returncode, 0, "the container ran: " + p.stdout)
        self.assertNotIn("attested-ok", p.stdout)
        self.assertIn("OCI runtime create failed", p.stderr)
        for n in (CONTROL,) + needles:
            self.assertIn(n, p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.state_dir, cid)), "runguard kept state for a refused container")
        return p.stderr

    def test_attested_image_starts_and_records_the_verdict(self):
        self.attest([at.Vuln(CVE_LOW, "libbar", "LOW")])
        self.assertStarts("att-pass")
        cid = self.start_sleeper("att-rec")
        record = self.decision(cid)
        self.assertEqual(record["context"].get("imageDigest"), self.digest)
        att = record["decision"].get("attestation")
        self.assertIsNotNone(att, record["decision"])
        self.assertEqual(att.get("gate"), "enforce")
        self.assertIs(att.get("passed"), True, att)
        self.assertIn(self.key.id, signer_ids(att))
        self.ctrd.remove_container(self.NS, cid)

    def test_failing_attestation_refused(self):
        self.attest([at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2")])
        self.assertRefused("att-crit", "above the severity ceiling", CVE_CRIT)

    def test_stale_attestation_refused(self):
        self.attest([], finished=at.rfc3339(seconds_ago=30 * 86400))
        self.assertRefused("att-stale", "older than maxAge")

    def test_missing_attestation_refused(self):
        self.assertRefused("att-missing", "no attestation for " + self.digest)

    def test_forged_attestation_refused(self):
        doc = at.vuln_attestation([self.key], self.digest, vulns=[at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2")])
        self.store.put(self.digest, "scan", at.tamper_payload(doc))
        self.assertRefused("att-forged", "not signed by a trusted key")

    def test_audit_starts(self):
        self.gate(action="audit")
        self.assertStarts("att-audit")
        cid = self.start_sleeper("att-audit-rec")
        att = self.decision(cid)["decision"].get("attestation") or {}
        self.assertEqual(att.get("gate"), "audit", att)
        self.assertIs(att.get("passed"), False, att)
        self.assertIn("no attestation for " + self.digest, att.get("summary", ""))
        self.ctrd.remove_container(self.NS, cid)

    def test_requireFor_matches_containerds_image_name(self):
        # containerd names the image (runguard.test/busybox:latest); requireFor globs match it.
        self.gate(require_images=["other.example/*"])
        self.assertStarts("att-notreq")
        self.gate(require_images=["runguard.test/*"])
        self.assertRefused("att-req", "no attestation for")

    def test_sandboxes_only_when_asked(self):
        ann = ["--annotation", "io.kubernetes.cri.container-type=sandbox",
               "--annotation", "io.kubernetes.cri.sandbox-namespace=default",
               "--annotation", "io.kubernetes.cri.sandbox-name=pod-b"]
        self.assertStarts("att-sandbox", extra=ann)  # nothing in the store: pause containers are skipped
        self.gate(sandboxes=True)
        self.assertRefused("att-sandbox-req", "no attestation for " + self.digest, extra=ann)

    def test_cri_image_name_annotation(self):
        # Under CRI, containerd names the image in io.kubernetes.cri.image-name (its first sorted
        # reference, a tag it holds): give the imported image that second name.
        name = "registry.example/pay/app:1"
        p = self.ctr(["images", "tag", self.image_ref, name])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.addCleanup(self.ctr, ["images", "rm", name])
        ann = ["--annotation", "io.kubernetes.cri.container-type=container",
               "--annotation", "io.kubernetes.cri.sandbox-namespace=payments",
               "--annotation", "io.kubernetes.cri.sandbox-name=pod-a",
               "--annotation", "io.kubernetes.cri.image-name=" + name]
        self.gate(require_images=["registry.example/pay/*"])
        self.assertRefused("att-cri", "no attestation for", extra=ann)
        self.attest([at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2")])
        self.gate(require_images=["registry.example/pay/*"],
                  exceptions=[{"id": CVE_CRIT, "until": at.day(30), "images": ["registry.example/pay/*"], "reason": "t"}])
        self.assertStarts("att-cri-exc", extra=ann)


# ============================================================================================
# runguardctl attest verify | inspect
# ============================================================================================

class AttestCliTest(unittest.TestCase):
    """The CLI on its own: no containers, no root needed."""

    maxDiff = None

    def setUp(self):
        if not os.access(RUNGUARDCTL, os.X_OK):
            self.skipTest("runguardctl not built at %s (set RUNGUARD_BIN)" % RUNGUARDCTL)
        reason = at.openssl_skip_reason()
        if reason:
            self.skipTest(reason)
        self.tmp = tempfile.mkdtemp(prefix="rg-att-cli-", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.keys = ring()
        self.key = self.keys.key("p256")
        self.digest = at.random_digest()
        self.store = at.Store(os.path.join(self.tmp, "store"))
        self.policy = self.write_policy()

    def write_policy(self, keys=None, **kw):
        """A policy file holding only an attestation section (everything else defaults)."""
        path = os.path.join(self.tmp, "policy.yaml")
        with open(path, "w") as f:
            f.write(at.attestation_policy(keys if keys is not None else [self.key], self.store.dir, **kw))
        return path

    def doc_file(self, doc, name="att.json"):
        return at.write_json(os.path.join(self.tmp, name), doc)

    def ctl(self, *args, timeout=60):
        p = subprocess.run([RUNGUARDCTL] + list(args), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           errors="replace", timeout=timeout)
        assertNoCrash(self, p, "runguardctl " + " ".join(a if len(a) < 80 else a[:80] + "…" for a in args))
        return p

    def verify(self, *extra, digest=None, fmt="json"):
        return self.ctl("attest", "verify", "--policy", self.policy, "--image-digest", digest or self.digest,
                        "--format", fmt, *extra)

    def verify_json(self, *extra, want_rc, digest=None):
        p = self.verify(*extra, digest=digest)
        self.assertEqual(p.returncode, want_rc, "rc %d\nstdout: %s\nstderr: %s" % (p.returncode, p.stdout, p.stderr))
        try:
            out = json.loads(p.stdout)
        except ValueError:
            self.fail("--format json did not print JSON:\n" + p.stdout[:2000])
        for member, kind in (("verified", bool), ("passed", bool), ("signers", list), ("age", (str, type(None))),
                             ("findings", dict), ("reasons", list)):
            self.assertIn(member, out, "JSON member %r missing: %s" % (member, sorted(out)))
            self.assertIsInstance(out[member], kind, member)
        # age is null only when no scan time was judged (unverified, unbound, no or future scan time).
        if out["passed"]:
            self.assertIsInstance(out["age"], str)
        self.assertIsInstance(out["findings"].get("blocking"), list, out["findings"])
        self.assertIsInstance(out["findings"].get("suppressed"), list, out["findings"])
        return out

    # -- verify --
    def test_verify_pass(self):
        f = self.doc_file(at.vuln_attestation([self.key], self.digest, vulns=[at.Vuln(CVE_LOW, "libbar", "LOW")]))
        out = self.verify_json("--attestation", f, want_rc=0)
        self.assertTrue(out["verified"])
        self.assertTrue(out["passed"])
        self.assertIn(self.key.id, signer_ids(out))
        self.assertEqual(out["findings"]["blocking"], [])
        self.assertTrue(out["reasons"] and out["reasons"][0].startswith("passed: signed by 1 trusted key"), out["reasons"])

    def test_verify_fail_on_severity(self):
        f = self.doc_file(at.vuln_attestation([self.key], self.digest, vulns=[
            at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2"), at.Vuln(CVE_LOW, "libbar", "LOW")]))
        out = self.verify_json("--attestation", f, want_rc=1)
        self.assertTrue(out["verified"])
        self.assertFalse(out["passed"])
        self.assertEqual(finding_ids(out["findings"]["blocking"]), [CVE_CRIT])
        self.assertTrue(any("above the severity ceiling" in r and CVE_CRIT in r for r in out["reasons"]), out["reasons"])

    def test_verify_text_format(self):
        f = self.doc_file(at.vuln_attestation([self.key], self.digest, vulns=[at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2")]))
        p = self.verify("--attestation", f, fmt="text")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(CVE_CRIT, p.stdout)
        self.assertIn("above the severity ceiling", p.stdout)

    def test_verify_every_key_type(self):
        for kind in at.KINDS:
            for bundle in (False, True):
                with self.subTest(kind=kind, bundle=bundle):
                    key = self.keys.key(kind)
                    self.policy = self.write_policy(keys=[key])
                    f = self.doc_file(at.vuln_attestation([key], self.digest, bundle=bundle))
                    out = self.verify_json("--attestation", f, want_rc=0)
                    self.assertEqual(signer_ids(out), [key.id])

    def test_verify_store(self):
        self.store.put(self.digest, "scan", at.vuln_attestation([self.key], self.digest))
        out = self.verify_json("--store", self.store.dir, want_rc=0)
        self.assertTrue(out["passed"])
        other = at.random_digest()
        out = self.verify_json("--store", self.store.dir, digest=other, want_rc=1)
        self.assertFalse(out["passed"])
        self.assertTrue(any(("no attestation for " + other) in r for r in out["reasons"]), out["reasons"])

    def test_verify_now(self):
        f = self.doc_file(at.vuln_attestation([self.key], self.digest, finished="2026-01-01T00:00:00Z"))
        out = self.verify_json("--attestation", f, "--now", "2026-01-02T00:00:00Z", want_rc=0)
        self.assertEqual(out["age"], "24h0m0s")
        out = self.verify_json("--attestation", f, "--now", "2026-03-01T00:00:00Z", want_rc=1)
        self.assertTrue(any("older than maxAge" in r for r in out["reasons"]), out["reasons"])
        out = self.verify_json("--attestation", f, "--now", "2025-12-01T00:00:00Z", want_rc=1)
        self.assertTrue(any("scan finished in the future" in r for r in out["reasons"]), out["reasons"])

    def test_verify_untrusted_and_unbound(self):
        cases = {
            "wrong key": (at.vuln_attestation([self.keys.key("p256", slot=1)], self.digest), "not signed by a trusted key"),
            "forged": (at.tamper_payload(at.vuln_attestation([self.key], self.digest)), "not signed by a trusted key"),
            "bad signature": (at.tamper_signature(at.vuln_attestation([self.key], self.digest)), "not signed by a trusted key"),
            "another image": (at.vuln_attestation([self.key], self.digest, subject=at.random_digest()), "signed for another image"),
        }
        for name, (doc, phrase) in cases.items():
            with self.subTest(case=name):
                out = self.verify_json("--attestation", self.doc_file(doc), want_rc=1)
                self.assertFalse(out["passed"])
                if name != "another image":
                    self.assertFalse(out["verified"])
                    self.assertEqual(out["signers"], [])
                self.assertTrue(any(phrase in r for r in out["reasons"]), out["reasons"])

    def test_verify_exceptions_by_image_name(self):
        f = self.doc_file(at.vuln_attestation([self.key], self.digest, vulns=[at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2")]))
        self.policy = self.write_policy(exceptions=[{"id": CVE_CRIT, "until": at.day(30), "images": ["registry.example/app/*"],
                                                     "reason": "fixed next sprint"}])
        out = self.verify_json("--attestation", f, "--image", "registry.example/app/web:1", want_rc=0)
        self.assertEqual(finding_ids(out["findings"]["suppressed"]), [CVE_CRIT])
        out = self.verify_json("--attestation", f, "--image", "registry.example/other:1", want_rc=1)
        self.assertEqual(finding_ids(out["findings"]["blocking"]), [CVE_CRIT])
        out = self.verify_json("--attestation", f, want_rc=1)  # no image name: only "*" would match

    def test_verify_expired_exception_is_reported(self):
        f = self.doc_file(at.vuln_attestation([self.key], self.digest, vulns=[at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2")]))
        self.policy = self.write_policy(exceptions=[{"id": CVE_CRIT, "until": "2020-01-31", "reason": "old"}])
        out = self.verify_json("--attestation", f, want_rc=1)
        self.assertTrue(any("exception %s expired on 2020-01-31" % CVE_CRIT in r for r in out["reasons"]), out["reasons"])

    def test_verify_vex(self):
        f = self.doc_file(at.vuln_attestation([self.key], self.digest, vulns=[at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2")]))
        vex = at.write_json(os.path.join(self.tmp, "vex.json"), at.openvex([at.vex_not_affected(CVE_CRIT, self.digest, "openssl")]))
        self.policy = self.write_policy(vex=[vex])
        out = self.verify_json("--attestation", f, want_rc=0)
        self.assertEqual(finding_ids(out["findings"]["suppressed"]), [CVE_CRIT])
        # A VEX document above 8 MiB is refused when the policy loads: an input error.
        big = at.write_json(os.path.join(self.tmp, "big-vex.json"), b" " * (at.MAX_VEX_BYTES + 1))
        self.policy = self.write_policy(vex=[big])
        p = self.verify("--attestation", f)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("big-vex.json", p.stderr)

    def test_verify_threshold(self):
        k2 = self.keys.key("p384")
        self.policy = self.write_policy(keys=[self.key, k2], threshold=2)
        out = self.verify_json("--attestation", self.doc_file(at.vuln_attestation([self.key], self.digest)), want_rc=1)
        self.assertTrue(any("signed by 1 of the required 2 distinct trusted keys" in r for r in out["reasons"]), out["reasons"])
        out = self.verify_json("--attestation", self.doc_file(at.vuln_attestation([self.key, k2], self.digest)), want_rc=0)
        self.assertEqual(sorted(signer_ids(out)), sorted([self.key.id, k2.id]))

    def test_verify_input_errors_exit_2(self):
        good = self.doc_file(at.vuln_attestation([self.key], self.digest))
        bad_policy = os.path.join(self.tmp, "bad-policy.yaml")
        with open(bad_policy, "w") as f:
            f.write("attestation:\n  action: enforce\n  keys: [%s]\n  maxAge: forever\n" % self.key.public_pem)
        nokey_policy = os.path.join(self.tmp, "nokey-policy.yaml")
        with open(nokey_policy, "w") as f:
            f.write(at.attestation_policy([os.path.join(self.tmp, "missing.pub")], self.store.dir))
        base = ["attest", "verify"]
        cases = {
            "no policy": base + ["--image-digest", self.digest, "--attestation", good],
            "policy missing": base + ["--policy", os.path.join(self.tmp, "nope.yaml"), "--image-digest", self.digest,
                                      "--attestation", good],
            "policy invalid": base + ["--policy", bad_policy, "--image-digest", self.digest, "--attestation", good],
            "key file missing": base + ["--policy", nokey_policy, "--image-digest", self.digest, "--attestation", good],
            "no digest": base + ["--policy", self.policy, "--attestation", good],
            "malformed digest": base + ["--policy", self.policy, "--image-digest", "sha256:xyz", "--attestation", good],
            "digest without algorithm": base + ["--policy", self.policy, "--image-digest", self.digest[7:], "--attestation", good],
            "neither source": base + ["--policy", self.policy, "--image-digest", self.digest],
            "both sources": base + ["--policy", self.policy, "--image-digest", self.digest, "--attestation", good,
                                    "--store", self.store.dir],
            "attestation missing": base + ["--policy", self.policy, "--image-digest", self.digest, "--attestation",
                                           os.path.join(self.tmp, "nope.json")],
            "bad --now": base + ["--policy", self.policy, "--image-digest", self.digest, "--attestation", good,
                                 "--now", "yesterday"],
            "bad --format": base + ["--policy", self.policy, "--image-digest", self.digest, "--attestation", good,
                                    "--format", "xml"],
            "unknown flag": base + ["--policy", self.policy, "--image-digest", self.digest, "--attestation", good, "--fast"],
        }
        for name, args in cases.items():
            with self.subTest(case=name):
                p = self.ctl(*args)
                self.assertEqual(p.returncode, 2, "rc %d\nstdout: %s\nstderr: %s" % (p.returncode, p.stdout, p.stderr))
                self.assertTrue(p.stderr.strip(), "exit 2 without a message")
        p = self.ctl(*cases["key file missing"])
        self.assertIn("missing.pub", p.stderr)

    # -- check --
    def test_check_reports_the_gate(self):
        from harness import default_spec
        bundle = os.path.join(self.tmp, "bundle")
        os.makedirs(os.path.join(bundle, "rootfs"))
        spec = default_spec()
        spec["annotations"] = {"runguard.dev/image-digest": self.digest}
        at.write_json(os.path.join(bundle, "config.json"), spec)
        cases = {
            "no keys": (at.attestation_policy([], self.store.dir), "off", "attestation gate: off"),
            "action off": (at.attestation_policy([self.key], self.store.dir, action="off"), "off", "attestation gate: off"),
            "no section": ("mode: enforce\n", "off", "attestation gate: off"),
            "enforce": (at.attestation_policy([self.key], self.store.dir), "enforce", "attestation gate: enforce"),
        }
        for name, (text, gate, line) in cases.items():
            with self.subTest(case=name):
                with open(self.policy, "w") as f:
                    f.write(text)
                p = self.ctl("check", "--policy", self.policy, "--format", "json", bundle)
                self.assertIn(p.returncode, (0, 1), p.stderr)
                att = json.loads(p.stdout).get("attestation")
                self.assertIsNotNone(att, p.stdout[:2000])
                self.assertEqual(att.get("gate"), gate, att)
                p = self.ctl("check", "--policy", self.policy, bundle)
                self.assertIn(line, p.stdout)

    # -- inspect --
    def test_inspect_prints_normalised_findings(self):
        vulns = [at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2"), at.Vuln(CVE_HIGH, "bash", "HIGH")]
        for bundle in (False, True):
            with self.subTest(bundle=bundle):
                f = self.doc_file(at.vuln_attestation([self.key], self.digest, vulns=vulns, bundle=bundle))
                p = self.ctl("attest", "inspect", f)
                self.assertEqual(p.returncode, 0, p.stderr)
                for needle in (CVE_CRIT, CVE_HIGH, "openssl", "bash", "CRITICAL", "HIGH"):
                    self.assertIn(needle, p.stdout)

    def test_inspect_corpus_report(self):
        d = at.corpora_dir()
        if d is None:
            self.skipTest("../shared/corpora is not present (a fresh clone): real Trivy reports skipped")
        with open(os.path.join(d, "trivy", "alpine-39.json.golden")) as f:
            report = json.load(f)
        f = self.doc_file(at.vuln_attestation([self.key], self.digest, report=report))
        p = self.ctl("attest", "inspect", f)
        self.assertEqual(p.returncode, 0, p.stderr)
        for cve in ("CVE-2019-14697", "CVE-2019-1549", "CVE-2019-1551"):
            self.assertIn(cve, p.stdout)
        out = self.verify_json("--attestation", f, want_rc=1)
        self.assertEqual(sorted(set(finding_ids(out["findings"]["blocking"]))), ["CVE-2019-14697"])

    # -- hostile input --
    def bad_inputs(self):
        good = at.vuln_attestation([self.key], self.digest, vulns=[at.Vuln(CVE_CRIT, "openssl", "CRITICAL", "3.0.2")])
        good_bytes = json.dumps(good).encode()
        nested_payload = at.deeply_nested_json(200000)
        unknown_type = at.statement(self.digest, "https://example.com/not-a-scan/v1", {"x": 1})
        keyless = at.sigstore_bundle(at.IN_TOTO_PAYLOAD_TYPE, at.canonical(at.statement(
            self.digest, at.COSIGN_VULN, at.cosign_vuln_predicate(at.trivy_report([])))), self.key)
        keyless["verificationMaterial"] = {"certificate": {"rawBytes": at.b64(b"\x30\x82 not a cert")}}
        many_sigs = json.loads(good_bytes)
        many_sigs["signatures"] = many_sigs["signatures"] * 1000
        return {
            # name: (bytes, phrase or phrases expected in the output, or None)
            "empty": (b"", None),
            "truncated": (good_bytes[: len(good_bytes) // 2], None),
            "not json": (b"\x7fELF\x02\x01\x01\x00garbage", None),
            "json scalar": (b"42", None),
            "wrong base64 payload": (json.dumps(dict(good, payload="@@@ not base64 @@@")).encode(), "base64"),
            "wrong base64 signature": (json.dumps(dict(good, signatures=[{"keyid": "", "sig": "***"}])).encode(), None),
            "signatures not a list": (json.dumps(dict(good, signatures={"sig": "AAAA"})).encode(), "signatures"),
            "too many signatures": (json.dumps(many_sigs).encode(), None),
            "40 MB": (b"{\"payload\":\"" + b"A" * (40 << 20) + b"\"}", ("bad.json", str(at.MAX_ATTESTATION_BYTES))),
            "deeply nested json": (at.deeply_nested_json(200000), None),
            "deeply nested signed payload": (json.dumps(at.dsse_envelope(at.IN_TOTO_PAYLOAD_TYPE, nested_payload, [self.key])).encode(), None),
            "unknown predicateType": (json.dumps(at.dsse_envelope(at.IN_TOTO_PAYLOAD_TYPE, at.canonical(unknown_type), [self.key])).encode(),
                                      "unsupported predicateType"),
            "unsupported payloadType": (json.dumps(at.dsse_envelope("text/plain", b"hello", [self.key])).encode(), None),
            "keyless bundle": (json.dumps(keyless).encode(), ("keyless verification", "not supported yet")),
            "unknown bundle version": (json.dumps(dict(at.sigstore_bundle(at.IN_TOTO_PAYLOAD_TYPE, b"{}", self.key),
                                                       mediaType="application/vnd.dev.sigstore.bundle.v9.9+json")).encode(), None),
        }

    def test_bad_input_through_verify(self):
        for name, (data, phrase) in self.bad_inputs().items():
            with self.subTest(case=name):
                f = self.doc_file(data, "bad.json")
                p = self.verify("--attestation", f, fmt="text")
                out = p.stdout + p.stderr
                self.assertIn(p.returncode, (1, 2), "rc %d: %s" % (p.returncode, out[-2000:]))
                self.assertTrue(out.strip(), "no message")
                self.assertLess(len(out), 64 << 10, "the message is huge (does it echo the input?)")
                for needle in ((phrase,) if isinstance(phrase, str) else phrase or ()):
                    self.assertIn(needle, out)

    def test_bad_input_through_inspect(self):
        for name, (data, phrase) in self.bad_inputs().items():
            if name in ("wrong base64 signature", "too many signatures", "unknown bundle version"):
                continue  # inspect does not verify: these may print findings
            with self.subTest(case=name):
                f = self.doc_file(data, "bad.json")
                p = self.ctl("attest", "inspect", f)
                out = p.stdout + p.stderr
                self.assertIn(p.returncode, (1, 2), "rc %d: %s" % (p.returncode, out[-2000:]))
                self.assertTrue(p.stderr.strip(), "no message on stderr")
                self.assertLess(len(out), 64 << 10, "the message is huge (does it echo the input?)")
                for needle in ((phrase,) if isinstance(phrase, str) else phrase or ()):
                    self.assertIn(needle, out)
        p = self.ctl("attest", "inspect", os.path.join(self.tmp, "no-such-file.json"))
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
