// The daemon's naming rules (purser-core names.rs), checked in the console before a
// round trip so forms can say what is wrong while the user types.

/** Agent and profile names: 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit. */
export const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const PROFILE_NAME = AGENT_NAME;
/** Categories and rails: 1-64 of a-z 0-9 _ -. */
export const SLUG = /^[a-z0-9_-]{1,64}$/;
/** 3-10 uppercase letters or digits. */
export const CURRENCY = /^[A-Z0-9]{3,10}$/;

export function nameProblem(kind: 'agent' | 'profile', value: string): string | null {
  if (value === '') return `Give the ${kind} a name.`;
  if (!AGENT_NAME.test(value)) return 'Use 1–64 of A–Z, a–z, 0–9, “.”, “_” or “-”, starting with a letter or digit.';
  return null;
}

export function slugProblem(value: string): string | null {
  return SLUG.test(value) ? null : 'Use lowercase letters, digits, “_” or “-” (e.g. software, x402).';
}

export function currencyProblem(value: string): string | null {
  return CURRENCY.test(value) ? null : 'A currency is 3–10 uppercase letters or digits, e.g. USD, EUR, USDC.';
}
