/**
 * The Helm chart (deploy/helm/gatehouse), checked with the real, pinned `helm lint --strict` and
 * `helm template`, for the default values and each example values file, and then over the rendered
 * objects: every probe and Service port reaches a port the gatehouse container listens on (read
 * from the rendered gatehouse.yaml), the config file itself is accepted by gatehouse's own config
 * loader, pods run non-root with a read-only root file system as the image's user, every container
 * has resources, selectors select the pods they are meant to, and the grace period outlasts the
 * drain. Every object of a built-in kind is validated against the Kubernetes JSON schemas of the
 * chart's oldest supported release and the newest one (kubernetes-validate --strict: unknown
 * fields are errors); the CRD kinds (ServiceMonitor, PrometheusRule, AuthorizationPolicy) have no
 * schema there and are checked only by the tests below.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { tempDir } from '../support/policy.js';
import { ROOT } from '../support/tools.js';
import { last, readStages } from './dockerfile.js';
import { CHART, EXAMPLES, helmOrSkip, render, renderError, renderText, type K8sObject } from './helm.js';

const tool = helmOrSkip();
const CASES: Array<{ name: string; values?: string; mode: 'central' | 'sidecar' }> = [
  { name: 'default values', mode: 'central' },
  { name: 'examples/central.yaml', values: path.join(EXAMPLES, 'central.yaml'), mode: 'central' },
  { name: 'examples/istio.yaml', values: path.join(EXAMPLES, 'istio.yaml'), mode: 'central' },
  { name: 'examples/sidecar.yaml', values: path.join(EXAMPLES, 'sidecar.yaml'), mode: 'sidecar' },
];
const IMAGE_USER = last(readStages(path.join(ROOT, 'Dockerfile')).at(-1)!, 'USER').split(':').map(Number);

type Container = { name: string; args?: string[]; ports?: Array<{ name?: string; containerPort: number }>; resources?: any; securityContext?: any; volumeMounts?: Array<{ name: string; mountPath: string }>; env?: Array<{ name: string; valueFrom?: any }>; [probe: string]: any };
type PodSpec = { containers: Container[]; volumes?: Array<{ name: string; configMap?: { name: string }; emptyDir?: unknown; secret?: { secretName: string } }>; securityContext?: any; terminationGracePeriodSeconds?: number; topologySpreadConstraints?: any[] };

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
const gatehouseOf = (pod: PodSpec) => pod.containers.find((c) => c.name === 'gatehouse')!;

/** Port number of `port` (a name or a number) among the container's declared ports. */
function containerPort(container: Container, port: string | number): number | undefined {
  const found = container.ports?.find((p) => (typeof port === 'number' ? p.containerPort === port : p.name === port));
  return found?.containerPort;
}

/** The gatehouse.yaml a pod's gatehouse container reads: the ConfigMap mounted where --config points. */
function configOf(objects: K8sObject[], pod: PodSpec): { text: string; parsed: Record<string, unknown> } {
  const container = gatehouseOf(pod);
  const configPath = container.args![container.args!.indexOf('--config') + 1]!;
  const mount = container.volumeMounts!.find((m) => configPath.startsWith(`${m.mountPath}/`))!;
  const volume = pod.volumes!.find((v) => v.name === mount.name)!;
  const configMap = byKind(objects, 'ConfigMap').find((c) => c.metadata.name === volume.configMap!.name)!;
  const text = configMap.data![path.basename(configPath)]!;
  return { text, parsed: parseYaml(text) as Record<string, unknown> };
}

const portOf = (address: unknown) => Number(/:(\d+)$/.exec(String(address))?.[1]);

describe.skipIf(tool.skip)('the Helm chart (deploy/helm/gatehouse)', () => {
  const helm = tool.helm;

  it('passes helm lint --strict with the default values and every example', () => {
    for (const { values } of CASES) {
      const out = execFileSync(helm, ['lint', '--strict', CHART, ...(values ? ['-f', values] : [])], { encoding: 'utf8' });
      expect(out).toContain('1 chart(s) linted, 0 chart(s) failed');
    }
  });

  for (const { name, values, mode } of CASES) {
    describe(name, () => {
      const objects = render(helm, values);
      const deployments = byKind(objects, 'Deployment');
      const pods = deployments.map((d) => ({ deployment: d, pod: d.spec.template.spec as PodSpec, labels: d.spec.template.metadata.labels as Record<string, string> }));

      it('validates against the Kubernetes schemas of 1.25 (the chart\'s kubeVersion floor) and 1.37, strictly', () => {
        const dir = tempDir('gatehouse-chart-');
        const file = path.join(dir, 'rendered.yaml');
        writeFileSync(file, renderText(helm, values));
        for (const version of ['1.25.0', '1.37.0']) {
          const result = spawnSync(tool.validator, ['--strict', '-k', version, file], { encoding: 'utf8' });
          const output = result.stdout + result.stderr;
          expect(result.status, output).toBe(0);
          const passed = output.split('\n').filter((line) => line.includes(' passed for resource ')).length;
          const unknown = [...output.matchAll(/Couldn't find schema for kind (\w+)/g)].map((m) => m[1]).sort();
          expect(unknown.every((kind) => ['AuthorizationPolicy', 'PrometheusRule', 'ServiceMonitor'].includes(kind!)), output).toBe(true);
          expect(passed + unknown.length, output).toBe(objects.length);
        }
      });

      it(`renders ${mode} mode: one Deployment with the gatehouse container`, () => {
        expect(deployments).toHaveLength(1);
        expect(pods[0]!.pod.containers.filter((c) => c.name === 'gatehouse')).toHaveLength(1);
        expect(byKind(objects, 'Service')).toHaveLength(mode === 'central' ? 2 : 0);
        expect(byKind(objects, 'PodDisruptionBudget')).toHaveLength(mode === 'central' ? 1 : 0);
      });

      it('writes a gatehouse.yaml that gatehouse itself loads, with the addresses the container declares', () => {
        for (const { pod } of pods) {
          const { text, parsed } = configOf(objects, pod);
          const dir = tempDir('gatehouse-chart-');
          writeFileSync(path.join(dir, 'gatehouse.yaml'), text);
          // The environment the container sets (secret values are opaque here).
          const env = Object.fromEntries((gatehouseOf(pod).env ?? []).map((e) => [e.name, 'from-a-secret']));
          const config = loadConfig({ flags: {}, env, file: path.join(dir, 'gatehouse.yaml') });
          expect(config.admin_addr?.text).toBe(parsed.admin_addr);
          const gatehouse = gatehouseOf(pod);
          expect(containerPort(gatehouse, 'admin')).toBe(portOf(parsed.admin_addr));
          if (mode === 'central') expect(containerPort(gatehouse, 'grpc')).toBe(portOf(parsed.addr));
          else expect(String(parsed.addr)).toMatch(/^unix:\/\/\//);
        }
      });

      it('points every probe at a port the gatehouse container listens on', () => {
        for (const { pod } of pods) {
          const gatehouse = gatehouseOf(pod);
          const admin = portOf(configOf(objects, pod).parsed.admin_addr);
          for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
            expect(gatehouse[probe]?.httpGet, probe).toBeDefined();
            expect(containerPort(gatehouse, gatehouse[probe].httpGet.port), probe).toBe(admin);
          }
          expect(gatehouse.readinessProbe.httpGet.path).toBe('/readyz');
          expect(gatehouse.livenessProbe.httpGet.path).toBe('/healthz');
        }
      });

      it('points every Service port at a port of the pods it selects, gRPC with appProtocol grpc', () => {
        for (const service of byKind(objects, 'Service')) {
          const selected = pods.filter((p) => matches(service.spec.selector, p.labels));
          expect(selected, service.metadata.name).toHaveLength(1);
          const { text } = configOf(objects, selected[0]!.pod);
          const listening = [portOf((parseYaml(text) as { addr: string }).addr), portOf((parseYaml(text) as { admin_addr: string }).admin_addr)];
          for (const port of service.spec.ports as Array<{ name: string; targetPort: string | number; appProtocol?: string }>) {
            expect(listening).toContain(containerPort(gatehouseOf(selected[0]!.pod), port.targetPort));
          }
          const grpc = service.spec.ports.find((p: { name: string }) => p.name === 'grpc');
          expect(grpc.appProtocol).toBe('grpc');
          expect(containerPort(gatehouseOf(selected[0]!.pod), grpc.targetPort)).toBe(portOf((parseYaml(text) as { addr: string }).addr));
        }
      });

      it('runs gatehouse non-root as the image user, read-only root file system, no privileges', () => {
        for (const { pod } of pods) {
          expect(pod.securityContext.runAsNonRoot).toBe(true);
          const security = gatehouseOf(pod).securityContext;
          expect(security).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
          expect([security.runAsUser, security.runAsGroup]).toEqual(IMAGE_USER);
          for (const container of pod.containers) expect(container.securityContext?.readOnlyRootFilesystem, container.name).toBe(true);
        }
      });

      it('sets CPU and memory requests and a memory limit on every container', () => {
        for (const { pod } of pods) {
          for (const container of pod.containers) {
            expect(container.resources?.requests?.cpu, container.name).toBeDefined();
            expect(container.resources?.requests?.memory, container.name).toBeDefined();
            expect(container.resources?.limits?.memory, container.name).toBeDefined();
          }
        }
      });

      it('selects its own pods everywhere (Deployment, PDB, topology spread, ServiceMonitor, HPA)', () => {
        for (const { deployment, pod, labels } of pods) {
          expect(matches(deployment.spec.selector.matchLabels, labels)).toBe(true);
          for (const constraint of pod.topologySpreadConstraints ?? []) expect(matches(constraint.labelSelector.matchLabels, labels)).toBe(true);
        }
        for (const pdb of byKind(objects, 'PodDisruptionBudget')) expect(pods.filter((p) => matches(pdb.spec.selector.matchLabels, p.labels))).toHaveLength(1);
        for (const monitor of byKind(objects, 'ServiceMonitor')) {
          const services = byKind(objects, 'Service').filter((s) => matches(monitor.spec.selector.matchLabels, s.metadata.labels));
          expect(services).toHaveLength(1);
          for (const endpoint of monitor.spec.endpoints) expect(services[0]!.spec.ports.map((p: { name: string }) => p.name)).toContain(endpoint.port);
        }
        for (const hpa of byKind(objects, 'HorizontalPodAutoscaler')) {
          expect(deployments.map((d) => d.metadata.name)).toContain(hpa.spec.scaleTargetRef.name);
          expect(deployments[0]!.spec.replicas).toBeUndefined();
        }
      });

      it('gives pods a termination grace period longer than the drain, the in-flight timeout and the log flush', () => {
        for (const { pod } of pods) {
          const config = configOf(objects, pod).parsed as { shutdown_drain_ms: number; shutdown_timeout_ms: number };
          // 2 s each: how long the decision-log sink and then the tracer may take to flush at exit (src/app.ts stop()).
          expect(pod.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(config.shutdown_drain_ms + config.shutdown_timeout_ms + 2000 + 2000);
        }
      });

      if (mode === 'sidecar') {
        it('shares the unix socket with the workload containers through an in-memory emptyDir', () => {
          const { pod } = pods[0]!;
          const socketDir = path.dirname(String(configOf(objects, pod).parsed.addr).slice('unix://'.length));
          const volume = pod.volumes!.find((v) => v.emptyDir !== undefined)!;
          expect(volume.emptyDir).toMatchObject({ medium: 'Memory' });
          const mounting = pod.containers.filter((c) => c.volumeMounts?.some((m) => m.name === volume.name && m.mountPath === socketDir)).map((c) => c.name);
          expect(mounting.sort()).toEqual(['envoy', 'gatehouse']);
          expect(pod.securityContext.runAsUser).toBe(IMAGE_USER[0]);
        });
      }
    });
  }

  it('ships the repository alert rules as a PrometheusRule and the dashboard as a ConfigMap, unchanged', () => {
    const alerts = readFileSync(path.join(ROOT, 'observability/prometheus/alerts.yaml'), 'utf8');
    const dashboard = readFileSync(path.join(ROOT, 'observability/grafana/gatehouse-dashboard.json'), 'utf8');
    expect(readFileSync(path.join(CHART, 'files/alerts.yaml'), 'utf8'), 'deploy/helm/gatehouse/files/alerts.yaml is stale: copy observability/prometheus/alerts.yaml').toBe(alerts);
    expect(readFileSync(path.join(CHART, 'files/gatehouse-dashboard.json'), 'utf8'), 'files/gatehouse-dashboard.json is stale: copy observability/grafana/gatehouse-dashboard.json').toBe(dashboard);
    const objects = render(helm, path.join(EXAMPLES, 'central.yaml'));
    expect(byKind(objects, 'PrometheusRule')[0]!.spec).toEqual(parseYaml(alerts));
    const dashboards = byKind(objects, 'ConfigMap').filter((c) => c.metadata.labels?.grafana_dashboard === '1');
    expect(JSON.parse(dashboards[0]!.data!['gatehouse-dashboard.json']!)).toEqual(JSON.parse(dashboard));
  });

  it('renders the bundle settings from Secrets: bearer token as an environment variable, verification key as a read-only file', () => {
    const objects = render(helm, path.join(EXAMPLES, 'central.yaml'));
    const pod = byKind(objects, 'Deployment')[0]!.spec.template.spec as PodSpec;
    const gatehouse = gatehouseOf(pod);
    expect(gatehouse.env).toContainEqual({ name: 'GATEHOUSE_BUNDLE_BEARER_TOKEN', valueFrom: { secretKeyRef: { name: 'gatehouse-bundle-token', key: 'token' } } });
    const config = configOf(objects, pod).parsed;
    expect(config.bundle).toMatch(/^https:\/\//);
    const keyFile = String(config.bundle_verification_key_file);
    const mount = gatehouse.volumeMounts!.find((m) => keyFile.startsWith(`${m.mountPath}/`))!;
    expect(mount).toMatchObject({ readOnly: true });
    expect(pod.volumes!.find((v) => v.name === mount.name)!.secret).toEqual({ secretName: 'gatehouse-bundle-key' });
    expect(path.basename(keyFile)).toBe('public.pem');
  });

  it('turns the live map on with config.admin_ui (off by default): gatehouse loads it with the admin port the container declares', () => {
    const configFor = (set: string[]) => {
      const objects = render(helm, undefined, set);
      const pod = byKind(objects, 'Deployment')[0]!.spec.template.spec as PodSpec;
      const dir = tempDir('gatehouse-chart-');
      writeFileSync(path.join(dir, 'gatehouse.yaml'), configOf(objects, pod).text);
      return { config: loadConfig({ flags: {}, env: {}, file: path.join(dir, 'gatehouse.yaml') }), pod };
    };
    expect(configFor([]).config.admin_ui).toBe(false);
    const { config, pod } = configFor(['config.admin_ui=true']);
    expect(config.admin_ui).toBe(true);
    expect(containerPort(gatehouseOf(pod), 'admin')).toBe(portOf(config.admin_addr?.text));
  });

  it('mounts extraVolumes into the gatehouse container: TLS certificates for the gRPC port, a writable bundle_state_file directory', () => {
    // The root file system is read-only: every file gatehouse reads or writes must be on a mount.
    const set = [
      'extraVolumes[0].name=grpc-tls', 'extraVolumes[0].secret.secretName=gatehouse-grpc-tls',
      'extraVolumes[1].name=state', 'extraVolumes[1].emptyDir.medium=',
      'extraVolumeMounts[0].name=grpc-tls', 'extraVolumeMounts[0].mountPath=/etc/gatehouse/tls', 'extraVolumeMounts[0].readOnly=true',
      'extraVolumeMounts[1].name=state', 'extraVolumeMounts[1].mountPath=/var/lib/gatehouse',
      'config.tls_cert_file=/etc/gatehouse/tls/tls.crt', 'config.tls_key_file=/etc/gatehouse/tls/tls.key',
      'config.bundle_state_file=/var/lib/gatehouse/revision.json', 'config.bundle_require_newer_revision=true',
    ];
    for (const values of [path.join(EXAMPLES, 'central.yaml'), path.join(EXAMPLES, 'sidecar.yaml')]) {
      const objects = render(helm, values, set);
      const pod = byKind(objects, 'Deployment')[0]!.spec.template.spec as PodSpec;
      const gatehouse = gatehouseOf(pod);
      const config = configOf(objects, pod).parsed;
      const files = Object.entries(config).filter(([key]) => key.endsWith('_file')).map(([, file]) => String(file));
      expect(files.length).toBeGreaterThanOrEqual(3);
      for (const file of files) {
        const mount = gatehouse.volumeMounts!.find((m) => file.startsWith(`${m.mountPath}/`));
        expect(mount, `${file} is on the read-only root file system`).toBeDefined();
        expect(pod.volumes!.some((v) => v.name === mount!.name), `volume ${mount!.name}`).toBe(true);
      }
      const state = gatehouse.volumeMounts!.find((m) => String(config.bundle_state_file).startsWith(`${m.mountPath}/`)) as { readOnly?: boolean };
      expect(state.readOnly).toBeFalsy();
    }
  });

  it('renders Istio CUSTOM AuthorizationPolicies naming the extension provider', () => {
    const policies = byKind(render(helm, path.join(EXAMPLES, 'istio.yaml')), 'AuthorizationPolicy');
    expect(policies).toHaveLength(1);
    expect(policies[0]!.metadata.namespace).toBe('shop');
    expect(policies[0]!.spec).toMatchObject({ action: 'CUSTOM', provider: { name: 'gatehouse' }, rules: [{}] });
    // Two workloads of one namespace: two objects, not one name rendered twice (one would be lost).
    const two = ['istio.authorizationPolicies[0].namespace=shop', 'istio.authorizationPolicies[0].selector.app=cart',
      'istio.authorizationPolicies[1].namespace=shop', 'istio.authorizationPolicies[1].selector.app=stock'];
    expect(renderError(helm, two)).toContain('two entries render AuthorizationPolicy shop/gh-gatehouse');
    const named = byKind(render(helm, undefined, [...two, 'istio.authorizationPolicies[0].name=cart-authz', 'istio.authorizationPolicies[1].name=stock-authz']), 'AuthorizationPolicy');
    expect(named.map((p) => `${p.metadata.namespace}/${p.metadata.name}:${p.spec.selector.matchLabels.app}`)).toEqual(['shop/cart-authz:cart', 'shop/stock-authz:stock']);
  });

  it('refuses values that would render a broken deployment, naming the fix', () => {
    expect(renderError(helm, ['mode=central-ish'])).toContain('mode must be central or sidecar');
    expect(renderError(helm, ['terminationGracePeriodSeconds=10'])).toContain('terminationGracePeriodSeconds (10 s) must be longer than');
    // A verification key with the image's unsigned example bundle: pods that never become ready.
    expect(renderError(helm, ['bundle.verificationKey.secretName=gatehouse-bundle-key'])).toContain('set bundle.url to your signed bundle');
    // After drain (5 s) + in-flight timeout (10 s), stop() flushes the decision log and then the
    // tracer for up to 2 s each (src/app.ts): 16-19 s would SIGKILL gatehouse mid-flush.
    expect(renderError(helm, ['terminationGracePeriodSeconds=19'])).toContain('(19000 ms in all)');
    expect(renderError(helm, ['terminationGracePeriodSeconds=16'])).toContain('terminationGracePeriodSeconds (16 s) must be longer than');
    // An explicit shutdown_drain_ms: 0 is 0 ms, not the 5 s default: 0 + 1 s + 2 x 1 s of flush < 4 s.
    const short = render(helm, undefined, ['terminationGracePeriodSeconds=4', 'config.shutdown_drain_ms=0', 'config.shutdown_timeout_ms=1000']);
    expect(byKind(short, 'Deployment')[0]!.spec.template.spec.terminationGracePeriodSeconds).toBe(4);
    expect(renderError(helm, ['terminationGracePeriodSeconds=3', 'config.shutdown_drain_ms=0', 'config.shutdown_timeout_ms=1000'])).toContain('(3000 ms in all)');
  });
});
