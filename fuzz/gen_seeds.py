#!/usr/bin/env python3
"""Regenerates fuzz/seeds/<target>/ (needs the `cryptography` package).

Envelopes are signed with the Ed25519 seed [1; 32] (the sensor ua-ac-017 the
envelope_check target registers); notes with NoteSigner::new("example.com/log", [1; 32]),
whose vkey is printed and hard-coded in fuzz_targets/signed_note.rs.
"""
import base64, hashlib, json, os, struct
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

S = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
def put(target, name, data):
    os.makedirs(f"{S}/{target}", exist_ok=True)
    if isinstance(data, str): data = data.encode()
    open(f"{S}/{target}/{name}", "wb").write(data)

key = Ed25519PrivateKey.from_private_bytes(bytes([1]*32))
pk = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
b64 = lambda b: base64.b64encode(b).decode()

# observation payloads
arrival = {"sensor": "ua-ac-017", "seq": 1234, "observed_at": "2026-01-07T03:04:05.123456789Z",
           "kind": "acoustic.arrival",
           "data": {"arrival_time": "2026-01-07T03:04:05.1Z", "arrival_sigma_s": 0.002,
                    "class": "launch", "backazimuth_deg": 120.5, "snr": 14.0}}
met = {"sensor": "ua-ac-017", "seq": 7, "observed_at": "2026-01-07T00:00:00Z", "kind": "met.surface",
       "data": {"temperature_c": -3.5, "wind_speed_mps": 8.0, "wind_from_deg": 270.0, "pressure_hpa": 1012.0}}
change = {"sensor": "sat-1", "seq": 1, "observed_at": "2026-01-07T00:00:00Z", "kind": "satellite.change",
          "data": {"geometry": {"type": "Polygon", "coordinates": [[[37.0, 48.0], [37.1, 48.0], [37.1, 48.1], [37.0, 48.0]]]},
                   "change_class": "crater", "acquired_before": "2026-01-06T00:00:00Z", "acquired_after": "2026-01-07T00:00:00Z",
                   "before_sha256": "a"*64, "after_sha256": "a"*64}}
drone = {"sensor": "ua-dr-001", "seq": 2, "observed_at": "2026-01-07T00:00:00Z", "kind": "drone.detection",
         "data": {"object_class": "howitzer", "position": {"lat": 48.5, "lon": 37.9}, "position_sigma_m": 15.0, "count": 1,
                  "confidence": 0.8, "calibre_mm": 152, "evidence": [{"sha256": "a"*64, "media_type": "image/jpeg"}]}}
for n, o in [("arrival.json", arrival), ("met.json", met), ("change.json", change), ("drone.json", drone)]:
    put("observation_payload", n, json.dumps(o))

# envelopes signed by SigningKey::from([1; 32]) for sensor ua-ac-017
PT = "application/vnd.truce.observation.v1+json"
def pae(t, p): return b"DSSEv1 %d %s %d %s" % (len(t), t.encode(), len(p), p)
def envelope(obs, keyid="ua-ac-017", pt=PT):
    p = json.dumps(obs).encode()
    sig = key.sign(pae(pt, p))
    return json.dumps({"payloadType": pt, "payload": b64(p), "signatures": [{"keyid": keyid, "sig": b64(sig)}]})
put("envelope_check", "arrival.json", envelope(arrival))
put("envelope_check", "met_empty_keyid.json", envelope(met, keyid=""))
put("envelope_check", "wrong_payload_type.json", envelope(arrival, pt="application/json"))
put("envelope_check", "not_allowed_kind.json", envelope(drone | {"sensor": "ua-ac-017"}))

# entries
put("entry_decode", "observation", "truce.observation.v1\n" + envelope(arrival))
put("entry_decode", "registration", 'truce.sensor-registration.v1\n{"sensor":{},"registered_at":"2026-01-07T00:00:00Z"}')
put("entry_decode", "revocation_v2", 'truce.key-revocation.v2\n{}')
put("entry_decode", "empty_body", 'truce.observation.v4294967295\n')

# tile paths
for i, t in enumerate(["tile/0/x001/234.p/5", "tile/entries/000", "tile/1/000.p/1",
                       "tile/63/x018/x446/x744/x073/x709/x551/615", "tile/entries/x001/000.p/255"]):
    put("tile_path", f"path{i}", t)

# entry bundles
def bundle(entries): return b"".join(struct.pack(">H", len(e)) + e for e in entries)
put("entry_bundle", "empty", b"")
put("entry_bundle", "three", bundle([b"truce.observation.v1\n{}", b"", b"x" * 300]))
put("entry_bundle", "truncated", bundle([b"abc"])[:-1])

# checkpoints and signed notes
root = hashlib.sha256(b"root").digest()
cp = f"example.com/log\n42\n{b64(root)}\n"
put("checkpoint", "plain", cp)
put("checkpoint", "extensions", cp + "ext one\nrekor \u2014 two\n")
put("checkpoint", "empty_tree", f"example.com/log\n0\n{b64(hashlib.sha256(b'').digest())}\n")

name = "example.com/log"
kid = hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4]
vkey = name + '+' + kid.hex() + '+' + b64(bytes([1]) + pk)
def sigline(text, k=key, n=name, i=kid):
    return f"\u2014 {n} {b64(i + k.sign(text.encode()))}\n"
put("signed_note", "checkpoint_note", cp + "\n" + sigline(cp))
other = Ed25519PrivateKey.from_private_bytes(bytes([2]*32))
put("signed_note", "two_signatures", cp + "\n" + sigline(cp, other, "witness.example", b"\x01\x02\x03\x04") + sigline(cp))
put("signed_note", "bad_signature", cp + "\n" + sigline(cp + "x\n"))
put("signed_note", "vkey", vkey)
print(vkey)
