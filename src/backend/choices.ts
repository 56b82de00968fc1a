/** The values of `--backend` / SEG_BACKEND (kept apart from index.ts so the CLI can list them without loading tfjs). */
export const BACKEND_CHOICES = ['auto', 'tensorflow', 'torch', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
