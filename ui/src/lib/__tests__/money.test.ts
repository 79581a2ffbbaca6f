import { describe, expect, it } from 'vitest';
import {
  addAmounts,
  compareAmounts,
  formatAmount,
  formatMoney,
  fromMicros,
  isAmount,
  isPositiveAmount,
  ratio,
  sliderAmount,
  sliderPosition,
  sliderScale,
  sortByAmountDesc,
  subtractAmounts,
  sumAmounts,
  toMicros,
} from '../money';

describe('exact decimal amounts', () => {
  it('parses decimal strings to micro-units without floats', () => {
    expect(toMicros('12.50')).toBe(12_500_000n);
    expect(toMicros('0.000001')).toBe(1n);
    expect(toMicros('999999999999.999999')).toBe(999_999_999_999_999_999n);
    expect(toMicros('-3.2')).toBe(-3_200_000n);
  });

  it('refuses what the daemon refuses: floats, exponents, commas, too many digits', () => {
    for (const bad of ['1e3', '1,000.00', '0.1234567', '1234567890123', '.5', '5.', 'NaN', '', ' ', '+1', '0x10']) {
      expect(toMicros(bad), bad).toBeNull();
    }
    expect(isAmount('-1')).toBe(false);
    expect(isPositiveAmount('0.00')).toBe(false);
    expect(isPositiveAmount('0.000001')).toBe(true);
    expect(isPositiveAmount(' 5')).toBe(false);
  });

  it('compares by value, not by text', () => {
    expect(compareAmounts('25.00', '25')).toBe(0);
    expect(compareAmounts('9.99', '10')).toBe(-1);
    expect(compareAmounts('100', '99.999999')).toBe(1);
    // A float would say 0.1 + 0.2 != 0.3; exact arithmetic does not.
    expect(compareAmounts(addAmounts('0.1', '0.2'), '0.3')).toBe(0);
    expect(() => compareAmounts('abc', '1')).toThrow(/not an exact decimal/);
  });

  it('sorts amounts exactly, largest first', () => {
    const sorted = sortByAmountDesc([{ a: '9.5' }, { a: '10.00' }, { a: '0.000001' }, { a: '1000' }], (x) => x.a);
    expect(sorted.map((x) => x.a)).toEqual(['1000', '10.00', '9.5', '0.000001']);
  });

  it('adds and subtracts keeping the written precision', () => {
    expect(addAmounts('12.50', '0.5')).toBe('13.00');
    expect(subtractAmounts('100.00', '45.5')).toBe('54.50');
    expect(subtractAmounts('10.00', '25.00')).toBe('-15.00');
    expect(sumAmounts(['0.000001', '0.000002', '1'])).toBe('1.000003');
    expect(sumAmounts([])).toBe('0');
    expect(fromMicros(0n, 2)).toBe('0.00');
  });

  it('formats for display without dropping a digit', () => {
    expect(formatAmount('1234567.5')).toBe('1,234,567.50');
    expect(formatAmount('0.000001')).toBe('0.000001');
    expect(formatAmount('25')).toBe('25.00');
    expect(formatAmount('-15.00')).toBe('−15.00');
    expect(formatMoney('412.80', 'EUR')).toBe('412.80 EUR');
    expect(formatAmount('not money')).toBe('not money');
  });

  it('gives a display-only ratio for charts', () => {
    expect(ratio('50', '200.00')).toBe(0.25);
    expect(ratio('1', '0')).toBe(0);
    expect(ratio('300', '200')).toBe(1.5);
  });
});

describe('limit slider scale', () => {
  it('keeps the slider a convenience: the value it writes keeps the text precision', () => {
    const scale = sliderScale('25.00');
    expect(scale.steps).toBe(100);
    const at = sliderPosition('25.00', scale);
    expect(sliderAmount(at, scale, 2)).toBe('25.00');
    expect(sliderAmount(at + 10, scale, 2)).toBe('30.00');
  });

  it('reaches at least twice the value and starts at a positive amount', () => {
    const scale = sliderScale('2000.00');
    expect(sliderAmount(scale.steps, scale, 2)).toBe('5000.00');
    expect(sliderAmount(0, scale, 2)).toBe('50.00');
    expect(sliderPosition('999999', scale)).toBe(100);
  });

  it('has a sensible scale for tiny amounts', () => {
    const scale = sliderScale('0.50');
    expect(sliderAmount(scale.steps, scale, 2)).toBe('10.00');
    expect(sliderAmount(5, scale, 2)).toBe('0.50');
  });
});
