#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the hostile-input corpus (tests/hostile/<kind>/NNN-what.ext) and
its expectations (tests/hostile/EXPECT). Run once by hand, from anywhere,
and commit what it writes; make check never runs it (tests/unit/
test_hostile.c reads the files). Needs python3-cryptography for the signed
cases. The keys in keys/ are test keys made for this corpus: kept, so that
a rerun writes the same JWS files, save for the signatures of
keys/untrusted.jwk, which only the corpus and no engine trusts.

Each case is one file; EXPECT says, per file, what must answer it:
  PATH  error    TEXT  -- an answer "error: ..." containing TEXT
  PATH  COUNTER  TEXT  -- that counter grows, and a log line has TEXT
  PATH  refused  TEXT  -- control only: asked by an unprivileged peer,
                          control.refused grows and the answer has TEXT
"""
import base64
import hashlib
import json
import os
import struct
import sys

from cryptography.hazmat.primitives.asymmetric import ed25519

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = "2026-07-20T09:15:00Z"   # the test's clock reads T0 + 60 s
KID = "hostile-trusted"
TOPIC_SOURCE = "dns-tapir"
cases = []


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def key(name, kid):
    path = os.path.join(HERE, "keys", name + ".jwk")
    if os.path.exists(path):
        with open(path) as f:
            jwk = json.load(f)
        sk = ed25519.Ed25519PrivateKey.from_private_bytes(unb64(jwk["d"]))
    else:
        sk = ed25519.Ed25519PrivateKey.generate()
    raw = sk.private_bytes_raw()
    pub = sk.public_key().public_bytes_raw()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA",
                   "kid": kid, "x": b64(pub), "d": b64(raw)}, f)
        f.write("\n")
    with open(os.path.join(HERE, "keys", name + ".jwks"), "w") as f:
        json.dump({"keys": [{"kty": "OKP", "crv": "Ed25519",
                             "alg": "EdDSA", "use": "sig", "kid": kid,
                             "x": b64(pub)}]}, f)
        f.write("\n")
    return sk


TRUSTED = key("trusted", KID)
UNTRUSTED = key("untrusted", "hostile-untrusted")


def add(kind, name, data, what, text=""):
    if isinstance(data, str):
        data = data.encode()
    n = sum(1 for c in cases if c[0] == kind) + 1
    cases.append((kind, "%03d-%s" % (n, name), data, what, text))


def msg(added=None, **over):
    m = {"src_name": TOPIC_SOURCE, "creator": "hostile",
         "msg_type": "observation", "list_type": "doubtlist",
         "added": added if added is not None else
         [{"name": "jws-case.example", "time_added": T0, "ttl": 3600,
           "tag_mask": 16, "extended_tags": []}],
         "removed": [], "msg": "", "timestamp": T0, "time_str": ""}
    m.update(over)
    return m


def entry(**over):
    e = {"name": "entry-case.example", "time_added": T0, "ttl": 3600,
         "tag_mask": 16, "extended_tags": []}
    e.update(over)
    return e


def jtext(m):
    return json.dumps(m, separators=(",", ":"))


def jws(header, payload, sk=TRUSTED, raw_payload=None):
    h = header if isinstance(header, str) else b64(
        json.dumps(header, separators=(",", ":")).encode())
    p = raw_payload if raw_payload is not None else b64(payload)
    sig = sk.sign((h + "." + p).encode())
    return h + "." + p + "." + b64(sig)


HDR = {"alg": "EdDSA", "kid": KID}
GOOD = jtext(msg()).encode()

# ---- json: TapirMsg payloads, signed at test time with keys/trusted.jwk
MAL = "msg.rejected.malformed_msg"
INV = "entry.invalid"
add("json", "empty.json", "", MAL)
add("json", "whitespace-only.json", " \t\r\n ", MAL)
add("json", "null.json", "null", MAL)
add("json", "top-level-array.json", jtext([msg()]), MAL)
add("json", "top-level-string.json", '"observation"', MAL)
add("json", "top-level-huge-number.json", "1e99999", MAL)
full = jtext(msg())
add("json", "truncated-after-brace.json", "{", MAL)
add("json", "truncated-in-key.json", full[:5], MAL)
add("json", "truncated-in-string.json", full[:full.index("dns-tapir") + 4],
    MAL)
add("json", "truncated-in-added.json", full[:full.index("jws-case") + 3], MAL)
add("json", "truncated-before-last-brace.json", full[:-1], MAL)
add("json", "trailing-garbage.json", full + "garbage", MAL)
add("json", "two-objects.json", full + full, MAL)
add("json", "raw-nul-byte.json", full.replace("hostile", "host\0ile"), MAL)
add("json", "invalid-utf8.json",
    full.encode().replace(b"hostile", b"host\xffile"), MAL)
add("json", "overlong-utf8.json",
    full.encode().replace(b"hostile", b"host\xc0\xafile"), MAL)
add("json", "lone-surrogate.json", full.replace("hostile", "\\ud800"), MAL)
add("json", "duplicate-key.json",
    full.replace('{"src_name"', '{"src_name":"good-list","src_name"', 1),
    MAL)
add("json", "deep-nesting-arrays.json",
    full.replace('"msg":""', '"msg":' + "[" * 3000 + "]" * 3000), MAL)
add("json", "deep-nesting-objects.json",
    full.replace('"msg":""',
                 '"msg":' + '{"a":' * 3000 + "1" + "}" * 3000), MAL)
add("json", "msg-type-unknown.json", jtext(msg(msg_type="takeover")),
    "msg.rejected.msg_type")
add("json", "msg-type-number.json", jtext(msg(msg_type=1)), MAL)
add("json", "list-type-unknown.json", jtext(msg(list_type="godlist")),
    "msg.rejected.wrong_list")
add("json", "list-type-allowlist.json", jtext(msg(list_type="allowlist")),
    "msg.rejected.wrong_list")
add("json", "src-name-other-source.json", jtext(msg(src_name="good-list")),
    "msg.rejected.wrong_source")
add("json", "src-name-missing.json",
    jtext({k: v for k, v in msg().items() if k != "src_name"}), MAL)
add("json", "src-name-number.json", jtext(msg(src_name=7)), MAL)
add("json", "added-is-object.json", jtext(msg(added={"name": "x.example"})),
    MAL)
add("json", "added-is-string.json", jtext(msg(added="x.example")), MAL)
add("json", "ttl-negative.json", jtext(msg(added=[entry(ttl=-1)])), INV)
add("json", "ttl-huge-float.json", jtext(msg(added=[entry(ttl=1e30)])), INV)
add("json", "ttl-2-to-the-64.json",
    jtext(msg(added=[entry(ttl=18446744073709551616)])), MAL)
add("json", "tag-mask-negative.json",
    jtext(msg(added=[entry(tag_mask=-1)])), INV)
add("json", "tag-mask-2-to-the-32.json",
    jtext(msg(added=[entry(tag_mask=4294967296)])), INV)
add("json", "tag-mask-string.json",
    jtext(msg(added=[entry(tag_mask="16")])), INV)
add("json", "time-added-garbage.json",
    jtext(msg(added=[entry(time_added="yesterday")])), INV)
add("json", "time-added-year-99999.json",
    jtext(msg(added=[entry(time_added="99999-01-01T00:00:00Z")])), INV)
add("json", "entry-name-missing.json",
    jtext(msg(added=[{k: v for k, v in entry().items() if k != "name"}])),
    INV)
add("json", "entry-name-number.json", jtext(msg(added=[entry(name=42)])),
    INV)
add("json", "entry-not-object.json", jtext(msg(added=[42])), INV)
add("json", "entry-already-expired.json",
    jtext(msg(added=[entry(time_added="2000-01-01T00:00:00Z", ttl=60)])),
    "entry.already_expired")
add("json", "timestamp-far-future.json",
    jtext(msg(timestamp="2099-01-01T00:00:00Z")), "msg.rejected.stale")
add("json", "timestamp-1970.json",
    jtext(msg(timestamp="1970-01-01T00:00:00Z")), "msg.rejected.stale")
add("json", "timestamp-missing.json",
    jtext({k: v for k, v in msg().items() if k != "timestamp"}),
    "msg.rejected.stale")
add("json", "removed-good-name-replayed-old.json",
    jtext(msg(added=[], removed=[entry(name="feed-blocked.example")],
              timestamp="2026-07-20T08:15:00Z")), "msg.rejected.stale")

# ---- jws: the MQTT payload as it comes, bytes for bytes
JM = "msg.rejected.malformed_jws"
add("jws", "empty.jws", "", "msg.rejected.unsigned")
add("jws", "unsigned-tapirmsg.jws", GOOD, "msg.rejected.unsigned")
add("jws", "alg-none.jws", b64(json.dumps({"alg": "none", "kid": KID})
                               .encode()) + "." + b64(GOOD) + ".",
    "msg.rejected.bad_alg")
add("jws", "alg-None-capitalised.jws",
    jws({"alg": "None", "kid": KID}, GOOD), "msg.rejected.bad_alg")
add("jws", "alg-hs256-key-confusion.jws",
    jws({"alg": "HS256", "kid": KID}, GOOD), "msg.rejected.bad_alg")
add("jws", "alg-rs256.jws", jws({"alg": "RS256", "kid": KID}, GOOD),
    "msg.rejected.bad_alg")
add("jws", "alg-es256-on-eddsa-key.jws",
    jws({"alg": "ES256", "kid": KID}, GOOD), "msg.rejected.bad_alg")
add("jws", "alg-missing.jws", jws({"kid": KID}, GOOD),
    "msg.rejected.bad_alg")
add("jws", "alg-number.jws", jws({"alg": 1, "kid": KID}, GOOD),
    "msg.rejected.bad_alg")
add("jws", "kid-missing.jws", jws({"alg": "EdDSA"}, GOOD),
    "msg.rejected.unknown_key")
add("jws", "kid-wrong.jws", jws({"alg": "EdDSA", "kid": "someone-else"},
                                GOOD), "msg.rejected.unknown_key")
add("jws", "kid-number.jws", jws({"alg": "EdDSA", "kid": 1}, GOOD), JM)
add("jws", "kid-control-chars.jws",
    jws({"alg": "EdDSA", "kid": KID + "\n\u001b[31m"}, GOOD),
    "msg.rejected.unknown_key")
add("jws", "kid-with-nul.jws", jws({"alg": "EdDSA", "kid": KID + "\0x"},
                                   GOOD), JM)
add("jws", "crit-header.jws",
    jws({"alg": "EdDSA", "kid": KID, "crit": ["exp"], "exp": 1}, GOOD), JM)
add("jws", "header-not-json.jws", jws(b64(b"alg=EdDSA"), GOOD), JM)
add("jws", "header-json-array.jws", jws(b64(b'["EdDSA"]'), GOOD), JM)
add("jws", "header-duplicate-alg.jws",
    jws(b64(b'{"alg":"EdDSA","kid":"%s","alg":"none"}' % KID.encode()),
        GOOD), JM)
add("jws", "header-bad-base64url.jws",
    jws(b64(json.dumps(HDR).encode()).replace("e", "+", 1) + "/", GOOD), JM)
add("jws", "two-parts.jws", ".".join(jws(HDR, GOOD).split(".")[:2]), JM)
add("jws", "four-parts.jws", jws(HDR, GOOD) + ".AAAA", JM)
good_jws = jws(HDR, GOOD)
h, p, s = good_jws.split(".")
sig = bytearray(unb64(s))
sig[10] ^= 1
add("jws", "signature-one-bit-flipped.jws", h + "." + p + "." + b64(sig),
    "msg.rejected.bad_signature")
add("jws", "signature-63-bytes.jws", h + "." + p + "." + b64(sig[:63]), JM)
add("jws", "signature-empty.jws", h + "." + p + ".", JM)
add("jws", "signature-not-base64url.jws", h + "." + p + "." + "!" * 86, JM)
other = b64(GOOD.replace(b"jws-case", b"jws-evil"))
add("jws", "payload-swapped-after-signing.jws", h + "." + other + "." + s,
    "msg.rejected.bad_signature")
add("jws", "untrusted-key-trusted-kid.jws", jws(HDR, GOOD, sk=UNTRUSTED),
    "msg.rejected.bad_signature")
add("jws", "untrusted-key-own-kid.jws",
    jws({"alg": "EdDSA", "kid": "hostile-untrusted"}, GOOD, sk=UNTRUSTED),
    "msg.rejected.unknown_key")
add("jws", "signed-payload-not-base64url.jws",
    jws(HDR, None, raw_payload="eyJ!!notbase64"), JM)
add("jws", "signed-payload-not-json.jws", jws(HDR, b"not json at all"),
    MAL)
add("jws", "signed-payload-json-array.jws", jws(HDR, b"[1,2,3]"), MAL)
add("jws", "signed-payload-empty.jws", jws(HDR, b""), MAL)
add("jws", "json-general-serialization.jws",
    json.dumps({"payload": p, "signatures": [{"protected": h,
                                              "signature": s}]}), JM)
add("jws", "json-flattened-no-signature.jws",
    json.dumps({"payload": p, "protected": h}), JM)
add("jws", "json-flattened-duplicate-payload.jws",
    '{"payload":"%s","protected":"%s","signature":"%s","payload":"%s"}'
    % (p, h, s, other), JM)
add("jws", "json-flattened-signature-number.jws",
    json.dumps({"payload": p, "protected": h, "signature": 1}), JM)
add("jws", "nul-byte-inside.jws", h + "\0." + p + "." + s, JM)
add("jws", "over-max-message-size.jws", "A" * 70000 + "." + p + "." + s,
    "msg.rejected.too_big")

# ---- name: one name, put by the test into a signed observation (JSON
# escapes it, but cannot carry a NUL or bytes that are not UTF-8: those
# make the whole message malformed)
for name, data, *what in [
        ("label-64-octets.txt", "a" * 64 + ".example"),
        ("name-254-chars.txt", ".".join(["a" * 62] * 4) + ".ab"),
        ("name-256-octets-wire.txt", ".".join(["a" * 63] * 4)),
        ("name-4k.txt", ("a" * 63 + ".") * 64 + "example"),
        ("empty.txt", ""),
        ("root-dot.txt", "."),
        ("two-dots.txt", ".."),
        ("empty-label-inside.txt", "a..example"),
        ("leading-dot.txt", ".a.example"),
        ("trailing-two-dots.txt", "a.example.."),
        ("wildcard-alone.txt", "*"),
        ("wildcard-dot-only.txt", "*."),
        ("wildcard-in-middle.txt", "a.*.example"),
        ("wildcard-at-end.txt", "example.*"),
        ("wildcard-inside-label.txt", "ads*.example"),
        ("double-wildcard.txt", "*.*.example"),
        ("wildcard-star-star.txt", "**.example"),
        ("backslash-dot-escape.txt", "a\\.b.example"),
        ("decimal-escape.txt", "\\065ds.example"),
        ("space-inside.txt", "ads example"),
        ("tab-inside.txt", "ads\texample"),
        ("newline-injection.txt", "a.example\nb.example"),
        ("nul-byte.txt", "ads\0.example", MAL),
        ("utf8-unicode.txt", "b\u00fccher.example"),
        ("invalid-utf8.txt", b"ads\xff\xfe.example", MAL),
        ("slash.txt", "ads.example/path"),
        ("url.txt", "http://ads.example/"),
        ("at-sign.txt", "user@ads.example"),
        ("del-char.txt", "ads\x7f.example"),
        ("percent-encoding.txt", "%61ds.example"),
        ("ipv6-literal.txt", "[2001:db8::1]"),
]:
    add("name", name, data, what[0] if what else INV)

# What the error must say: the problem, in the words the parsers use.
YAML_TEXT = {
    "empty.yaml": "empty", "only-comment.yaml": "empty",
    "nul-byte.yaml": "control characters", "invalid-utf8.yaml": "UTF-8",
    "tab-indentation.yaml": "cannot start any token",
    "unterminated-quote.yaml": "unexpected end of stream",
    "unclosed-flow-sequence.yaml": "flow sequence",
    "anchor-bomb.yaml": "topics",
    "alias-undefined.yaml": "undefined alias",
    "alias-as-config.yaml": "not a mapping",
    "duplicate-top-key.yaml": "duplicate key",
    "unknown-top-key.yaml": "backdoor: unknown key",
    "top-level-sequence.yaml": "must be a mapping",
    "top-level-scalar.yaml": "must be a mapping",
    "two-documents.yaml": "only one YAML document",
    "deep-flow-nesting.yaml": "not a list",
    "sources-not-a-list.yaml": "must be a list",
    "source-name-too-long.yaml": "1 to 63 characters",
    "source-type-bogus.yaml": "not 'telnet'",
    "source-list-bogus.yaml": "not 'godlist'",
    "duplicate-source-names.yaml": "duplicate source name",
    "refresh-negative.yaml": "out of range",
    "refresh-overflow.yaml": "out of range",
    "refresh-not-a-number.yaml": "must be an integer",
    "max-message-size-negative.yaml": "out of range",
    "queue-length-string.yaml": "must be an integer",
    "policy-action-bogus.yaml": "not 'EXPLODE'",
    "broker-not-a-url.yaml": "is not mqtt://",
    "key-with-nul-escape.yaml": "unknown key",
    "binary-tag.yaml": "not supported",
}
CONTROL_TEXT = {
    "empty-line.txt": "unknown command",
    "unknown-command.txt": "unknown command: frobnicate",
    "lookup-no-name.txt": "unknown command: lookup",
    "lookup-label-64.txt": "label longer than 63",
    "lookup-name-300.txt": "longer than 255",
    "lookup-type-70000.txt": "illegal character",
    "lookup-escape.txt": "no escapes",
    "override-deny-no-name.txt": "no name",
    "override-deny-empty-label.txt": "empty label",
    "override-allow-bad-wildcard.txt": "no wildcards",
    "override-deny-ttl-negative.txt": "ttl",
    "override-deny-ttl-overflow.txt": "ttl",
    "override-deny-ttl-over-ten-years.txt": "ttl",
    "override-unknown-verb.txt": "unknown override verb",
    "override-no-verb.txt": "unknown command: override",
    "flush-no-argument.txt": "unknown command: flush",
    "flush-bad-name.txt": "no cache purging",
    "list-unknown-source.txt": "bad filter source",
    "list-unknown-list.txt": "bad filter list",
    "list-unknown-action.txt": "bad filter action",
    "dump-rpz-bad-zone.txt": "empty label",
    "json-alone.txt": "unknown command: json",
    "json-unknown-command.txt": "frobnicate",
    "invalid-utf8.txt": "illegal octet 0xff",
}

# ---- yaml: a whole configuration, given to tapir-pop-control reload
for name, text, err in [
        ("empty.yaml", "", ""),
        ("only-comment.yaml", "# nothing here\n", ""),
        ("nul-byte.yaml", "mqtt:\n  broker: mqtt://127.0.0.1:1\0\n", ""),
        ("invalid-utf8.yaml", b"keys: /tmp/\xff\xfe.json\n", ""),
        ("tab-indentation.yaml", "mqtt:\n\tbroker: mqtt://x\n", ""),
        ("unterminated-quote.yaml", 'keys: "/tmp/keys.json\n', ""),
        ("unclosed-flow-sequence.yaml",
         "sources:\n  - name: a\n    topics: [a/b, c\n", ""),
        ("anchor-bomb.yaml",
         "sources:\n  - name: s\n    type: mqtt\n    list: doubtlist\n"
         "    topics: [&a [x, x, x, x, x, x, x, x, x],\n"
         "      &b [*a, *a, *a, *a, *a, *a, *a, *a, *a],\n"
         "      &c [*b, *b, *b, *b, *b, *b, *b, *b, *b],\n"
         "      &d [*c, *c, *c, *c, *c, *c, *c, *c, *c],\n"
         "      &e [*d, *d, *d, *d, *d, *d, *d, *d, *d],\n"
         "      &f [*e, *e, *e, *e, *e, *e, *e, *e, *e],\n"
         "      &g [*f, *f, *f, *f, *f, *f, *f, *f, *f],\n"
         "      &h [*g, *g, *g, *g, *g, *g, *g, *g, *g],\n"
         "      [*h, *h, *h, *h, *h, *h, *h, *h, *h]]\n", ""),
        ("alias-undefined.yaml", "keys: *nowhere\n", ""),
        ("alias-as-config.yaml",
         "mqtt: &m\n  broker: mqtt://127.0.0.1:1\nkeys: *m\n", ""),
        ("duplicate-top-key.yaml",
         "keys: /tmp/a.json\nkeys: /tmp/b.json\n", ""),
        ("unknown-top-key.yaml", "keys: /tmp/a.json\nbackdoor: yes\n", ""),
        ("top-level-sequence.yaml", "- keys\n- sources\n", ""),
        ("top-level-scalar.yaml", "just a string\n", ""),
        ("two-documents.yaml",
         "keys: /tmp/a.json\n---\nkeys: /tmp/b.json\n", ""),
        ("deep-flow-nesting.yaml",
         "keys: " + "[" * 3000 + "]" * 3000 + "\n", ""),
        ("sources-not-a-list.yaml", "sources: dns-tapir\n", ""),
        ("source-name-too-long.yaml",
         "sources:\n  - name: " + "n" * 200 +
         "\n    type: file\n    list: denylist\n    path: /tmp/x\n", ""),
        ("source-type-bogus.yaml",
         "sources:\n  - name: s\n    type: telnet\n    list: denylist\n",
         ""),
        ("source-list-bogus.yaml",
         "sources:\n  - name: s\n    type: file\n    list: godlist\n"
         "    path: /tmp/x\n", ""),
        ("duplicate-source-names.yaml",
         "sources:\n  - name: s\n    type: file\n    list: denylist\n"
         "    path: /tmp/x\n  - name: s\n    type: file\n"
         "    list: denylist\n    path: /tmp/y\n", ""),
        ("refresh-negative.yaml",
         "sources:\n  - name: s\n    type: file\n    list: denylist\n"
         "    path: /tmp/x\n    refresh: -1\n", ""),
        ("refresh-overflow.yaml",
         "sources:\n  - name: s\n    type: file\n    list: denylist\n"
         "    path: /tmp/x\n    refresh: 99999999999999999999999\n", ""),
        ("refresh-not-a-number.yaml",
         "sources:\n  - name: s\n    type: file\n    list: denylist\n"
         "    path: /tmp/x\n    refresh: yes\n", ""),
        ("max-message-size-negative.yaml",
         "limits:\n  max-message-size: -1\n", ""),
        ("queue-length-string.yaml", "limits:\n  queue-length: many\n", ""),
        ("policy-action-bogus.yaml",
         "policy:\n  denylist:\n    action: EXPLODE\n", ""),
        ("broker-not-a-url.yaml", "mqtt:\n  broker: not a url\n", ""),
        ("key-with-nul-escape.yaml", '"keys\\0": /tmp/a.json\n', ""),
        ("binary-tag.yaml", "keys: !!binary aGVsbG8=\n", ""),
]:
    add("yaml", name, text, "error", err or YAML_TEXT[name])

# ---- list: a "domains" list file of the source hostile-list (denylist)
BAD = "file.bad_lines"
for name, data, what in [
        ("nul-byte.txt", b"ads\0.example\n", BAD),
        ("only-nul-bytes.txt", b"\0" * 64 + b"\n", BAD),
        ("invalid-utf8.txt", b"ads\xff.example\n", BAD),
        ("utf8-unicode.txt", "b\u00fccher.example\n", BAD),
        ("label-64-octets.txt", "a" * 64 + ".example\n", BAD),
        ("name-256-octets.txt", ".".join(["a" * 63] * 4) + "\n", BAD),
        ("empty-label.txt", "a..example\n", BAD),
        ("lone-dot.txt", ".\n", BAD),
        ("wildcard-alone.txt", "*\n", BAD),
        ("wildcard-in-middle.txt", "a.*.example\n", BAD),
        ("wildcard-inside-label.txt", "ads*.example\n", BAD),
        ("double-wildcard.txt", "*.*.example\n", BAD),
        ("hosts-line-in-domains.txt", "0.0.0.0 ads.example\n", BAD),
        ("url.txt", "http://ads.example/\n", BAD),
        ("tab-inside.txt", "ads\texample\n", BAD),
        ("control-char.txt", "ads\x01.example\n", BAD),
        ("backslash-escape.txt", "a\\.b.example\n", BAD),
        ("overlong-line.txt", "a" * 20000 + "\n", BAD),
        ("binary-garbage.txt",
         bytes((i * 151 + 7) % 256 for i in range(512)), BAD),
        ("origin-directive.txt", "$ORIGIN evil.example.\n", BAD),
        ("at-sign.txt", "@\n", BAD),
        ("cr-only-line-ends.txt", "ads\r.example\r", BAD),
        ("many-bad-lines.txt", "bad..name\n" * 5000, BAD),
]:
    add("list", name, data, what)

# ---- rpz: an RPZ zone file of the source hostile-rpz (origin rpz.example)
for name, data in [
        ("include-etc-passwd.rpz", "$INCLUDE /etc/passwd\n"),
        ("include-relative.rpz", "$INCLUDE other.rpz\n"),
        ("ttl-directive-garbage.rpz",
         "$TTL forever\n"),
        ("ttl-overflow.rpz", "ads.example 4294967296 CNAME .\n"),
        ("origin-invalid.rpz", "$ORIGIN a..b.\n"),
        ("unterminated-parenthesis.rpz", "ads.example CNAME ( .\n"),
        ("unterminated-quote.rpz", 'ads.example TXT "open\n'),
        ("owner-label-64.rpz", "a" * 64 + ".example CNAME .\n"),
        ("owner-name-over-255.rpz",
         ".".join(["a" * 63] * 4) + " CNAME .\n"),
        ("cname-target-garbage.rpz", "ads.example CNAME a..b.\n"),
        ("wildcard-in-middle.rpz", "a.*.example CNAME .\n"),
        ("class-chaos.rpz", "ads.example CH CNAME .\n"),
        ("unknown-type.rpz", "ads.example FOO .\n"),
        ("a-bad-address.rpz", "ads.example A 999.1.1.1\n"),
        ("aaaa-bad-address.rpz", "ads.example AAAA 2001:db8::zz\n"),
        ("nul-byte.rpz", b"ads\0.example CNAME .\n"),
        ("invalid-utf8-owner.rpz", b"ads\xff.example CNAME .\n"),
        ("decimal-escape-overflow.rpz", "ads\\999.example CNAME .\n"),
        ("escaped-nul-in-owner.rpz", "ads\\000.example CNAME .\n"),
        ("soa-malformed.rpz", "@ SOA ns hostmaster 1 2\n"),
        ("binary-garbage.rpz",
         bytes((i * 73 + 11) % 256 for i in range(512))),
        ("only-open-parenthesis.rpz", "(\n"),
        ("overlong-line.rpz", "a" * 20000 + " CNAME .\n"),
        ("missing-rdata.rpz", "ads.example CNAME\n"),
]:
    add("rpz", name, data, BAD)

# ---- control: one request line, sent to the control socket as it is
for name, data, what, text in [
        ("empty-line.txt", "\n", "error", ""),
        ("unknown-command.txt", "frobnicate\n", "error", ""),
        ("nul-byte.txt", b"status\0 override allow x.example\n", "error",
         "NUL"),
        ("overlong-line.txt", "lookup " + "a" * 5000, "error", "longer"),
        ("lookup-no-name.txt", "lookup\n", "error", ""),
        ("lookup-label-64.txt", "lookup " + "a" * 64 + ".example\n",
         "error", ""),
        ("lookup-name-300.txt",
         "lookup " + ".".join(["a" * 59] * 5) + "\n", "error", ""),
        ("lookup-type-70000.txt", "lookup ads.example TYPE70000\n", "error",
         ""),
        ("lookup-escape.txt", "lookup a\\.b.example\n", "error", ""),
        ("override-deny-no-name.txt", "override deny\n", "error", ""),
        ("override-deny-empty-label.txt", "override deny a..example\n",
         "error", ""),
        ("override-allow-bad-wildcard.txt", "override allow ads*.example\n",
         "error", ""),
        ("override-deny-ttl-negative.txt",
         "override deny ads.example -1\n", "error", ""),
        ("override-deny-ttl-overflow.txt",
         "override deny ads.example 99999999999999999999999\n", "error",
         ""),
        ("override-deny-ttl-over-ten-years.txt",
         "override deny ads.example 315360001\n", "error", ""),
        ("override-comment-escape-sequence.txt",
         "override deny ads.example 1h \x1b[2J\x1b[31mowned\n", "error",
         "control character"),
        ("override-unknown-verb.txt", "override nuke ads.example\n", "error",
         ""),
        ("override-no-verb.txt", "override\n", "error", ""),
        ("flush-no-argument.txt", "flush\n", "error", ""),
        ("flush-bad-name.txt", "flush a..example\n", "error", ""),
        ("list-unknown-source.txt", "list source=nosuchsource\n", "error",
         ""),
        ("list-unknown-list.txt", "list list=godlist\n", "error", ""),
        ("list-unknown-action.txt", "list action=EXPLODE\n", "error", ""),
        ("dump-rpz-bad-zone.txt", "dump-rpz a..example\n", "error", ""),
        ("json-alone.txt", "json\n", "error", ""),
        ("json-unknown-command.txt", "json frobnicate\n", "error", ""),
        ("invalid-utf8.txt", b"lookup ads\xff.example\n", "error", ""),
        ("unpriv-override-deny.txt", "override deny feed-blocked.example\n",
         "refused", "not permitted"),
        ("unpriv-override-remove.txt", "override remove allowed.example\n",
         "refused", "not permitted"),
        ("unpriv-reload.txt", "reload\n", "refused", "not permitted"),
        ("unpriv-flush-all.txt", "flush --all\n", "refused",
         "not permitted"),
        ("unpriv-stats-reset.txt", "stats\n", "refused", "not permitted"),
]:
    add("control", name, data, what, text or CONTROL_TEXT[name])


# ---- state: the state file found at start (tapir-pop.state)
def state(sources=None, records=None, n_sources=None, n_records=None,
          rec_bytes=None, version=1, magic=b"TAPIRST\0", created=1784538000,
          bad_sum=False, cut=None, extra=b""):
    if sources is None:
        sources = [(TOPIC_SOURCE.encode(), 2, 0)]
    if records is None:
        records = [(0, 0, 2, b"state-case.example", 16, 1784538900,
                    1784538900 + 86400)]
    st = b"".join(struct.pack("<BBB", len(n), li, ty) + n
                  for n, li, ty in sources)
    rec = b"".join(struct.pack("<BBBBIII", s, fl, li, len(nm), tg, ad, ex)
                   + nm for s, fl, li, nm, tg, ad, ex in records) + extra
    hdr = magic + struct.pack(
        "<IIQQQ", version,
        len(sources) if n_sources is None else n_sources, created,
        len(records) if n_records is None else n_records,
        len(rec) if rec_bytes is None else rec_bytes)
    body = hdr + st + rec
    s = hashlib.blake2b(body, digest_size=32).digest()
    if bad_sum:
        s = bytes([s[0] ^ 1]) + s[1:]
    out = body + s
    return out if cut is None else out[:cut]


ST = "state.failures"
ok = state()
def rec(**k):
    r = dict(s=0, fl=0, li=2, nm=b"state-case.example", tg=16,
             ad=1784538900, ex=1784538900 + 86400)
    r.update(k)
    return (r["s"], r["fl"], r["li"], r["nm"], r["tg"], r["ad"], r["ex"])


for name, data, text in [
        ("empty.bin", b"", "too short"),
        ("one-byte.bin", b"T", "too short"),
        ("truncated-in-magic.bin", ok[:4], "too short"),
        ("truncated-header.bin", ok[:39], "too short"),
        ("truncated-before-checksum.bin", ok[:-32], ""),
        ("truncated-in-checksum.bin", ok[:-5], ""),
        ("truncated-in-source-table.bin",
         state(records=[], cut=None)[:40 + 5], ""),
        ("bad-magic.bin", state(magic=b"TAPIRSX\0"), "bad magic"),
        ("version-2.bin", state(version=2), "version"),
        ("version-0.bin", state(version=0), "version"),
        ("checksum-one-bit-flipped.bin", state(bad_sum=True), "checksum"),
        ("payload-flipped-checksum-kept.bin",
         ok[:60] + bytes([ok[60] ^ 0x20]) + ok[61:], "checksum"),
        ("sources-65.bin", state(n_sources=65), "sources"),
        ("sources-count-lies-high.bin", state(n_sources=3), ""),
        ("source-name-length-0.bin", state(sources=[(b"", 2, 0)]),
         "name length"),
        ("source-name-length-200.bin", state(sources=[(b"s" * 200, 2, 0)]),
         "name length"),
        ("source-list-unknown.bin",
         state(sources=[(TOPIC_SOURCE.encode(), 9, 0)]), "unknown"),
        ("source-type-unknown.bin",
         state(sources=[(TOPIC_SOURCE.encode(), 2, 7)]), "unknown"),
        ("source-name-nul.bin", state(sources=[(b"dns\0tapir", 2, 0)]),
         "NUL"),
        ("source-duplicate.bin",
         state(sources=[(b"dns-tapir", 2, 0), (b"dns-tapir", 2, 0)]),
         "duplicate"),
        ("record-bytes-lie-high.bin", state(rec_bytes=10 ** 6), "header says"),
        ("record-bytes-2-to-the-64-minus-1.bin",
         state(rec_bytes=2 ** 64 - 1), "header says"),
        ("record-count-huge.bin", state(n_records=2 ** 63), "cannot fit"),
        ("record-count-lies-low.bin",
         state(records=[rec(), rec(nm=b"second.example")], n_records=1),
         "after the last record"),
        ("record-truncated.bin",
         state(records=[rec()], rec_bytes=None, extra=b"\x00\x00\x02",
               n_records=2), "truncated"),
        ("record-source-index-out-of-range.bin", state(records=[rec(s=5)]),
         "out of range"),
        ("record-unknown-flags.bin", state(records=[rec(fl=0x80)]),
         "flags"),
        ("record-unknown-list.bin", state(records=[rec(li=9)]),
         "unknown list"),
        ("record-name-length-0.bin", state(records=[rec(nm=b"")]),
         "cannot fit"),
        ("record-name-uppercase.bin",
         state(records=[rec(nm=b"STATE-CASE.example")]), "canonical"),
        ("record-name-nul.bin", state(records=[rec(nm=b"state\0case.ex")]),
         "canonical"),
        ("record-name-empty-label.bin",
         state(records=[rec(nm=b"state..example")]), "canonical"),
        ("record-name-trailing-dot.bin",
         state(records=[rec(nm=b"state-case.example.")]), "canonical"),
        ("record-name-label-64.bin",
         state(records=[rec(nm=b"a" * 64 + b".example")]), "canonical"),
        ("good-record-then-bad-one.bin",
         state(records=[rec(), rec(nm=b"Bad..Name")]), "canonical"),
]:
    add("state", name, data, ST, text)

EXT = {"json": ".json", "jws": ".jws", "name": ".txt", "yaml": ".yaml",
       "list": ".txt", "rpz": ".rpz", "control": ".txt", "state": ".bin"}
lines = []
for kind, name, data, what, text in cases:
    d = os.path.join(HERE, kind)
    os.makedirs(d, exist_ok=True)
    if not os.path.splitext(name)[1]:
        name += EXT[kind]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    lines.append("%s/%s\t%s\t%s" % (kind, name, what, text))
with open(os.path.join(HERE, "EXPECT"), "w") as f:
    f.write("# Written by make-corpus.py: PATH, then what must answer it "
            "(error, refused or a counter),\n# then text that the error or "
            "a log line must contain (may be empty). Tab-separated.\n")
    f.write("\n".join(lines) + "\n")
counts = {}
for c in cases:
    counts[c[0]] = counts.get(c[0], 0) + 1
print(len(cases), counts)
