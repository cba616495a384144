/**
 * Certificate policy validation of a chain (RFC 5280 §6.1, RFC 9618's policy graph) as go1.26's
 * crypto/x509 policiesValid runs it for OPA: no user-supplied policies (the initial set is
 * anyPolicy) and no initial explicit-policy, inhibit-mapping or inhibit-any flags.
 */
import type { RegoValue } from './types.js';
import type { ParsedCertificate } from './x509-cert.js';

const ANY_POLICY = '2.5.29.32.0';

interface PolicyNode {
  valid: string;
  expected: string[];
  parents: Set<PolicyNode>;
  children: Set<PolicyNode>;
}

function node(valid: string, parents: PolicyNode[]): PolicyNode {
  const n: PolicyNode = { valid, expected: [valid], parents: new Set(parents), children: new Set() };
  for (const p of parents) p.children.add(n);
  return n;
}

/** Go's policyGraph: one stratum (policy OID → node) per certificate depth. */
class PolicyGraph {
  strata: Map<string, PolicyNode>[] = [new Map([[ANY_POLICY, node(ANY_POLICY, [])]])];
  parentIndex = new Map<string, PolicyNode[]>();
  depth = 0;

  insert(n: PolicyNode): void {
    this.strata[this.depth]!.set(n.valid, n);
  }

  parentsWithExpected(expected: string): PolicyNode[] {
    return this.depth === 0 ? [] : this.parentIndex.get(expected) ?? [];
  }

  parentWithAnyPolicy(): PolicyNode | undefined {
    return this.depth === 0 ? undefined : this.strata[this.depth - 1]!.get(ANY_POLICY);
  }

  parents(): PolicyNode[] {
    return this.depth === 0 ? [] : [...this.strata[this.depth - 1]!.values()];
  }

  leaves(): Map<string, PolicyNode> {
    return this.strata[this.depth]!;
  }

  deleteLeaf(policy: string): void {
    const n = this.leaves().get(policy);
    if (!n) return;
    for (const p of n.parents) p.children.delete(n);
    for (const c of n.children) c.parents.delete(n);
    this.leaves().delete(policy);
  }

  validPolicyNodes(): PolicyNode[] {
    const nodes: PolicyNode[] = [];
    for (let i = this.depth; i >= 0; i--) {
      for (const n of this.strata[i]!.values()) {
        if (n.valid === ANY_POLICY || n.parents.size !== 1) continue;
        if ([...n.parents][0]!.valid === ANY_POLICY) nodes.push(n);
      }
    }
    return nodes;
  }

  prune(): void {
    for (let i = this.depth - 1; i > 0; i--) {
      for (const n of [...this.strata[i]!.values()]) {
        if (n.children.size > 0) continue;
        for (const p of n.parents) p.children.delete(n);
        this.strata[i]!.delete(n.valid);
      }
    }
  }

  incrDepth(): void {
    this.parentIndex = new Map();
    for (const n of this.strata[this.depth]!.values()) {
      for (const e of n.expected) this.parentIndex.set(e, [...(this.parentIndex.get(e) ?? []), n]);
    }
    this.depth++;
    this.strata.push(new Map());
  }
}

const num = (cert: ParsedCertificate, name: string): number => cert.json[name] as number;
const flag = (cert: ParsedCertificate, name: string): boolean => cert.json[name] === true;
const strings = (cert: ParsedCertificate, name: string): string[] => (cert.json[name] as string[] | null) ?? [];

interface Mapping {
  IssuerDomainPolicy: string;
  SubjectDomainPolicy: string;
}

/** policiesValid(chain, opts) for a chain leaf first, root last. */
export function policiesValid(chain: ParsedCertificate[]): boolean {
  const n = chain.length - 1;
  if (n === 0) return true;
  let pg: PolicyGraph | undefined = new PolicyGraph();
  let inhibitAnyPolicy = n + 1;
  let explicitPolicy = n + 1;
  let policyMapping = n + 1;

  for (let i = n - 1; i >= 0; i--) {
    const cert = chain[i]!;
    const selfSigned = cert.json.RawIssuer === cert.json.RawSubject;
    const policies = strings(cert, 'Policies');
    if (policies.length === 0) pg = undefined;
    if (explicitPolicy === 0 && !pg) return false;
    if (pg) {
      pg.incrDepth();
      for (const policy of policies) {
        if (policy === ANY_POLICY) continue;
        let parents = pg.parentsWithExpected(policy);
        if (parents.length === 0) {
          const any = pg.parentWithAnyPolicy();
          if (any) parents = [any];
        }
        if (parents.length > 0) pg.insert(node(policy, parents));
      }
      if (policies.includes(ANY_POLICY) && (inhibitAnyPolicy > 0 || (n - i < n && selfSigned))) {
        const missing = new Map<string, PolicyNode[]>();
        const leaves = pg.leaves();
        for (const p of pg.parents()) {
          for (const expected of p.expected) {
            if (!leaves.has(expected)) missing.set(expected, [...(missing.get(expected) ?? []), p]);
          }
        }
        for (const [policy, parents] of missing) pg.insert(node(policy, parents));
      }
      pg.prune();
      const mappingList = (cert.json.PolicyMappings as unknown as Mapping[] | null) ?? [];
      if (i !== 0 && mappingList.length > 0) {
        const mappings = new Map<string, string[]>();
        for (const mapping of mappingList) {
          if (policyMapping > 0) {
            if (mapping.IssuerDomainPolicy === ANY_POLICY || mapping.SubjectDomainPolicy === ANY_POLICY) return false;
            mappings.set(mapping.IssuerDomainPolicy, [...(mappings.get(mapping.IssuerDomainPolicy) ?? []), mapping.SubjectDomainPolicy]);
          } else {
            pg.deleteLeaf(mapping.IssuerDomainPolicy);
          }
        }
        pg.prune();
        for (const [issuer, subjects] of mappings) {
          const matching = pg.leaves().get(issuer);
          if (matching) {
            matching.expected = subjects;
          } else {
            const any = pg.leaves().get(ANY_POLICY);
            if (any) {
              const mapped = node(issuer, [any]);
              mapped.expected = subjects;
              pg.insert(mapped);
            }
          }
        }
      }
    }
    if (i !== 0) {
      if (!selfSigned) {
        if (explicitPolicy > 0) explicitPolicy--;
        if (policyMapping > 0) policyMapping--;
        if (inhibitAnyPolicy > 0) inhibitAnyPolicy--;
      }
      const require = num(cert, 'RequireExplicitPolicy');
      if ((require > 0 || flag(cert, 'RequireExplicitPolicyZero')) && require < explicitPolicy) explicitPolicy = require;
      const inhibitMapping = num(cert, 'InhibitPolicyMapping');
      if ((inhibitMapping > 0 || flag(cert, 'InhibitPolicyMappingZero')) && inhibitMapping < policyMapping) policyMapping = inhibitMapping;
      const inhibitAny = num(cert, 'InhibitAnyPolicy');
      if ((inhibitAny > 0 || flag(cert, 'InhibitAnyPolicyZero')) && inhibitAny < inhibitAnyPolicy) inhibitAnyPolicy = inhibitAny;
    }
  }
  if (explicitPolicy > 0) explicitPolicy--;
  if (flag(chain[0]!, 'RequireExplicitPolicyZero')) explicitPolicy = 0;
  const valid: RegoValue[] = pg ? pg.validPolicyNodes().map((v) => v.valid) : [];
  if (pg?.leaves().has(ANY_POLICY)) valid.push(ANY_POLICY);
  return !(explicitPolicy === 0 && valid.length === 0);
}
