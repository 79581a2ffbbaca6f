// The limit editor: the exact text input is the value; the slider only moves it, and
// both stay in sync without losing the written precision.
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type { LimitModel } from '../policy-model';
import LimitHarness from './LimitHarness.svelte';

afterEach(() => cleanup());

function setup() {
  let latest: LimitModel[] = [];
  render(LimitHarness, {
    initial: [
      { currency: 'USD', window: 'transaction', max: '100.00', on_exceed: 'deny' },
      { currency: 'USD', window: 'day', max: '200.00', on_exceed: 'ask' },
    ],
    onchange: (limits: LimitModel[]) => (latest = limits),
  });
  const inputs = () => screen.getAllByTestId('limit-input') as HTMLInputElement[];
  const sliders = () => screen.getAllByTestId('limit-slider') as HTMLInputElement[];
  return { inputs, sliders, latest: () => latest };
}

describe('limit editor', () => {
  it('exposes each exact input with its profile and index for E2E tests', () => {
    const { inputs } = setup();
    expect(inputs().map((input) => [input.dataset.profile, input.dataset.index, input.value])).toEqual([
      ['default', '0', '100.00'],
      ['default', '1', '200.00'],
    ]);
  });

  it('typing an exact value updates the model verbatim and moves the slider', async () => {
    const { inputs, sliders, latest } = setup();
    const before = Number(sliders()[1].value);
    await fireEvent.input(inputs()[1], { target: { value: '150.25' } });
    expect(latest()[1].max).toBe('150.25');
    expect(Number(sliders()[1].value)).toBeLessThan(before);
  });

  it('moving the slider writes an exact decimal with the same precision', async () => {
    const { inputs, sliders, latest } = setup();
    await fireEvent.input(sliders()[0], { target: { value: '60' } });
    expect(latest()[0].max).toBe('120.00');
    expect(inputs()[0].value).toBe('120.00');
  });

  it('an invalid amount is flagged inline and disables the slider, the text is kept', async () => {
    const { inputs, sliders, latest } = setup();
    await fireEvent.input(inputs()[0], { target: { value: '12,50' } });
    expect(inputs()[0].getAttribute('aria-invalid')).toBe('true');
    expect(sliders()[0].disabled).toBe(true);
    expect(latest()[0].max).toBe('12,50');
    expect(screen.getByText(/A decimal above zero/)).toBeTruthy();
  });

  it('adds and removes limits', async () => {
    const { latest } = setup();
    await fireEvent.click(screen.getByText('Add limit'));
    expect(latest()).toHaveLength(3);
    expect(latest()[2]).toEqual({ currency: 'USD', window: 'day', max: '100.00', on_exceed: 'deny' });
    await fireEvent.click(screen.getAllByLabelText('Remove this limit')[0]);
    expect(latest().map((limit) => limit.window)).toEqual(['day', 'day']);
  });
});
