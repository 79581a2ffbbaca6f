// One shared ticking clock for countdowns and "3 min ago" labels: components read
// `clock.now` and re-render once a second. Started on first use, never more than once.

let started = false;

class Clock {
  now = $state(Date.now());
}

export const clock = new Clock();

export function startClock(): void {
  if (started || typeof window === 'undefined') return;
  started = true;
  window.setInterval(() => {
    clock.now = Date.now();
  }, 1000);
}
