// src/mesh/iptables: render istio-init's rules, parse iptables text, trace a connection. Pure.
export * from './constants.ts';
export type { RuleMatch, Rule, RuleSet, LoadedTables } from './rule-set.ts';
export { parseIptablesSave, loadRuleSet, IptablesParseError } from './iptables-save-parser.ts';
export { printIptablesSave, printRule } from './print-iptables-save.ts';
export { saveFormLines } from './save-form.ts';
export { configFromFields, configFromFlags, flagsFromAnnotations, IstioConfigError } from './istio-iptables-config.ts';
export type { IstioIptablesConfig } from './istio-iptables-config.ts';
export { ISTIO_BEHAVIOURS, ISTIO_ERAS, resolveIstioVersion } from './istio-versions.ts';
export { renderIstioIptables } from './render-istio-iptables.ts';
export type { RenderResult } from './render-istio-iptables.ts';
export { traceConnection, TraceError } from './trace-connection.ts';
export type { Connection, Trace, TraceEffect, TraceHop } from './trace-connection.ts';
export { formatEffect } from './format-effect.ts';
export { istioInitRules } from './istio-init-rules.ts';
