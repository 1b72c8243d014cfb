import type { Server } from 'node:http';

export const ISOLATION_HEADERS: Record<string, string>;
export function serve(dir: string, isolated?: boolean): Promise<{ server: Server; url: string }>;
