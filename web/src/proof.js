// Checking, in the browser, that an entry is in the log: RFC 6962 / RFC 9162 hashing with
// WebCrypto SHA-256, the inclusion proof folded up to the root of the latest C2SP
// checkpoint, and the checkpoint's Ed25519 note signature against the log's verifier key
// (where the browser's WebCrypto has Ed25519).

const subtle = globalThis.crypto.subtle;

export function fromBase64(b64) {
  const raw = atob(b64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

export function toBase64(bytes) {
  let raw = '';
  for (const b of bytes) raw += String.fromCharCode(b);
  return btoa(raw);
}

async function sha256(...parts) {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(length);
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  return new Uint8Array(await subtle.digest('SHA-256', all));
}

export const leafHash = (entry) => sha256(new Uint8Array([0]), entry);
const nodeHash = (left, right) => sha256(new Uint8Array([1]), left, right);

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// RFC 9162 section 2.1.3.2: the root that `proof` leads to from `leaf` at `index` in a tree
// of `size` leaves, or null when the proof has the wrong shape.
export async function rootFromInclusion(index, size, leaf, proof) {
  if (index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

// A C2SP signed note: the signed text (up to and including its last newline before the
// blank line) and its signature lines (name, and key ID followed by the signature).
export function parseNote(note) {
  const split = note.indexOf('\n\n');
  if (split < 0) throw new Error('not a signed note');
  const body = note.slice(0, split + 1);
  const signatures = note.slice(split + 2).split('\n').filter((l) => l.startsWith('\u2014 '))
    .map((l) => { const [, name, sig] = l.split(' '); return { name, sig: fromBase64(sig) }; });
  return { body, signatures };
}

// A signed note holding a C2SP tlog-checkpoint: its origin, size and root hash besides.
export function parseCheckpoint(note) {
  const { body, signatures } = parseNote(note);
  const [origin, size, root] = body.split('\n');
  if (!/^[0-9]+$/.test(size)) throw new Error('bad checkpoint size');
  return { origin, size: Number(size), root: fromBase64(root), body, signatures };
}

// Whether a parsed note carries a valid Ed25519 signature by the verifier key
// `name+hexhash+base64(0x01 || key)`: true, false, or null when this browser cannot check.
export async function checkSignature(checkpoint, vkey) {
  // The name holds no '+', the hash is hex; the key's base64 may hold '+'.
  const [name, hash, ...rest] = vkey.split('+');
  const key = rest.join('+');
  const raw = fromBase64(key);
  if (raw[0] !== 1 || raw.length !== 33) return false;
  const keyId = Uint8Array.from(hash.match(/../g).map((h) => parseInt(h, 16)));
  const line = checkpoint.signatures.find((s) => s.name === name && equal(s.sig.slice(0, 4), keyId));
  if (!line) return false;
  let publicKey;
  try {
    publicKey = await subtle.importKey('raw', raw.slice(1), { name: 'Ed25519' }, false, ['verify']);
  } catch {
    return null;
  }
  return subtle.verify({ name: 'Ed25519' }, publicKey, line.sig.slice(4), new TextEncoder().encode(checkpoint.body));
}

// Checks that the entry at `index` (its raw bytes, base64) is in the tree of `checkpoint`,
// with the proof the server gives; the leaf hash is computed here, not taken from the server.
export async function verifyInclusion(get, index, entryB64, checkpoint) {
  const leaf = await leafHash(fromBase64(entryB64));
  const proof = await get(`/v1/proof/inclusion?index=${index}&tree_size=${checkpoint.size}`);
  const root = await rootFromInclusion(index, checkpoint.size, leaf, proof.proof.map(fromBase64));
  return root !== null && equal(root, checkpoint.root);
}

// The observation payload an entry's bytes hold (a `truce.observation.v1` header line, then
// the DSSE envelope), or null for other entries: the evidence table shows what was proved,
// not what the server's JSON view says.
export function observationOf(entryB64) {
  const text = new TextDecoder().decode(fromBase64(entryB64));
  const newline = text.indexOf('\n');
  if (newline < 0 || !text.slice(0, newline).startsWith('truce.observation.')) return null;
  try {
    const envelope = JSON.parse(text.slice(newline + 1));
    return JSON.parse(new TextDecoder().decode(fromBase64(envelope.payload)));
  } catch {
    return null;
  }
}
