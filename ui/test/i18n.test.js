// The translations (js/i18n/*.js) against English: the same keys, every
// value a non-empty string with the same {placeholders}, the same sections
// of the paper, and nothing left in English by mistake.
// Run: node --test ui/test/

import test from 'node:test';
import assert from 'node:assert/strict';

import en from '../js/i18n/en.js';
import zh from '../js/i18n/zh.js';

/**
 * Keys whose Chinese is meant to be the English: raft's own names, which
 * Chinese practitioners use as they are (the tab of raft's Ready struct,
 * the Progress fields match and next, the replication states
 * StateProbe/StateReplicate/StateSnapshot, which the lessons quote).
 */
const UNTRANSLATED = new Set([
  'tab.ready', // Ready
  'progress.col.match', // match
  'progress.col.next', // next
  'progress.state.probe', // probe
  'progress.state.replicate', // replicate
  'progress.state.snapshot', // snapshot
]);

/** The {names} of a message, sorted, without repeats. */
const placeholders = (s) => [...new Set([...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort();

/**
 * Whether a message has words to translate: letters a-z once the
 * {placeholders} and member names (n{id}, n3) are taken out.
 */
const hasWords = (s) => /[a-z]/i.test(s.replace(/\bn(?=\{\w+\})/g, '').replace(/\{\w+\}/g, '').replace(/\bn\d+\b/g, ''));

/** The paper's sections a message cites: §5.2, and Figure 2 (图 2 in Chinese). */
const sections = (s) => [...s.matchAll(/§\d+(?:\.\d+)*/g)].map((m) => m[0]).sort();
const figures = (s) => [...s.matchAll(/(?:Figure|图)\s*(\d+)/g)].map((m) => m[1]).sort();

test('zh has exactly the keys of en', () => {
  const missing = Object.keys(en).filter((k) => !Object.hasOwn(zh, k));
  const extra = Object.keys(zh).filter((k) => !Object.hasOwn(en, k));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, 'zh.js must have every key of en.js and no other');
});

test('every value is a non-empty string', () => {
  for (const [name, msgs] of [['en', en], ['zh', zh]]) {
    const bad = Object.entries(msgs).filter(([, v]) => typeof v !== 'string' || v.trim() === '').map(([k]) => k);
    assert.deepEqual(bad, [], `${name}.js: empty or not a string`);
  }
});

test('each zh value has the placeholders of its en value', () => {
  const bad = [];
  for (const k of Object.keys(en)) {
    if (typeof zh[k] !== 'string') continue;
    const want = placeholders(en[k]);
    const got = placeholders(zh[k]);
    if (want.join() !== got.join()) bad.push(`${k}: en {${want.join('} {')}}, zh {${got.join('} {')}}`);
  }
  assert.deepEqual(bad, []);
});

test('each zh value cites the sections and figures its en value cites', () => {
  const bad = [];
  for (const k of Object.keys(en)) {
    if (typeof zh[k] !== 'string') continue;
    if (sections(en[k]).join() !== sections(zh[k]).join()) bad.push(`${k}: en ${sections(en[k])}, zh ${sections(zh[k])}`);
    if (figures(en[k]).join() !== figures(zh[k]).join()) bad.push(`${k}: en Figure ${figures(en[k])}, zh 图 ${figures(zh[k])}`);
  }
  assert.deepEqual(bad, []);
});

test('no zh value is left in English', () => {
  const same = Object.keys(en).filter((k) => zh[k] === en[k] && hasWords(en[k]) && !UNTRANSLATED.has(k));
  assert.deepEqual(same, [], 'translate these, or add them to UNTRANSLATED if raft\'s name is meant');
});

test('the keys left untranslated on purpose exist in en', () => {
  for (const k of UNTRANSLATED) assert.ok(Object.hasOwn(en, k), `UNTRANSLATED names ${k}, which en.js no longer has`);
});

test('the checks themselves', () => {
  assert.equal(hasWords('{type} n{from} → n{to}'), false);
  assert.equal(hasWords('?'), false);
  assert.equal(hasWords('n3 → n{to}'), false);
  assert.equal(hasWords('Leader n{id}'), true);
  assert.deepEqual(placeholders('{a} and {b} and {a}'), ['a', 'b']);
  assert.deepEqual(sections('(§5.2, Figure 2, §7)'), ['§5.2', '§7']);
  assert.deepEqual(figures('（§5.2，图 2）'), ['2']);
});
