// Query keys, in one place, so that live events invalidate exactly what the pages show.
export const keys = {
  session: ['session'] as const,
  workers: ['workers'] as const,
  worker: (id: string) => ['workers', id] as const,
  resources: (workerId: string) => ['resources', workerId] as const,
  migrations: ['migrations'] as const,
  migration: (id: string) => ['migrations', 'one', id] as const,
  audit: ['audit'] as const,
  enrollment: ['enrollment'] as const,
};
