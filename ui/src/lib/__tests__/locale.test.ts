import { describe, expect, it } from 'vitest';
import { isLanguageTag, sanitizeNavigatorLanguage } from '../locale';

function fakeNavigator(language: string, languages: string[]): Navigator {
  return { language, languages } as unknown as Navigator;
}

describe('the browser language', () => {
  it('accepts BCP 47 tags and rejects the POSIX locale', () => {
    expect(isLanguageTag('en-US')).toBe(true);
    expect(isLanguageTag('de')).toBe(true);
    expect(isLanguageTag('C')).toBe(false);
    expect(isLanguageTag('C.UTF-8')).toBe(false);
    expect(isLanguageTag('')).toBe(false);
    expect(isLanguageTag(undefined)).toBe(false);
  });

  it('replaces "C" (WebKitGTK under LANG=C) so Intl formatters can be built', () => {
    const nav = fakeNavigator('C', ['C']);
    expect(() => new Intl.NumberFormat(nav.language)).toThrow(RangeError);
    expect(sanitizeNavigatorLanguage(nav)).toBe(true);
    expect(nav.language).toBe('en-US');
    expect(nav.languages).toEqual(['en-US']);
    expect(() => new Intl.NumberFormat(nav.language)).not.toThrow();
  });

  it('keeps a valid language, and prefers a valid one from the list', () => {
    const fine = fakeNavigator('fr-FR', ['fr-FR', 'en']);
    expect(sanitizeNavigatorLanguage(fine)).toBe(false);
    expect(fine.language).toBe('fr-FR');
    const mixed = fakeNavigator('C', ['C', 'de-DE']);
    expect(sanitizeNavigatorLanguage(mixed)).toBe(true);
    expect(mixed.language).toBe('de-DE');
    expect(mixed.languages).toEqual(['de-DE']);
  });
});
