// src/mesh/iptables: render istio-init's rules, parse iptables text, trace a connection. Pure.
export * from './constants.ts';
export type { Counters, RuleOption, RuleMatch, RuleTarget, Rule, ChainDecl, TableSection, RuleSet, LoadedChain, LoadedTables } from './rule-set.ts';
export { parseIptablesSave, loadRuleSet, tokenize, IptablesParseError, MODULE_OPTIONS } from './iptables-save-parser.ts';
export type { ParseOptions } from './iptables-save-parser.ts';
export { printIptablesSave, printRule, printRuleSpec } from './print-iptables-save.ts';
export { toSaveForm, saveFormLines } from './save-form.ts';
export type { SaveFormOptions } from './save-form.ts';
export {
  configFromFields, configFromFlags, flagsFromAnnotations, defaultIstioIptablesConfig, splitList, IstioConfigError, ISTIO_IPTABLES_FLAGS,
} from './istio-iptables-config.ts';
export type { IstioIptablesConfig } from './istio-iptables-config.ts';
export { ISTIO_BEHAVIOURS, ISTIO_ERAS, resolveIstioVersion } from './istio-versions.ts';
export type { IstioBehaviour, IstioEra } from './istio-versions.ts';
export { renderIstioIptables, printRestorePayload } from './render-istio-iptables.ts';
export type { RenderResult, RenderedFamily, RenderedRule } from './render-istio-iptables.ts';
export { traceConnection, TraceError } from './trace-connection.ts';
export type { Connection, Trace, TraceHop, TraceStep, TraceEffect, TraceOptions } from './trace-connection.ts';
export { formatTracePath, formatTraceText, formatEffect } from './format-trace.ts';
export { istioInitRules } from './istio-init-rules.ts';
