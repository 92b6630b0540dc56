// `iptables-save` as a probe: the pod's rules, checked for lines that must be present in order. Pure.

export const iptablesSaveArgv = (): string[] => ['iptables-save'];

/** The first expected rule not found after the ones before it, as a problem. */
export function ruleProblems(saveText: string, rules: readonly string[]): string[] {
  const lines = saveText.split('\n').map((l) => l.trim());
  let at = 0;
  for (const rule of rules) {
    const k = lines.indexOf(rule.trim(), at);
    if (k < 0) return [`rule not found (in order): ${rule}`];
    at = k + 1;
  }
  return [];
}
