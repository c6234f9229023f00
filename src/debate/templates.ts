import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { sha256 } from '../hash.js';
import { defaultPromptsDir } from '../package-files.js';

/** A prompt template with `{{slot}}` placeholders; its hash is stored with every turn that used it. */
export interface Template {
  name: string;
  text: string;
  hash: string;
  /** Every slot the template names: shown as `{{slot}}` or as a section's condition. */
  slots: Set<string>;
  /** The slots it shows as `{{slot}}`. */
  shown: Set<string>;
}

/** The value of a slot that only switches a section on (passage_hidden, quotes_checked, open_roles…). */
export const FLAG = 'yes';

const SLOT = /\{\{(\w+)\}\}/g;
/**
 * An optional part: `{{#name}}…{{/name}}` shows its body only when the slot `name` is filled with a non-empty value,
 * and an inverted one, `{{^name}}…{{/name}}`, only when it is empty (what a form without that content shows instead).
 * A tag followed by a line break takes the break with it, so a section on lines of its own leaves no blank line.
 */
const SECTION = /\{\{([#^])(\w+)\}\}\n?([\s\S]*?)\{\{\/\2\}\}\n?/g;
const SECTION_TAG = /\{\{[#^/](\w+)\}\}/g;

export function parseTemplate(name: string, text: string): Template {
  const shown = new Set<string>();
  for (const m of text.matchAll(SLOT)) shown.add(m[1]!);
  const slots = new Set(shown);
  for (const m of text.matchAll(SECTION_TAG)) slots.add(m[1]!);
  return { name, text, hash: sha256(text), slots, shown };
}

/** The prompts folder a debate section names, else the prompts shipped with w2s (whatever the working directory). */
export function promptsDirOf(debate: { promptsDir?: string }): string {
  return debate.promptsDir ?? defaultPromptsDir();
}

export function loadTemplate(dir: string, name: string): Template {
  const file = join(dir, name);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UserError(`Prompt template ${file} is missing; restore it from the w2s repository or point debate.promptsDir at a folder that has it.`);
  }
  return parseTemplate(name, text);
}

/**
 * Slots whose content the reader needs: when filled, a template must show them as `{{slot}}`, not only use them as a
 * section's condition (as `alternative` may: the judge shows the two answers through its options).
 */
const CONTENT_SLOTS: ReadonlySet<string> = new Set(['transcript', 'passage']);

/** Fills every slot. A slot the caller forgot, or a value the template never uses, is a bug in the template: refuse. */
export function render(t: Template, values: Record<string, string | number>): string {
  for (const slot of t.slots) {
    if (!(slot in values)) throw new UserError(`Prompt template ${t.name} uses {{${slot}}}, which w2s does not fill; the slots it fills are: ${Object.keys(values).join(', ')}.`);
  }
  for (const [key, value] of Object.entries(values)) {
    if (!t.slots.has(key)) throw new UserError(`Prompt template ${t.name} does not use {{${key}}}; add it so the prompt carries that content.`);
    // `{{#transcript}}` without `{{transcript}}` inside would drop the transcript from the prompt.
    if (value !== '' && CONTENT_SLOTS.has(key) && !t.shown.has(key)) {
      throw new UserError(`Prompt template ${t.name} does not use {{${key}}} (only as a section's condition); add it inside the section so the prompt carries that content.`);
    }
  }
  // Sections first, then one pass over the slots, so a value containing "{{x}}" is never expanded again.
  return withSections(t.text, values).replace(SLOT, (_, slot: string) => String(values[slot]));
}

/**
 * The optional slots to fill: each one the template names (with '' when absent), and any non-empty one, so a template
 * without a section for content the run has is refused by render, while a custom template written before the section
 * existed still renders in a run that leaves it empty.
 */
export function optionalSlots(t: Template, values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter(([slot, value]) => t.slots.has(slot) || value !== ''));
}

function withSections(text: string, values: Record<string, string | number>): string {
  return text.replace(SECTION, (_, kind: string, slot: string, body: string) => ((String(values[slot]) === '') === (kind === '^') ? withSections(body, values) : ''));
}
