// A value to paste elsewhere (a command, a token) with a Copy button; where the browser allows no clipboard
// (plain http is not a secure context), the text is selected instead so Ctrl+C copies it.
import { useEffect, useId, useRef, useState } from 'react';

import { Button } from './ui';

type CopyState = 'idle' | 'copied' | 'selected';

function selectContents(element: HTMLElement | null): void {
  const selection = window.getSelection();
  if (element === null || selection === null) return;
  const range = document.createRange();
  range.selectNodeContents(element);
  selection.removeAllRanges();
  selection.addRange(range);
}

/** Copies with the async Clipboard API; false when it is missing or refuses (insecure origin, no permission). */
async function writeClipboard(text: string): Promise<boolean> {
  const clipboard = navigator.clipboard as Clipboard | undefined;
  if (clipboard === undefined) return false;
  try {
    await clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** "Join command" → "join command" inside a sentence; "CA hash" keeps its capitals. */
function inSentence(label: string): string {
  const second = label.charAt(1);
  return second !== '' && second === second.toUpperCase()
    ? label
    : label.charAt(0).toLowerCase() + label.slice(1);
}

const FEEDBACK: Record<CopyState, string> = {
  idle: '',
  copied: 'Copied',
  selected: 'Selected: press Ctrl+C (⌘C on a Mac) to copy',
};

export function CopyField({
  label,
  value,
  description,
}: {
  label: string;
  value: string;
  description?: string;
}) {
  const labelId = useId();
  const codeRef = useRef<HTMLElement>(null);
  const [state, setState] = useState<CopyState>('idle');

  useEffect(() => {
    if (state === 'idle') return undefined;
    const timer = setTimeout(() => {
      setState('idle');
    }, 4_000);
    return () => {
      clearTimeout(timer);
    };
  }, [state]);

  async function copy(): Promise<void> {
    if (await writeClipboard(value)) {
      setState('copied');
      return;
    }
    selectContents(codeRef.current);
    setState('selected');
  }

  return (
    <div role="group" aria-labelledby={labelId} className="space-y-1">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <p id={labelId} className="text-sm font-medium">
          {label}
        </p>
        <div className="flex items-center gap-2">
          <span role="status" className="text-xs text-emerald-700 dark:text-emerald-400">
            {FEEDBACK[state]}
          </span>
          <Button
            aria-label={`${state === 'copied' ? 'Copied' : 'Copy'} ${inSentence(label)}`}
            onClick={() => {
              void copy();
            }}
          >
            {state === 'copied' ? 'Copied' : 'Copy'}
          </Button>
        </div>
      </div>
      {description !== undefined && (
        <p className="text-xs text-slate-600 dark:text-slate-400">{description}</p>
      )}
      <pre className="rounded-md bg-slate-100 p-3 text-xs wrap-anywhere whitespace-pre-wrap dark:bg-slate-950">
        <code ref={codeRef}>{value}</code>
      </pre>
    </div>
  );
}
