// Short confirmations and failures shown in the corner ("Approved 49.00 USD",
// "Could not reach the daemon: …"). Errors stay until dismissed; others fade.

export interface Toast {
  id: number;
  tone: 'good' | 'bad' | 'info';
  message: string;
}

class Toasts {
  items = $state<Toast[]>([]);
  private next = 1;

  push(message: string, tone: Toast['tone'] = 'info'): void {
    const id = this.next++;
    this.items = [...this.items, { id, tone, message }].slice(-4);
    if (tone !== 'bad') setTimeout(() => this.dismiss(id), 4000);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((toast) => toast.id !== id);
  }
}

export const toasts = new Toasts();
