// The Inbox view against the mock daemon: keyboard decisions, and requests decided
// elsewhere leaving the list live.
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Inbox from '../../views/Inbox.svelte';
import { app } from '../console.svelte';
import { useBackend } from '../ipc';
import { focusFromHash, router } from '../router.svelte';
import { createMockBackend } from '../mock-ipc';

let backend: ReturnType<typeof createMockBackend>;

beforeEach(async () => {
  backend = createMockBackend({ live: false });
  useBackend(backend);
  app.stop();
  await app.start();
});

afterEach(() => cleanup());

const items = () => screen.queryAllByTestId('inbox-item');
const ids = () => items().map((item) => item.dataset.id);
const key = (k: string, target: Window | Element = window) => fireEvent.keyDown(target, { key: k });

describe('Inbox view', () => {
  it('lists every pending request, newest first, with amount, merchant, purpose and reason', async () => {
    render(Inbox);
    const pending = backend.daemon.authorizations.filter((a) => a.status === 'pending');
    await waitFor(() => expect(items()).toHaveLength(pending.length));
    const newest = [...pending].sort((a, b) => (a.created_at < b.created_at ? 1 : -1))[0];
    expect(ids()[0]).toBe(newest.id);
    const card = items()[0];
    expect(card.textContent).toContain(newest.merchant);
    expect(card.textContent).toContain(newest.purpose);
    expect(card.textContent).toContain('412.80');
    expect(card.textContent).toContain('Above approval threshold');
  });

  it('j, a, Enter approves the second request once', async () => {
    render(Inbox);
    await waitFor(() => expect(items().length).toBeGreaterThan(1));
    const second = ids()[1] as string;
    await key('j');
    await key('a');
    expect(document.querySelector('.armed')?.textContent).toMatch(/Enter\s*to approve .* once/);
    await key('Enter');
    await waitFor(() => expect(ids()).not.toContain(second));
    expect(backend.daemon.authorizations.find((a) => a.id === second)?.status).toBe('approved');
  });

  it('d opens the reason box, Enter denies with that reason', async () => {
    render(Inbox);
    await waitFor(() => expect(items().length).toBeGreaterThan(0));
    const first = ids()[0] as string;
    await key('d');
    const reason = await screen.findByTestId('deny-reason');
    await waitFor(() => expect(document.activeElement).toBe(reason));
    await fireEvent.input(reason, { target: { value: 'Use the team account' } });
    await key('Enter', reason);
    await waitFor(() => expect(ids()).not.toContain(first));
    const record = backend.daemon.authorizations.find((a) => a.id === first);
    expect(record?.status).toBe('denied');
    expect(record?.reasons[0].message).toBe('Use the team account');
  });

  it('a request decided elsewhere leaves the inbox live', async () => {
    render(Inbox);
    await waitFor(() => expect(items().length).toBeGreaterThan(1));
    const [first, second] = ids() as string[];
    backend.daemon.approve(second, 'once'); // as if from the CLI
    await waitFor(() => expect(ids()).not.toContain(second));
    expect(ids()).toContain(first);
  });

  it('the kill switch empties the inbox and says why', async () => {
    render(Inbox);
    await waitFor(() => expect(items().length).toBeGreaterThan(0));
    backend.daemon.engageKill('test');
    await waitFor(() => expect(items()).toHaveLength(0));
    expect(screen.getByText(/kill switch denies every request/)).toBeTruthy();
  });

  it('a new request appears on top without a reload', async () => {
    render(Inbox);
    await waitFor(() => expect(items().length).toBeGreaterThan(0));
    const added = backend.daemon.simulatePending({ purpose: 'Buy eval credits now' });
    await waitFor(() => expect(ids()[0]).toBe(added.id));
    expect(items()[0].textContent).toContain('Buy eval credits now');
  });

  it('shows what to do next when nothing waits', async () => {
    for (const record of backend.daemon.authorizations.filter((a) => a.status === 'pending')) backend.daemon.deny(record.id);
    render(Inbox);
    await waitFor(() => expect(screen.getByText(/No requests waiting\. Agents that ask above your thresholds appear here\./)).toBeTruthy());
  });

  it("a notification's Open (#/inbox/<id>) selects that request", async () => {
    expect(focusFromHash('#/inbox/auth_42')).toBe('auth_42');
    expect(focusFromHash('#/inbox')).toBeNull();
    expect(focusFromHash('#/audit/auth_42')).toBeNull();
    render(Inbox);
    const pending = backend.daemon.authorizations.filter((a) => a.status === 'pending');
    await waitFor(() => expect(items()).toHaveLength(pending.length));
    const oldest = ids()[ids().length - 1]!;
    expect(items()[0].getAttribute('aria-current')).toBe('true');
    router.focus = oldest;
    await waitFor(() => expect(items().find((item) => item.dataset.id === oldest)?.getAttribute('aria-current')).toBe('true'));
    expect(items()[0].getAttribute('aria-current')).toBeNull();
    expect(router.focus).toBeNull();
  });
});
