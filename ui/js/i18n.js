// Every string a person reads comes from a per-language messages file
// (i18n/en.js, i18n/zh.js), so a teacher can add a language without
// touching code: copy en.js, translate the values, add it to LANGUAGES.

import en from './i18n/en.js';
import zh from './i18n/zh.js';

export const LANGUAGES = { en, zh };

let current = en;
let currentCode = 'en';

/** Sets the language; unknown codes fall back to English. */
export function setLanguage(code) {
  currentCode = LANGUAGES[code] ? code : 'en';
  current = LANGUAGES[currentCode];
  if (typeof document !== 'undefined') document.documentElement.lang = currentCode === 'zh' ? 'zh-Hans' : 'en';
}

export function language() { return currentCode; }

/** The language the browser prefers among ours. */
export function preferredLanguage(navLanguages = []) {
  for (const l of navLanguages) {
    const code = l.toLowerCase().split('-')[0];
    if (LANGUAGES[code]) return code;
  }
  return 'en';
}

/**
 * t returns the message for key in the current language, with {name}
 * placeholders filled from params. A missing key falls back to English,
 * then to the key itself (so a gap shows, never breaks).
 */
export function t(key, params = {}) {
  const msg = current[key] ?? en[key] ?? key;
  return msg.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}
