// The browser's language as a valid BCP 47 tag, before anything formats with it.
//
// WebKitGTK derives `navigator.language` from the process locale, and under the POSIX
// locale (`LANG=C`, `C.UTF-8`: containers, CI, minimal installs) it reports "C",
// which `Intl` rejects with a RangeError. uPlot builds `new Intl.NumberFormat(
// navigator.language)` when it loads, so that one value stopped the whole console: a blank
// window. The POSIX locale means "no preference", so it reads as en-US here. Imported first
// by main.ts: ES modules run in import order, so this runs before uPlot does.

/** Whether `tag` is a language tag `Intl` accepts. */
export function isLanguageTag(tag: unknown): tag is string {
  if (typeof tag !== 'string' || tag === '') return false;
  try {
    return Intl.getCanonicalLocales(tag).length === 1;
  } catch {
    return false;
  }
}

/** Replaces an invalid `navigator.language` (and `languages`) with `fallback`; whether it did. */
export function sanitizeNavigatorLanguage(nav: Navigator | undefined = globalThis.navigator, fallback = 'en-US'): boolean {
  if (!nav || isLanguageTag(nav.language)) return false;
  const languages = (nav.languages ?? []).filter(isLanguageTag);
  Object.defineProperty(nav, 'language', { value: languages[0] ?? fallback, configurable: true });
  Object.defineProperty(nav, 'languages', { value: languages.length > 0 ? languages : [fallback], configurable: true });
  return true;
}

sanitizeNavigatorLanguage();
