/** Checks of a template against the CloudFormation resource specification (@aws-cdk/cfnspec). */
import { type Json, type Template, isObject, walk } from './template';

const cfnspec = require('@aws-cdk/cfnspec') as { specification(): Spec };

interface PropSpec {
  PrimitiveType?: string;
  Type?: string;
  ItemType?: string;
  PrimitiveItemType?: string;
  Required?: boolean;
}
interface TypeSpec {
  Properties?: Record<string, PropSpec>;
  Attributes?: Record<string, unknown>;
}
interface Spec {
  ResourceTypes: Record<string, TypeSpec>;
  PropertyTypes: Record<string, TypeSpec>;
}
export const spec = cfnspec.specification();

const INTRINSIC = /^(Fn::[A-Za-z0-9]+|Ref|Condition)$/;
const isIntrinsic = (v: Json) => isObject(v) && Object.keys(v).length === 1 && INTRINSIC.test(Object.keys(v)[0]);

/** Every resource type, property (recursively through property types) and required property, per the spec. */
export function specErrors(t: Template): string[] {
  const errs: string[] = [];
  const checkProps = (where: string, typeName: string, owner: string, props: Json, specOf: TypeSpec | undefined) => {
    if (!specOf) return errs.push(`${where}: unknown type ${typeName}`);
    if (isIntrinsic(props)) return;
    if (!isObject(props)) return errs.push(`${where}: expected an object of ${typeName}`);
    const known = specOf.Properties ?? {};
    for (const [name, p] of Object.entries(known))
      if (p.Required && !(name in props)) errs.push(`${where}: missing required ${name}`);
    for (const [name, value] of Object.entries(props)) {
      const p = known[name];
      if (!p) {
        errs.push(`${where}: ${typeName} has no property ${name}`);
        continue;
      }
      checkValue(`${where}.${name}`, owner, p, value);
    }
  };
  const checkValue = (where: string, owner: string, p: PropSpec, value: Json) => {
    if (isIntrinsic(value)) return;
    if (p.PrimitiveType) return checkPrimitive(where, p.PrimitiveType, value);
    if (p.Type === 'List' || p.Type === 'Map') {
      const items =
        p.Type === 'List' ? (Array.isArray(value) ? value : null) : isObject(value) ? Object.values(value) : null;
      if (!items) return errs.push(`${where}: expected a ${p.Type}`);
      for (const [i, item] of items.entries()) {
        if (p.PrimitiveItemType) checkPrimitive(`${where}[${i}]`, p.PrimitiveItemType, item);
        else if (p.ItemType)
          checkProps(`${where}[${i}]`, `${owner}.${p.ItemType}`, owner, item, propType(owner, p.ItemType));
      }
      return;
    }
    if (p.Type) checkProps(where, `${owner}.${p.Type}`, owner, value, propType(owner, p.Type));
  };
  const checkPrimitive = (where: string, type: string, v: Json) => {
    if (isIntrinsic(v) || type === 'Json') return;
    const ok =
      type === 'String'
        ? typeof v === 'string'
        : type === 'Boolean'
          ? typeof v === 'boolean' || v === 'true' || v === 'false'
          : ['Integer', 'Long', 'Double'].includes(type)
            ? typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && !isNaN(Number(v)))
            : true;
    if (!ok) errs.push(`${where}: expected ${type}, got ${JSON.stringify(v).slice(0, 60)}`);
  };
  const propType = (owner: string, name: string) => spec.PropertyTypes[`${owner}.${name}`] ?? spec.PropertyTypes[name];

  for (const [id, r] of Object.entries(t.Resources)) {
    // A custom resource has the properties its handler reads; CloudFormation requires only ServiceToken.
    if (r.Type.startsWith('Custom::') || r.Type === 'AWS::CloudFormation::CustomResource') {
      if (!r.Properties?.ServiceToken) errs.push(`${id}: custom resource without ServiceToken`);
      continue;
    }
    const rt = spec.ResourceTypes[r.Type];
    if (!rt) {
      errs.push(`${id}: unknown resource type ${r.Type}`);
      continue;
    }
    checkProps(id, r.Type, r.Type, (r.Properties ?? {}) as Json, rt);
  }
  return errs;
}

const PSEUDO = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);

/** Names a `${...}` in an Fn::Sub string refers to (not `${!literal}`). */
export const subNames = (s: string) => [...s.matchAll(/\$\{([^}!][^}]*)\}/g)].map((m) => m[1].trim());

/** Every Ref, GetAtt (with its attribute), Sub variable, DependsOn and Condition resolves. */
export function referenceErrors(t: Template): string[] {
  const errs: string[] = [];
  const params = new Set(Object.keys(t.Parameters ?? {}));
  const conditions = new Set(Object.keys(t.Conditions ?? {}));
  const known = (n: string) => n in t.Resources || params.has(n) || PSEUDO.has(n);
  const getAtt = (where: string, id: string, attr: string) => {
    const r = t.Resources[id];
    if (!r) return errs.push(`${where}: GetAtt to missing ${id}`);
    const attrs = spec.ResourceTypes[r.Type]?.Attributes ?? {};
    if (!(attr in attrs) && !(r.Type === 'AWS::CloudFormation::CustomResource' || r.Type.startsWith('Custom::'))) {
      errs.push(`${where}: ${id} (${r.Type}) has no attribute ${attr}`);
    }
  };
  const scan = (where: string, v: Json | undefined) => {
    for (const [node, at] of walk(v)) {
      if (!isObject(node)) continue;
      const path = `${where}.${at.join('.')}`;
      if (typeof node.Ref === 'string' && !known(node.Ref)) errs.push(`${path}: Ref to missing ${node.Ref}`);
      const ga = node['Fn::GetAtt'];
      if (ga !== undefined) {
        const [id, ...rest] = typeof ga === 'string' ? ga.split('.') : (ga as string[]);
        getAtt(path, id, typeof ga === 'string' ? rest.join('.') : String(rest[0]));
      }
      const sub = node['Fn::Sub'];
      if (sub !== undefined) {
        const [text, vars] =
          typeof sub === 'string'
            ? [sub, {}]
            : [String((sub as Json[])[0]), ((sub as Json[])[1] ?? {}) as Record<string, Json>];
        for (const name of subNames(text)) {
          if (name in vars) continue;
          const [id, ...attr] = name.split('.');
          if (attr.length) getAtt(path, id, attr.join('.'));
          else if (!known(name)) errs.push(`${path}: Sub variable \${${name}} resolves to nothing`);
        }
      }
      for (const key of ['Fn::If', 'Condition']) {
        const c = key === 'Fn::If' ? (node[key] as Json[] | undefined)?.[0] : at.length ? node[key] : undefined;
        if (typeof c === 'string' && !conditions.has(c)) errs.push(`${path}: condition ${c} is not defined`);
      }
    }
  };
  for (const [id, r] of Object.entries(t.Resources)) {
    scan(id, r.Properties as Json);
    for (const d of [r.DependsOn].flat()) if (d && !(d in t.Resources)) errs.push(`${id}: DependsOn missing ${d}`);
    if (r.Condition && !conditions.has(r.Condition)) errs.push(`${id}: condition ${r.Condition} is not defined`);
  }
  scan('Outputs', t.Outputs as Json);
  scan('Conditions', t.Conditions as Json);
  return errs;
}

/** Resource dependency cycles (Ref, GetAtt, Sub, DependsOn): CloudFormation rejects them. */
export function dependencyCycles(t: Template): string[] {
  const deps = new Map<string, Set<string>>();
  for (const [id, r] of Object.entries(t.Resources)) {
    const d = new Set<string>([r.DependsOn].flat().filter((x): x is string => !!x));
    for (const [node] of walk(r.Properties as Json)) {
      if (!isObject(node)) continue;
      if (typeof node.Ref === 'string' && node.Ref in t.Resources) d.add(node.Ref);
      const ga = node['Fn::GetAtt'];
      if (ga !== undefined) d.add(typeof ga === 'string' ? ga.split('.')[0] : String((ga as Json[])[0]));
      const sub = node['Fn::Sub'];
      if (sub !== undefined) {
        const text = typeof sub === 'string' ? sub : String((sub as Json[])[0]);
        for (const n of subNames(text)) if (n.split('.')[0] in t.Resources) d.add(n.split('.')[0]);
      }
    }
    deps.set(id, d);
  }
  const cycles: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, stack: string[]) => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') {
      cycles.push([...stack.slice(stack.indexOf(id)), id].join(' -> '));
      return;
    }
    state.set(id, 'visiting');
    for (const d of deps.get(id) ?? []) visit(d, [...stack, id]);
    state.set(id, 'done');
  };
  for (const id of deps.keys()) visit(id, []);
  return cycles;
}
