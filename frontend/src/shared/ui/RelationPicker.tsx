/**
 * A combobox over a resource's `/autocomplete?query&limit` → `[{id,label}]`: type to search,
 * arrow keys to move, Enter to pick, Escape to close. `multiple` keeps a list of chips.
 */
import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import { useAuth } from '../auth/AuthContext';
import { toApiError, type ApiError } from '../api/errors';
import type { Option } from '../../resources';

interface Common {
  label: string;
  resource: string;
  error?: string | undefined;
  disabled?: boolean;
}
type Props =
  | (Common & { multiple?: false; value: Option | null; onChange(v: Option | null): void })
  | (Common & { multiple: true; value: Option[]; onChange(v: Option[]): void });

export function RelationPicker(props: Props) {
  const { client } = useAuth();
  const id = useId();
  const listId = `${id}-list`;
  const errId = `${id}-error`;
  const [query, setQuery] = useState('');
  const [open, setOpen] = useState(false);
  const [options, setOptions] = useState<Option[]>([]);
  const [active, setActive] = useState(-1);
  const [loading, setLoading] = useState(false);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (!open) return;
    const ctrl = new AbortController();
    const timer = window.setTimeout(() => {
      setLoading(true);
      client
        .get<unknown>(`/${props.resource}/autocomplete`, { query: { query, limit: 10 }, signal: ctrl.signal })
        .then((res) => {
          const list = Array.isArray(res) ? res : [];
          setOptions(
            list
              .map((o: unknown) => {
                const r = o as Record<string, unknown>;
                return r && r.id !== undefined ? { id: String(r.id), label: String(r.label ?? r.name ?? r.id) } : null;
              })
              .filter((o): o is Option => o !== null),
          );
          setLoadError(null);
          setActive(-1);
        })
        .catch((e: unknown) => {
          if (!ctrl.signal.aborted) setLoadError(toApiError(e));
        })
        .finally(() => {
          if (!ctrl.signal.aborted) setLoading(false);
        });
    }, 200);
    return () => {
      ctrl.abort();
      window.clearTimeout(timer);
    };
  }, [open, query, client, props.resource]);

  const selectedIds = new Set(props.multiple ? props.value.map((v) => v.id) : props.value ? [props.value.id] : []);
  const visible = options.filter((o) => !(props.multiple && selectedIds.has(o.id)));

  function pick(o: Option) {
    if (props.multiple) {
      props.onChange([...props.value, o]);
      setQuery('');
    } else {
      props.onChange(o);
      setQuery('');
      setOpen(false);
    }
    setActive(-1);
    inputRef.current?.focus();
  }

  function onKeyDown(e: KeyboardEvent<HTMLInputElement>) {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      setOpen(true);
      setActive((a) => Math.min(a + 1, visible.length - 1));
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      setActive((a) => Math.max(a - 1, 0));
    } else if (e.key === 'Enter' && open && active >= 0 && visible[active]) {
      e.preventDefault();
      pick(visible[active]);
    } else if (e.key === 'Escape' && open) {
      e.preventDefault();
      e.stopPropagation();
      setOpen(false);
    } else if (e.key === 'Backspace' && query === '' && props.multiple && props.value.length) {
      props.onChange(props.value.slice(0, -1));
    }
  }

  const single = !props.multiple ? props.value : null;
  return (
    <div className="field picker">
      <label htmlFor={id}>{props.label}</label>
      {props.multiple && props.value.length > 0 && (
        <ul className="chips" aria-label={`Selected ${props.label.toLowerCase()}`}>
          {props.value.map((v) => (
            <li key={v.id} className="chip">
              {v.label}
              <button
                type="button"
                className="chip-remove"
                aria-label={`Remove ${v.label}`}
                disabled={props.disabled}
                onClick={() => props.onChange(props.value.filter((x) => x.id !== v.id))}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="picker-row">
        <input
          ref={inputRef}
          id={id}
          type="text"
          role="combobox"
          autoComplete="off"
          aria-autocomplete="list"
          aria-expanded={open}
          aria-controls={listId}
          aria-activedescendant={open && active >= 0 ? `${listId}-${active}` : undefined}
          aria-invalid={props.error ? true : undefined}
          aria-describedby={props.error ? errId : undefined}
          placeholder={single ? single.label : props.multiple ? 'Type to add…' : 'Type to search…'}
          value={query}
          disabled={props.disabled}
          onChange={(e) => {
            setQuery(e.target.value);
            setOpen(true);
          }}
          onFocus={() => setOpen(true)}
          onBlur={() => window.setTimeout(() => setOpen(false), 150)}
          onKeyDown={onKeyDown}
        />
        {single && (
          <button type="button" className="btn btn-ghost" disabled={props.disabled} onClick={() => !props.multiple && props.onChange(null)} aria-label={`Clear ${props.label.toLowerCase()}`}>
            Clear
          </button>
        )}
      </div>
      {single && <p className="field-hint">Selected: {single.label}</p>}
      {open && (
        <ul id={listId} role="listbox" className="listbox" aria-label={props.label}>
          {loading && visible.length === 0 && <li className="listbox-note">Searching…</li>}
          {loadError && <li className="listbox-note" role="alert">{loadError.message}</li>}
          {!loading && !loadError && visible.length === 0 && <li className="listbox-note">No matches</li>}
          {visible.map((o, i) => (
            <li
              key={o.id}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              className={i === active ? 'active' : undefined}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(o);
              }}
            >
              {o.label}
            </li>
          ))}
        </ul>
      )}
      {props.error && <p id={errId} className="field-error" role="alert">{props.error}</p>}
    </div>
  );
}
