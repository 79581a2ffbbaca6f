// Exact decimal-string money for the console. Amounts arrive and leave as strings such as
// "12.50"; arithmetic and comparison go through integer micro-units (BigInt), exactly as
// the daemon does (6 fractional digits at most). Nothing here ever turns money into a
// JavaScript number, except `ratio`, which yields a display-only fraction for charts.

const MICROS_DIGITS = 6;
const MICROS_PER_UNIT = 1_000_000n;
const AMOUNT_PATTERN = /^(-)?(\d{1,12})(?:\.(\d{1,6}))?$/;

/** The amount as signed micro-units, or null when the text is not an exact decimal. */
export function toMicros(amount: string): bigint | null {
  const match = AMOUNT_PATTERN.exec(amount.trim());
  if (!match) return null;
  const [, sign, whole, fraction = ''] = match;
  const micros = BigInt(whole) * MICROS_PER_UNIT + BigInt(fraction.padEnd(MICROS_DIGITS, '0'));
  return sign ? -micros : micros;
}

function micros(amount: string): bigint {
  const value = toMicros(amount);
  if (value === null) throw new Error(`not an exact decimal amount: ${JSON.stringify(amount)}`);
  return value;
}

/** Digits after the point as written ("12.50" → 2, "3" → 0). */
export function fractionDigits(amount: string): number {
  const point = amount.indexOf('.');
  return point < 0 ? 0 : amount.length - point - 1;
}

/** Micro-units back to a decimal string with at least `minFraction` fractional digits
 * and no trailing zeros beyond them. */
export function fromMicros(value: bigint, minFraction = 0): string {
  const negative = value < 0n;
  const absolute = negative ? -value : value;
  const whole = absolute / MICROS_PER_UNIT;
  let fraction = (absolute % MICROS_PER_UNIT).toString().padStart(MICROS_DIGITS, '0');
  const keep = Math.min(MICROS_DIGITS, Math.max(0, minFraction));
  while (fraction.length > keep && fraction.endsWith('0')) fraction = fraction.slice(0, -1);
  const text = fraction.length > 0 ? `${whole}.${fraction}` : `${whole}`;
  return negative && absolute !== 0n ? `-${text}` : text;
}

/** A decimal string the daemon accepts anywhere money is written (≥ 0). */
export function isAmount(text: string): boolean {
  const value = toMicros(text);
  return value !== null && value >= 0n && !text.trim().startsWith('-');
}

/** A limit or threshold: an exact decimal greater than zero. */
export function isPositiveAmount(text: string): boolean {
  const value = toMicros(text);
  return value !== null && value > 0n && text === text.trim();
}

/** -1, 0 or 1, exactly ("25.00" equals "25"). Throws on text that is not an amount. */
export function compareAmounts(a: string, b: string): -1 | 0 | 1 {
  const left = micros(a);
  const right = micros(b);
  return left < right ? -1 : left > right ? 1 : 0;
}

function precision(...amounts: string[]): number {
  return Math.max(...amounts.map(fractionDigits));
}

export function addAmounts(a: string, b: string): string {
  return fromMicros(micros(a) + micros(b), precision(a, b));
}

/** a − b; negative results carry a leading "-". */
export function subtractAmounts(a: string, b: string): string {
  return fromMicros(micros(a) - micros(b), precision(a, b));
}

export function sumAmounts(amounts: string[]): string {
  if (amounts.length === 0) return '0';
  return fromMicros(amounts.reduce((total, amount) => total + micros(amount), 0n), precision(...amounts));
}

export function isNegative(amount: string): boolean {
  return micros(amount) < 0n;
}

/** part / whole as a number for drawing bars and gauges; never for money. 0 when whole is 0. */
export function ratio(part: string, whole: string): number {
  const denominator = micros(whole);
  if (denominator === 0n) return 0;
  return Number((micros(part) * 1_000_000n) / denominator) / 1_000_000;
}

/** "1234.5" → "1,234.50": thousands grouped, at least two fractional digits, every
 * digit kept (a display form; nothing is rounded). */
export function formatAmount(amount: string): string {
  const value = toMicros(amount);
  if (value === null) return amount;
  const text = fromMicros(value, Math.max(2, fractionDigits(amount.trim())));
  const negative = text.startsWith('-');
  const unsigned = negative ? text.slice(1) : text;
  const [whole, fraction] = unsigned.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '−' : ''}${grouped}${fraction !== undefined ? `.${fraction}` : ''}`;
}

/** "1,234.50 USD". */
export function formatMoney(amount: string, currency: string): string {
  return `${formatAmount(amount)} ${currency}`;
}

/** Sorts a copy by amount, largest first. */
export function sortByAmountDesc<T>(items: T[], amountOf: (item: T) => string): T[] {
  return [...items].sort((a, b) => compareAmounts(amountOf(b), amountOf(a)));
}

/** How a limit's slider maps to money: `steps` positions of `stepMicros` each. The slider
 * is a convenience only; the text input next to it holds the exact value. */
export interface SliderScale {
  stepMicros: bigint;
  steps: number;
}

const NICE = [1n, 2n, 5n];

/** A scale whose top is a round number at least twice `amount` (and at least 10). */
export function sliderScale(amount: string): SliderScale {
  const value = toMicros(amount);
  const target = value !== null && value > 0n ? value * 2n : 10n * MICROS_PER_UNIT;
  const floor = 10n * MICROS_PER_UNIT;
  let top = 1n;
  for (let magnitude = 1n; ; magnitude *= 10n) {
    const nice = NICE.map((n) => n * magnitude).find((candidate) => candidate >= target && candidate >= floor);
    if (nice !== undefined) {
      top = nice;
      break;
    }
  }
  const steps = 100;
  return { stepMicros: top / BigInt(steps), steps };
}

/** Where `amount` sits on the slider (clamped to its range). */
export function sliderPosition(amount: string, scale: SliderScale): number {
  const value = toMicros(amount);
  if (value === null || value <= 0n) return 0;
  const position = (value + scale.stepMicros / 2n) / scale.stepMicros;
  return Number(position > BigInt(scale.steps) ? BigInt(scale.steps) : position);
}

/** The amount at a slider position, written with `minFraction` digits (the value's own
 * precision, so "25.00" moves to "30.00", not "30"). Position 0 gives one step. */
export function sliderAmount(position: number, scale: SliderScale, minFraction: number): string {
  const steps = BigInt(Math.max(1, Math.min(scale.steps, Math.round(position))));
  return fromMicros(steps * scale.stepMicros, minFraction);
}
