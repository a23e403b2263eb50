// The dashboard's in-browser checks (src/proof.js) against published vectors: the RFC 6962
// reference tree of transparency-dev/merkle (crates/ledger/tests/vectors/rfc6962-merkle.json)
// and the Go note package's signed note (crates/ledger/tests/vectors/signed-note.md).
// Run: node --test tests/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generateKeyPairSync, sign, createHash } from 'node:crypto';
import { rootFromInclusion, leafHash, parseNote, parseCheckpoint, checkSignature, toBase64 } from '../src/proof.js';

const vectors = JSON.parse(readFileSync(new URL('../../crates/ledger/tests/vectors/rfc6962-merkle.json', import.meta.url)));
const hex = (h) => Uint8Array.from((h.match(/../g) || []).map((b) => parseInt(b, 16)));

test('inclusion proofs of the RFC 6962 reference tree lead to its roots', async () => {
  let checked = 0;
  for (const v of vectors.inclusion) {
    if (v.size === 0) continue;
    const leaf = await leafHash(hex(vectors.leaves[v.index]));
    const root = await rootFromInclusion(v.index, v.size, leaf, v.proof.map(hex));
    assert.deepEqual(root, hex(vectors.roots[v.size]), `index ${v.index} size ${v.size}`);
    checked++;
  }
  assert.ok(checked >= 5, `${checked} vectors`);
});

test('a wrong leaf, proof or size does not lead to the root', async () => {
  const v = vectors.inclusion.find((x) => x.proof.length >= 2);
  const root = hex(vectors.roots[v.size]);
  const leaf = await leafHash(hex(vectors.leaves[v.index]));
  const other = await leafHash(hex(vectors.leaves[(v.index + 1) % v.size]));
  assert.notDeepEqual(await rootFromInclusion(v.index, v.size, other, v.proof.map(hex)), root);
  assert.notDeepEqual(await rootFromInclusion(v.index, v.size, leaf, v.proof.slice(1).map(hex)), root);
  assert.equal(await rootFromInclusion(v.size, v.size, leaf, v.proof.map(hex)), null);
});

const GO_NOTE = 'If you think cryptography is the answer to your problem,\nthen you don\'t know what your problem is.\n\n'
  + '\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';

test('the Go note package example verifies, and a changed text does not', async () => {
  assert.equal(await checkSignature(parseNote(GO_NOTE), GO_VKEY), true);
  const changed = GO_NOTE.replace('cryptography', 'cryptograph');
  assert.equal(await checkSignature(parseNote(changed), GO_VKEY), false);
  assert.equal(await checkSignature(parseNote(GO_NOTE), GO_VKEY.replace('c74f20a3', 'c74f20a4')), false);
});

test('a verifier key whose base64 holds "+" verifies its checkpoint', async () => {
  // Keys are random: take the first whose public key's base64 has a '+'.
  for (;;) {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const key = toBase64(Uint8Array.from([1, ...raw]));
    if (!key.includes('+')) continue;
    const name = 'example.org/log';
    const id = createHash('sha256').update(Buffer.concat([Buffer.from(`${name}\n`), Buffer.from([1]), raw])).digest().subarray(0, 4);
    const body = `${name}\n7\n${toBase64(new Uint8Array(32))}\n`;
    const sig = sign(null, Buffer.from(body), privateKey);
    const note = `${body}\n\u2014 ${name} ${toBase64(Uint8Array.from([...id, ...sig]))}\n`;
    const checkpoint = parseCheckpoint(note);
    assert.equal(checkpoint.size, 7);
    assert.equal(await checkSignature(checkpoint, `${name}+${id.toString('hex')}+${key}`), true);
    return;
  }
});
