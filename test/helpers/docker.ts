// Docker as a test capability. testcontainers is asked once (it answers within
// milliseconds without an engine: "Could not find a working container runtime strategy");
// a test that needs Docker is registered with `dockerTest`, which, without it, is a skip whose
// title says what is missing, never a pass.
import test from 'ava';
import { dockerAvailable } from '../../src/lab/kind/externals.ts';

export const docker = await dockerAvailable();
export const NEEDS_DOCKER = `[needs Docker: ${docker.available ? 'available' : docker.reason}]`;
export const dockerTest = docker.available ? test.serial : test.skip;
