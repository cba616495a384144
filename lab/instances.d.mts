// Types for lab/instances.mjs, for test/e2e/many-instances.test.ts.
export declare const ENVOY_CONFIG: string;

export interface Instance {
  name: string;
  grpcPort: number;
  adminPort: number;
  proc: { running: boolean; stdout: string[]; stderr: string[] };
}

export interface Load {
  /** Responses by HTTP status; 0 counts a request that got none. */
  statuses: Map<number, number>;
  sent(): number;
  stop(): Promise<void>;
}

export interface InstancesLab {
  dir: string;
  instances: Instance[];
  envoyPort: number;
  envoyAdminPort: number;
  hostHealth(): Promise<Map<number, boolean>>;
  allHealthy(): Promise<boolean>;
  envoyCounter(name: string): Promise<number>;
  metrics(index: number): Promise<{ allowed: number; revision: string | undefined }>;
  decisions(index: number): Array<Record<string, any>>;
  kill(index: number): Promise<void>;
  restart(index: number): Promise<void>;
  publish(revision: 'r1' | 'r2'): void;
  load(clients: number, maxMs?: number): Load;
  stop(): Promise<void>;
}

export declare function envoyConfigFor(options: { appPort: number; gatehousePorts: number[]; healthCheckMs: number; authzTimeout?: string }): Record<string, any>;
export declare function startInstances(options?: { count?: number; pollMinMs?: number; pollMaxMs?: number; healthCheckMs?: number; authzTimeout?: string; log?: (line: string) => void }): Promise<InstancesLab>;
export declare function demo(count: number): Promise<number>;
