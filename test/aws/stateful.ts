/**
 * The rules that keep a deploy from losing data: which stack parameters reach which property of which
 * resource (directly or through Ref, GetAtt, Fn::Sub, Fn::If and its conditions, Fn::FindInMap and
 * every other intrinsic), and what CloudFormation does when that property changes (the resource
 * specification's UpdateType). A stateful resource must change in place whatever parameter changes,
 * and must be retained on deletion and on replacement.
 */
import { spec } from './spec';
import { type Json, type Template, isObject } from './template';

/** Resource types that hold the cluster's data, or what decrypts or reaches it. */
export const STATEFUL_TYPES = [
  'AWS::EC2::Instance',
  'AWS::EC2::Volume',
  'AWS::SecretsManager::Secret',
  'AWS::KMS::Key',
  'AWS::DynamoDB::Table',
  'AWS::S3::Bucket',
];
/** Serverless's own artifact bucket: it uploads the artifacts again on every deploy. */
const NOT_STATEFUL = new Set(['ServerlessDeploymentBucket']);

export const statefulResources = (t: Template): string[] =>
  Object.entries(t.Resources)
    .filter(([id, r]) => STATEFUL_TYPES.includes(r.Type) && !NOT_STATEFUL.has(id))
    .map(([id]) => id)
    .sort();

const PSEUDO = /^AWS::/;

/** UpdateType of a top-level property; unknown types or properties count as Immutable (the worst case). */
function updateType(type: string, prop: string): string {
  const p = spec.ResourceTypes[type]?.Properties?.[prop] as { UpdateType?: string } | undefined;
  return p?.UpdateType ?? 'Immutable';
}

/** Replacement is what Immutable means; Conditional means "in some cases", so it counts too. */
const replaces = (ut: string) => ut === 'Immutable' || ut === 'Conditional';

export interface PropertyDependency {
  property: string;
  updateType: string;
  parameters: string[];
}

/** Which parameters can change each value of a template, and which replace each resource. */
export function dependencyAnalysis(t: Template) {
  const params = new Set(Object.keys(t.Parameters ?? {}));
  const replacing = new Map<string, Set<string>>();
  const anyChange = new Map<string, Set<string>>();
  const conditions = new Map<string, Set<string>>();
  const visiting = new Set<string>();

  const union = (sets: Iterable<Set<string>>) => {
    const out = new Set<string>();
    for (const s of sets) for (const x of s) out.add(x);
    return out;
  };

  /** A name in Ref or Fn::Sub: a parameter itself, or a resource whose physical id is new when it is replaced. */
  const refDeps = (name: string): Set<string> => {
    if (params.has(name)) return new Set([name]);
    if (PSEUDO.test(name) || !(name in t.Resources)) return new Set();
    return replacedBy(name);
  };
  /** A resource's attribute can change on any update of the resource (a new launch template version...). */
  const attDeps = (id: string): Set<string> => (id in t.Resources ? changedBy(id) : new Set());

  const conditionDeps = (name: string): Set<string> => {
    const memo = conditions.get(name);
    if (memo) return memo;
    const key = `condition:${name}`;
    if (visiting.has(key)) return new Set();
    visiting.add(key);
    const out = valueDeps((t.Conditions ?? {})[name]);
    visiting.delete(key);
    conditions.set(name, out);
    return out;
  };

  const valueDeps = (v: Json | undefined): Set<string> => {
    if (v === undefined || v === null || typeof v !== 'object') return new Set();
    if (Array.isArray(v)) return union(v.map(valueDeps));
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const [k] = keys;
      const arg = v[k];
      if (k === 'Ref' && typeof arg === 'string') return refDeps(arg);
      if (k === 'Fn::GetAtt') {
        const id = typeof arg === 'string' ? arg.split('.')[0] : String((arg as Json[])[0]);
        return attDeps(id);
      }
      if (k === 'Fn::Sub') {
        const [text, vars] =
          typeof arg === 'string' ? [arg, {}] : [String((arg as Json[])[0]), ((arg as Json[])[1] ?? {}) as Json];
        const names = [...text.matchAll(/\$\{([^}!][^}]*)\}/g)].map((m) => m[1].trim());
        const own = isObject(vars) ? vars : {};
        return union([
          valueDeps(vars),
          ...names.filter((n) => !(n in own)).map((n) => (n.includes('.') ? attDeps(n.split('.')[0]) : refDeps(n))),
        ]);
      }
      if (k === 'Fn::If' && Array.isArray(arg)) {
        return union([conditionDeps(String(arg[0])), valueDeps(arg[1]), valueDeps(arg[2])]);
      }
      if (k === 'Condition' && typeof arg === 'string') return conditionDeps(arg);
    }
    // Fn::FindInMap, Fn::Join, Fn::Select, Fn::Cidr, Fn::Equals ... and plain objects: every argument.
    return union(Object.values(v).map(valueDeps));
  };

  const memoized = (memo: Map<string, Set<string>>, tag: string, id: string, f: () => Set<string>) => {
    const hit = memo.get(id);
    if (hit) return hit;
    const key = `${tag}:${id}`;
    if (visiting.has(key)) return new Set<string>();
    visiting.add(key);
    const out = f();
    visiting.delete(key);
    memo.set(id, out);
    return out;
  };

  const properties = (id: string): PropertyDependency[] => {
    const r = t.Resources[id];
    return Object.entries(r.Properties ?? {}).map(([property, value]) => ({
      property,
      updateType: updateType(r.Type, property),
      parameters: [...valueDeps(value)].sort(),
    }));
  };
  /** Parameters whose change replaces the resource. */
  function replacedBy(id: string): Set<string> {
    return memoized(replacing, 'replace', id, () =>
      union(
        properties(id)
          .filter((p) => replaces(p.updateType))
          .map((p) => new Set(p.parameters)),
      ),
    );
  }
  /** Parameters whose change updates the resource at all. */
  function changedBy(id: string): Set<string> {
    return memoized(anyChange, 'change', id, () => union(properties(id).map((p) => new Set(p.parameters))));
  }
  return { properties, replacedBy, changedBy, valueDeps };
}

/** A change of any stack parameter (the image is one: NodeImageId) replaces no stateful resource. */
export const statefulNotReplacedByParameters = (t: Template): string[] => {
  const a = dependencyAnalysis(t);
  return statefulResources(t).flatMap((id) =>
    a
      .properties(id)
      .filter((p) => replaces(p.updateType) && p.parameters.length)
      .map(
        (p) =>
          `${id}.${p.property} (${p.updateType}: a change replaces ${id}) changes with parameter ${p.parameters.join(', ')}`,
      ),
  );
};

/** Every stateful resource is kept when the stack is deleted and when CloudFormation replaces it. */
export const statefulRetained: Rule = (t) =>
  statefulResources(t).flatMap((id) => {
    const r = t.Resources[id];
    return (['DeletionPolicy', 'UpdateReplacePolicy'] as const)
      .filter((k) => r[k] !== 'Retain')
      .map((k) => `${id}: ${k} is ${JSON.stringify(r[k] ?? '(unset: Delete)')}, not Retain`);
  });

type Rule = (t: Template) => string[];
