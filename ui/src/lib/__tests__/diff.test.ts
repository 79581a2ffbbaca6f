import { describe, expect, it } from 'vitest';
import { diffLines, hunks, summarize } from '../diff';

describe('line diff', () => {
  it('marks a changed limit as one removal and one addition, in place', () => {
    const before = 'version = 1\n[[limit]]\nmax = "100.00"\non_exceed = "deny"\n';
    const after = 'version = 1\n[[limit]]\nmax = "150.00"\non_exceed = "deny"\n';
    const lines = diffLines(before, after);
    expect(lines.map((l) => l.type)).toEqual(['same', 'same', 'del', 'add', 'same']);
    expect(lines[2]).toMatchObject({ type: 'del', text: 'max = "100.00"', oldLine: 3 });
    expect(lines[3]).toMatchObject({ type: 'add', text: 'max = "150.00"', newLine: 3 });
    expect(summarize(lines)).toEqual({ added: 1, removed: 1 });
  });

  it('finds the longest common subsequence (insertions do not look like rewrites)', () => {
    const lines = diffLines('a\nb\nc\nd', 'a\nx\nb\nc\ny\nd');
    expect(lines.filter((l) => l.type === 'same').map((l) => l.text)).toEqual(['a', 'b', 'c', 'd']);
    expect(lines.filter((l) => l.type === 'add').map((l) => l.text)).toEqual(['x', 'y']);
    expect(summarize(lines)).toEqual({ added: 2, removed: 0 });
  });

  it('handles empty texts and identical texts', () => {
    expect(diffLines('', '')).toEqual([]);
    expect(summarize(diffLines('', 'a\nb'))).toEqual({ added: 2, removed: 0 });
    expect(summarize(diffLines('a\nb\n', ''))).toEqual({ added: 0, removed: 2 });
    expect(hunks(diffLines('a\nb', 'a\nb'))).toEqual([]);
  });

  it('numbers lines on both sides', () => {
    const lines = diffLines('x\na\nb', 'a\nb\nz');
    const same = lines.filter((l) => l.type === 'same');
    expect(same).toEqual([
      { type: 'same', text: 'a', oldLine: 2, newLine: 1 },
      { type: 'same', text: 'b', oldLine: 3, newLine: 2 },
    ]);
  });

  it('groups distant changes into separate hunks with context', () => {
    const before = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n');
    const after = before.replace('line 2\n', 'line two\n').replace('line 27', 'line twenty-seven');
    const groups = hunks(diffLines(before, after), 2);
    expect(groups).toHaveLength(2);
    expect(groups[0].lines.map((l) => l.text)).toEqual(['line 0', 'line 1', 'line 2', 'line two', 'line 3', 'line 4']);
    expect(groups[1].lines.some((l) => l.type === 'add' && l.text === 'line twenty-seven')).toBe(true);
  });
});
