// Which Istio releases a scenario holds for (`lab.istio.holdsFor`, a semver range such as
// `>=1.6` or `1.22 - 1.30`): a run on a release outside it skips the scenario and says why,
// instead of failing it. Pure: semver's own range grammar, no rules of ours.
import semver from 'semver';

/** Why the range is not one semver reads, or undefined. */
export function rangeProblem(range: string): string | undefined {
  return semver.validRange(range) === null ? `"${range}" is not a version range (e.g. ">=1.6", "1.22 - 1.30", "<1.6 || >=1.25")` : undefined;
}

/** A release or era as semver reads it: `1.29.2`, `1.14` (→ 1.14.0). */
export function releaseVersion(release: string): string | undefined {
  return semver.coerce(release)?.version;
}

/** Why a scenario that holds for `range` is not run on `release` (its words for the report), or undefined when it holds. */
export function holdsForProblem(range: string | undefined, release: string, shown = release): string | undefined {
  if (range === undefined) return undefined;
  const v = releaseVersion(release);
  if (v === undefined) return undefined;
  return semver.satisfies(v, range) ? undefined : `the scenario holds for Istio ${range}; this run is Istio ${shown}`;
}
