import { defineFlow, type Flow, type FlowBuilder, type FlowOptions, type Stream } from "./flow.js";
import { defineRule, type Rule } from "./rule.js";
import type { RuleSpec } from "./rule-spec.js";

/**
 * Fixes the event and output types once so that TypeScript infers the rest (local state, global
 * state, phase names) from each rule's spec:
 *
 *   const { rule, flow } = rulesFor<MyEvent, MyOutput>();
 *   const silent = rule({ name: "node-silent", initial: "online", phases: { ... }, ... });
 */
export function rulesFor<E, O>(): {
  rule: <L, G = undefined, P extends string = string>(spec: RuleSpec<E, O, L, G, P>) => Rule<E, O>;
  flow: (name: string, build: (f: FlowBuilder<E>) => Stream<O>, options?: FlowOptions) => Flow<E, O>;
} {
  return {
    rule: (spec) => defineRule(spec),
    flow: (name, build, options) => defineFlow(name, build, options),
  };
}
