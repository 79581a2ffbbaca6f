// A line diff (longest common subsequence) between the running policy and the edited
// one, grouped into hunks with a few lines of context. Policies are small; the table is
// bounded so a pathological input degrades to "everything changed" instead of freezing.

export type DiffLine =
  | { type: 'same'; text: string; oldLine: number; newLine: number }
  | { type: 'del'; text: string; oldLine: number }
  | { type: 'add'; text: string; newLine: number };

export interface DiffHunk {
  lines: DiffLine[];
}

export interface DiffSummary {
  added: number;
  removed: number;
}

/** Cells of the LCS table beyond which the middle is reported as replaced wholesale. */
const MAX_CELLS = 4_000_000;

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Every line of both texts, in order, marked same / del / add. */
export function diffLines(oldText: string, newText: string): DiffLine[] {
  const a = splitLines(oldText);
  const b = splitLines(newText);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }

  const result: DiffLine[] = [];
  for (let i = 0; i < start; i++) result.push({ type: 'same', text: a[i], oldLine: i + 1, newLine: i + 1 });

  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  if (midA.length * midB.length > MAX_CELLS) {
    midA.forEach((text, i) => result.push({ type: 'del', text, oldLine: start + i + 1 }));
    midB.forEach((text, j) => result.push({ type: 'add', text, newLine: start + j + 1 }));
  } else {
    result.push(...middle(midA, midB, start));
  }

  for (let i = endA, j = endB; i < a.length; i++, j++) {
    result.push({ type: 'same', text: a[i], oldLine: i + 1, newLine: j + 1 });
  }
  return result;
}

function middle(a: string[], b: string[], offset: number): DiffLine[] {
  const n = a.length;
  const m = b.length;
  // lcs[i][j] = length of the LCS of a[i..] and b[j..], in one flat array.
  const width = m + 1;
  const lcs = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * width + j] =
        a[i] === b[j] ? lcs[(i + 1) * width + j + 1] + 1 : Math.max(lcs[(i + 1) * width + j], lcs[i * width + j + 1]);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ type: 'same', text: a[i], oldLine: offset + i + 1, newLine: offset + j + 1 });
      i++;
      j++;
    } else if (lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
      out.push({ type: 'del', text: a[i], oldLine: offset + i + 1 });
      i++;
    } else {
      out.push({ type: 'add', text: b[j], newLine: offset + j + 1 });
      j++;
    }
  }
  for (; i < n; i++) out.push({ type: 'del', text: a[i], oldLine: offset + i + 1 });
  for (; j < m; j++) out.push({ type: 'add', text: b[j], newLine: offset + j + 1 });
  return out;
}

export function summarize(lines: DiffLine[]): DiffSummary {
  let added = 0;
  let removed = 0;
  for (const line of lines) {
    if (line.type === 'add') added++;
    else if (line.type === 'del') removed++;
  }
  return { added, removed };
}

/** The changed lines with `context` unchanged lines around each change; distant changes
 * become separate hunks. No changes → no hunks. */
export function hunks(lines: DiffLine[], context = 3): DiffHunk[] {
  const keep = new Array<boolean>(lines.length).fill(false);
  lines.forEach((line, index) => {
    if (line.type === 'same') return;
    for (let k = Math.max(0, index - context); k <= Math.min(lines.length - 1, index + context); k++) keep[k] = true;
  });
  const result: DiffHunk[] = [];
  let current: DiffLine[] | null = null;
  lines.forEach((line, index) => {
    if (keep[index]) {
      if (!current) {
        current = [];
        result.push({ lines: current });
      }
      current.push(line);
    } else {
      current = null;
    }
  });
  return result;
}
