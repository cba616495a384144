// Renders a sidecar's Envoy bootstrap from the commented templates in envoy/:
// bootstrap.yaml + inbound.yaml (when the workload serves) + outbound.yaml per destination.
// The templates are the documentation operators read, so the lab runs exactly them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export const ENVOY_DIR = path.resolve(import.meta.dirname, '../envoy');

/**
 * Fill `${NAME}` placeholders; an unknown one is an error, never an empty string.
 * @param {string} text
 * @param {Record<string, string | number>} vars
 */
export function fill(text, vars) {
  return text.replace(/\$\{([A-Z_]+)\}/g, (_, name) => {
    if (!(name in vars)) throw new Error(`envoy template placeholder \${${name}} has no value`);
    return String(vars[name]);
  });
}

/** @param {string} file @param {Record<string, string | number>} vars */
function load(file, vars) {
  return YAML.parse(fill(readFileSync(path.join(ENVOY_DIR, file), 'utf8'), vars));
}

/**
 * @typedef {{ name: string, spiffeId: string, port: number }} Destination
 * @typedef {{
 *   workload: string, trustDomain: string, meshCa: string, svidCert: string, svidKey: string,
 *   accessLog: string, gatehousePort: number,
 *   inbound?: { port: number, appPort: number },
 *   outbound: Array<Destination & { localPort: number }>,
 * }} SidecarSpec
 */

/** @param {SidecarSpec} spec @returns {object} the Envoy bootstrap */
export function renderSidecar(spec) {
  const common = {
    WORKLOAD: spec.workload,
    TRUST_DOMAIN: spec.trustDomain,
    MESH_CA: spec.meshCa,
    SVID_CERT: spec.svidCert,
    SVID_KEY: spec.svidKey,
    ACCESS_LOG: spec.accessLog,
  };
  const bootstrap = load('bootstrap.yaml', common);
  const parts = [];
  if (spec.inbound) {
    parts.push(
      load('inbound.yaml', {
        ...common,
        INBOUND_PORT: spec.inbound.port,
        APP_PORT: spec.inbound.appPort,
        GATEHOUSE_PORT: spec.gatehousePort,
      }),
    );
  }
  for (const destination of spec.outbound) {
    parts.push(
      load('outbound.yaml', {
        ...common,
        DESTINATION: destination.name,
        DESTINATION_SPIFFE_ID: destination.spiffeId,
        DESTINATION_PORT: destination.port,
        OUTBOUND_PORT: destination.localPort,
      }),
    );
  }
  for (const part of parts) {
    bootstrap.static_resources.listeners.push(...part.static_resources.listeners);
    bootstrap.static_resources.clusters.push(...part.static_resources.clusters);
  }
  return bootstrap;
}
