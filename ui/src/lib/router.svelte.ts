// The console's five views, addressed by the URL hash (#/inbox, #/policies...), so a
// view can be linked, reloaded and screenshotted directly.

export const VIEWS = ['inbox', 'dashboard', 'policies', 'agents', 'audit'] as const;
export type View = (typeof VIEWS)[number];

export function viewFromHash(hash: string): View {
  const name = hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return (VIEWS as readonly string[]).includes(name) ? (name as View) : 'inbox';
}

// `#/inbox/auth_…` (a desktop notification's Open): the request to select in the inbox.
export function focusFromHash(hash: string): string | null {
  const [view, id] = hash.replace(/^#\/?/, '').split(/[/?]/);
  return view === 'inbox' && id ? id : null;
}

class Router {
  view = $state<View>(typeof window === 'undefined' ? 'inbox' : viewFromHash(window.location.hash));
  focus = $state<string | null>(typeof window === 'undefined' ? null : focusFromHash(window.location.hash));
}

export const router = new Router();

export function navigate(view: View): void {
  router.view = view;
  if (typeof window !== 'undefined' && viewFromHash(window.location.hash) !== view) {
    window.location.hash = `#/${view}`;
  }
}

export function startRouter(): void {
  window.addEventListener('hashchange', () => {
    router.view = viewFromHash(window.location.hash);
    router.focus = focusFromHash(window.location.hash);
  });
}
